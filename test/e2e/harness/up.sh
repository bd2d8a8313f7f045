#!/usr/bin/env bash
# Brings up real Kubernetes control planes (kwok binary runtime: etcd, kube-apiserver, controller-manager,
# scheduler; nodes and pods simulated by kwok) as contexts cluster1..clusterN in a kubeconfig of its own,
# plus stand-ins for a load balancer and for the webhook answers a real data plane would give. Idempotent: a
# second call with the clusters up returns at once.
#   MESH_RUN_E2E_CLUSTERS   how many clusters (default 4: the suite's mixed fleet needs four)
#   MESH_RUN_E2E_NETWORKS   the network of each, in order (default: network1 network2 network1 network2 ...)
# The clusters and their networks are written to $STATE/clusters ("name network" per line) for the suite.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.sh
source "$here/versions.sh"
# shellcheck source=lib.sh
source "$here/lib.sh"
STATE="${MESH_RUN_E2E_STATE:-${TMPDIR:-/tmp}/mesh-run-e2e}"
log() { printf '%s e2e-up: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
started=$(date +%s)

bash "$here/build-binaries.sh"
if ! command -v etcd >/dev/null 2>&1; then
  log "installing Debian's etcd-server (its own service kept from starting)"
  install_etcd_server
fi

mkdir -p "$STATE"
export KUBECONFIG="$STATE/kubeconfig"
export KWOK_WORKDIR="$STATE/kwok"
export KWOK_KUBE_APISERVER_BINARY="$K8S_BIN/kube-apiserver"
export KWOK_KUBE_CONTROLLER_MANAGER_BINARY="$K8S_BIN/kube-controller-manager"
export KWOK_KUBE_SCHEDULER_BINARY="$K8S_BIN/kube-scheduler"
export KWOK_CONTROLLER_BINARY="$KWOK_BIN/kwok"
export KWOK_ETCD_BINARY="$(command -v etcd)"
# Every component listens on loopback only. kwok watches ClusterPortForward objects, through which the
# stand-ins route port-forwards to istiod pods onto the real istiod processes.
printf 'apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokctlConfiguration\noptions:\n  bindAddress: 127.0.0.1\n  enableCRDs: [ClusterPortForward]\n' > "$STATE/kwokctl.yaml"

count="${MESH_RUN_E2E_CLUSTERS:-4}"
case "$count" in ''|*[!0-9]*) echo "MESH_RUN_E2E_CLUSTERS must be a whole number, got: $count" >&2; exit 2 ;; esac
read -r -a networks <<< "${MESH_RUN_E2E_NETWORKS:-}"
clusters=()
: > "$STATE/clusters"
for i in $(seq 1 "$count"); do
  clusters+=("cluster$i")
  echo "cluster$i ${networks[$((i - 1))]:-network$(( (i - 1) % 2 + 1 ))}" >> "$STATE/clusters"
done

for c in "${clusters[@]}"; do
  if kubectl --context "$c" get --raw /readyz >/dev/null 2>&1; then
    await_nodes_ready "$c" 30 "$KWOK_WORKDIR/clusters/$c/logs/kwok-controller.log" || { log "$c is up but not usable: run npm run e2e:down, then up again"; exit 1; }
    log "$c is already up"
    continue
  fi
  log "creating $c"
  t0=$(date +%s)
  "$KWOK_BIN/kwokctl" --config "$STATE/kwokctl.yaml" create cluster --name "$c" --runtime binary --kubeconfig "$KUBECONFIG" --wait 180s >"$STATE/kwokctl-$c.log" 2>&1 \
    || { cat "$STATE/kwokctl-$c.log" >&2; exit 1; }
  kubectl config rename-context "kwok-$c" "$c" >/dev/null
  for i in 0 1; do
    kubectl --context "$c" apply -f - >/dev/null <<NODE
apiVersion: v1
kind: Node
metadata:
  name: $c-node-$i
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {kubernetes.io/os: linux, kubernetes.io/arch: amd64, kubernetes.io/hostname: $c-node-$i, type: kwok}
spec: {}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
NODE
  done
  # Ready only once kwok's controller took the nodes over (it must have started: its port may be taken).
  await_nodes_ready "$c" 30 "$KWOK_WORKDIR/clusters/$c/logs/kwok-controller.log" || { log "$c: its nodes never became Ready; not ready"; exit 1; }
  log "$c up in $(( $(date +%s) - t0 ))s"
done
kubectl config use-context cluster1 >/dev/null

echo "${MESH_RUN_E2E_LB:-ip 500}" > "$STATE/lb-mode"
if [ -f "$STATE/lb.pid" ] && kill -0 "$(cat "$STATE/lb.pid")" 2>/dev/null; then
  log "stand-ins already running"
else
  MESH_RUN_E2E_PILOT="$PILOT_BIN/pilot-discovery" nohup node "$here/cluster-standins.mjs" "$KUBECONFIG" "$STATE/lb-mode" "${clusters[@]}" >"$STATE/standins.log" 2>&1 &
  echo $! > "$STATE/lb.pid"
fi
log "ready in $(( $(date +%s) - started ))s: KUBECONFIG=$KUBECONFIG"
