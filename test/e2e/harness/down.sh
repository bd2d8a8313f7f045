#!/usr/bin/env bash
# Stops everything up.sh started and removes its state; safe to run twice.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.sh"
# shellcheck source=lib.sh
source "$here/lib.sh"
STATE="${MESH_RUN_E2E_STATE:-${TMPDIR:-/tmp}/mesh-run-e2e}"
export KUBECONFIG="$STATE/kubeconfig" KWOK_WORKDIR="$STATE/kwok"
stop_pid_file "$STATE/lb.pid" "$STATE"
# Every cluster kwokctl made in our state directory, however many up.sh was asked for.
if [ -x "$KWOK_BIN/kwokctl" ]; then
  for c in $("$KWOK_BIN/kwokctl" get clusters 2>/dev/null); do
    "$KWOK_BIN/kwokctl" delete cluster --name "$c" --kubeconfig "$KUBECONFIG" >/dev/null 2>&1
  done
fi
# What is still running by the pid files our processes left (a crashed kwokctl leaves its children), each
# checked to be ours: never a process found by its name, which could be another harness's.
for f in "$STATE"/kwok/clusters/*/pids/*.pid; do stop_pid_file "$f" "$STATE"; done
# The real istiod processes the stand-ins started (each wrote $STATE/istiod/<context>/<pod>/pid). SIGKILL: with
# its API server gone, istiod's graceful shutdown can wait on it for long.
for f in "$STATE"/istiod/*/*/pid; do stop_pid_file "$f" "$STATE" KILL; done
rm -rf "$STATE"
echo "e2e-down: stopped" >&2
