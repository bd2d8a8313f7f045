# Versions of the upstream binaries the e2e harness builds (sourced by the harness scripts).
K8S_VERSION=1.33.5
KWOK_VERSION=0.7.0
# istio.io/istio has no semver tags, and the module proxy here serves only pinned pseudo-versions:
# this one is a commit from the 1.31 release candidate (its go.mod requires istio.io/api v1.31.0-rc.0-...).
ISTIO_MODULE_VERSION=v0.0.0-20260827124520-eed52ebb66ad
ISTIO_VERSION=1.31.0-rc.0.eed52eb
E2E_CACHE="${MESH_RUN_E2E_CACHE:-$HOME/.cache/mesh-run-e2e}"
# One folder per component and version, so changing one version rebuilds only that component.
K8S_BIN="$E2E_CACHE/kubernetes-$K8S_VERSION"
KWOK_BIN="$E2E_CACHE/kwok-$KWOK_VERSION"
ISTIO_BIN="$E2E_CACHE/istioctl-$ISTIO_VERSION"
# istiod's binary, from the same Istio module as istioctl (its own folder: an istioctl cache stays valid).
PILOT_BIN="$E2E_CACHE/pilot-discovery-$ISTIO_VERSION"
