# Versions of the upstream binaries the e2e harness builds (sourced by the harness scripts).
K8S_VERSION=1.33.5
KWOK_VERSION=0.7.0
ISTIO_VERSION=1.27.3
E2E_CACHE="${MESH_RUN_E2E_CACHE:-$HOME/.cache/mesh-run-e2e}/k8s-${K8S_VERSION}_kwok-${KWOK_VERSION}_istio-${ISTIO_VERSION}"
