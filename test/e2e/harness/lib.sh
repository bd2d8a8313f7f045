# Functions of the e2e harness (sourced by up.sh and down.sh, and by test/e2e-harness.test.ts, which runs them
# against stand-in commands). Each acts only on what this harness started: nothing here signals a process by
# its name, so a second harness on the same machine (its etcds, its API servers) is never touched.

# Debian's etcd-server starts a system etcd on :2379 when it is installed; the clusters run their own. A
# policy-rc.d that refuses every start (invoke-rc.d and deb-systemd-invoke both ask it) keeps it from starting,
# so nothing needs stopping afterwards. An existing policy is left as it is. POLICY_RC_D: tests only.
install_etcd_server() {
  local policy="${POLICY_RC_D:-/usr/sbin/policy-rc.d}" ours="" status=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# mesh-run e2e harness: no service starts while etcd-server installs\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    ours=1
  fi
  # Another harness may be installing it right now: wait for dpkg's lock rather than fail.
  { apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq etcd-server >/dev/null; } || status=$?
  if [ -n "$ours" ]; then rm -f "$policy"; fi
  return "$status"
}

# Waits until every node of kube context $1 is Ready ($2 seconds at most). When one is not, says why and fails:
# each node's Ready condition and the last lines of the kwok controller's log ($3), since a kwok controller that
# could not start (its port taken) leaves every node NotReady, and istioctl install then waits minutes for
# pods that never run.
await_nodes_ready() {
  local context="$1" timeout="${2:-60}" log="${3:-}"
  if kubectl --context "$context" wait --for=condition=Ready node --all --timeout="${timeout}s" >/dev/null 2>&1; then
    return 0
  fi
  printf '%s e2e-up: %s: not every node is Ready after %ss:\n' "$(date +%H:%M:%S)" "$context" "$timeout" >&2
  kubectl --context "$context" get nodes -o \
    'jsonpath={range .items[*]}  {.metadata.name}: Ready={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].message}{"\n"}{end}' |
    sed 's/Ready= *$/Ready unset: no kwok controller took the node over/' >&2 || true
  if [ -n "$log" ] && [ -f "$log" ]; then
    printf '  the kwok controller (%s) last said:\n' "$log" >&2
    tail -n 15 "$log" | sed 's/^/    /' >&2
  fi
  return 1
}

# Stops the process whose pid file is $1, if it is still one this harness started: its command line must
# name a path in this harness's state directory ($2), so a pid the system gave to another process since, or a
# process of another harness (another state directory), is left alone.
# $3: the signal (default TERM).
stop_pid_file() {
  local file="$1" state="$2" signal="${3:-TERM}" pid
  [ -f "$file" ] || return 0
  pid="$(tr -dc '0-9' <"$file")"
  [ -n "$pid" ] || return 0
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "${state%/}/"; then
    kill -s "$signal" "$pid" 2>/dev/null || true
  fi
}
