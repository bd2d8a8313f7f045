#!/usr/bin/env bash
# Stops everything up.sh started and removes its state; safe to run twice.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.sh"
STATE="${MESH_RUN_E2E_STATE:-${TMPDIR:-/tmp}/mesh-run-e2e}"
export KUBECONFIG="$STATE/kubeconfig" KWOK_WORKDIR="$STATE/kwok"
if [ -f "$STATE/lb.pid" ]; then kill "$(cat "$STATE/lb.pid")" 2>/dev/null; fi
# Every cluster kwokctl made in our state directory, however many up.sh was asked for.
if [ -x "$KWOK_BIN/kwokctl" ]; then
  for c in $("$KWOK_BIN/kwokctl" get clusters 2>/dev/null); do
    "$KWOK_BIN/kwokctl" delete cluster --name "$c" --kubeconfig "$KUBECONFIG" >/dev/null 2>&1
  done
fi
# Anything still running from our state directory (a crashed kwokctl leaves its children).
pkill -f "$STATE/kwok" 2>/dev/null
# The real istiod processes the stand-ins started (their --kubeconfig lies under $STATE/istiod). SIGKILL: with
# its API server gone, istiod's graceful shutdown can wait on it for long.
pkill -KILL -f "$STATE/istiod" 2>/dev/null
rm -rf "$STATE"
echo "e2e-down: stopped" >&2
