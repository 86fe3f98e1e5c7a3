#!/usr/bin/env bash
# Stops exactly the processes cluster-up started, by the PIDs it recorded (SIGTERM, then SIGKILL).
# --purge also deletes the state folder (etcd data, certificates, logs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib.sh"
. "$here/cluster-env.sh"

stop_one() { # name
  local pidf="$STATE/pids/$1.pid"
  [ -f "$pidf" ] || return 0
  local pid; pid=$(cat "$pidf")
  # Only signal the PID if it still runs the command we started (PIDs get reused).
  if [ -d "/proc/$pid" ] && grep -qa -- "$(cat "$STATE/pids/$1.cmd" 2>/dev/null)" "/proc/$pid/cmdline" 2>/dev/null; then
    info "stopping $1 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    if [ -d "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$pidf" "$STATE/pids/$1.cmd"
}

step "stopping the dev cluster (state: $STATE)"
# Reverse start order: the node agent first, so it stops its pods' processes while the API is up.
stop_one gateway  # started by make demo
stop_one operator  # started by make demo
stop_one node-agent
# Pod processes outlive an agent restart on purpose; here they must go too.
[ -d "$STATE/node" ] && python3 "$here/node_agent.py" --state-dir "$STATE/node" --kill-all | sed 's/^/    /' >&2
for c in azurite kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_one "$c"; done
if [ "${1:-}" = "--purge" ]; then rm -rf "$STATE"; info "removed $STATE"; fi
info "dev cluster stopped"
