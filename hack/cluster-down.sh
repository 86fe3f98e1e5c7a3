#!/usr/bin/env bash
# Stops exactly the processes cluster-up started, by the PIDs it recorded (SIGTERM, then SIGKILL).
# --purge also deletes the state folder (etcd data, certificates, logs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib.sh"
. "$here/cluster-env.sh"

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
