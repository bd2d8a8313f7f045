#!/usr/bin/env bash
# Builds (or reuses) the upstream binaries the e2e suite runs: kube-apiserver, kube-controller-manager,
# kube-scheduler (through a generated wrapper module), kwok, kwokctl, istioctl and pilot-discovery (istiod).
# Go builds only upstream code.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.sh
source "$here/versions.sh"
mkdir -p "$K8S_BIN" "$KWOK_BIN" "$ISTIO_BIN" "$PILOT_BIN"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"
log() { printf '%s e2e-build: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
started=$(date +%s)

have() { [ -x "$1" ]; }
P=istio.io/istio/pkg/version
# Both Istio binaries report the pinned version (istioctl compares its own with istiod's).
ISTIO_LDFLAGS="-s -w -X $P.buildVersion=$ISTIO_VERSION -X $P.buildTag=$ISTIO_VERSION -X $P.buildHub=docker.io/istio -X $P.buildStatus=Clean"

if have "$K8S_BIN/kube-apiserver" && have "$K8S_BIN/kube-controller-manager" && have "$K8S_BIN/kube-scheduler"; then
  log "kubernetes $K8S_VERSION cached in $K8S_BIN"
else
  log "building kubernetes $K8S_VERSION control plane (cold: tens of minutes on 2 cores)"
  t0=$(date +%s)
  wrap="$E2E_CACHE/kubewrap-$K8S_VERSION"
  rm -rf "$wrap" && mkdir -p "$wrap" && cd "$wrap"
  go mod init mesh-run.local/kubewrap >/dev/null 2>&1
  minor="${K8S_VERSION#1.}"; minor="${minor%%.*}"; patch="${K8S_VERSION##*.}"
  gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  # k/k requires its staging modules at v0.0.0 with local replaces; point each at its published v0.<minor>.<patch>.
  for m in $(sed -n 's|^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*|\1|p' "$gomod"); do
    go mod edit -replace="$m=$m@v0.$minor.$patch"
  done
  go mod edit -require="k8s.io/kubernetes@v$K8S_VERSION"
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
  GOFLAGS="$GOFLAGS -mod=mod" go mod tidy -e >/dev/null 2>&1 || true
  V=k8s.io/component-base/version
  GOFLAGS="$GOFLAGS -mod=mod" go build -p 2 -ldflags "-s -w -X $V.gitVersion=v$K8S_VERSION -X $V.gitMajor=1 -X $V.gitMinor=$minor -X $V.gitTreeState=clean" \
    -o "$K8S_BIN/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
  log "kubernetes built in $(( $(date +%s) - t0 ))s"
fi

if have "$KWOK_BIN/kwok" && have "$KWOK_BIN/kwokctl"; then
  log "kwok $KWOK_VERSION cached"
else
  t0=$(date +%s)
  log "building kwok and kwokctl $KWOK_VERSION"
  GOBIN="$KWOK_BIN" go install "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@v$KWOK_VERSION"
  log "kwok built in $(( $(date +%s) - t0 ))s"
fi

# One binary of the pinned Istio module into its own folder: istio_binary <folder> <command package path>.
istio_binary() {
  local dir="$1" name="${2##*/}"
  if have "$dir/$name"; then
    log "$name $ISTIO_VERSION cached"
    return
  fi
  local t0
  t0=$(date +%s)
  log "building $name $ISTIO_VERSION"
  GOBIN="$dir" go install -ldflags "$ISTIO_LDFLAGS" "istio.io/istio/$2@$ISTIO_MODULE_VERSION"
  log "$name built in $(( $(date +%s) - t0 ))s"
}
istio_binary "$ISTIO_BIN" istioctl/cmd/istioctl
istio_binary "$PILOT_BIN" pilot/cmd/pilot-discovery

log "binaries ready in $E2E_CACHE ($(( $(date +%s) - started ))s)"
