#!/usr/bin/env bash
# Stops exactly what cluster-up started, by the PIDs it recorded (SIGTERM, then SIGKILL), and cleans up after
# the node (hack/node-down.sh: its pods, containers, mounts, cgroups, firewall rules and bridge).
# --purge also deletes the state folder (etcd data, certificates, logs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib.sh"
. "$here/cluster-env.sh"

step "stopping the dev cluster (state: $STATE)"
# The controllers first, so that nothing replaces the pods the node's shutdown deletes.
for c in kube-controller-manager kube-scheduler; do stop_one "$c"; done
for node in "$STATE"/nodes/*/; do
  [ -d "$node" ] || continue
  node=$(basename "$node")
  # Each node's own settings were those it was started with (cluster-env.sh derives them from its name and
  # the environment); the first node's are this environment's.
  KUANTUM_NODE_NAME="$node" bash "$here/node-down.sh" --keep-network
done
for c in azurite kube-apiserver etcd; do stop_one "$c"; done
bash "$here/node-network.sh" --down
if [ "${1:-}" = "--purge" ]; then rm -rf "$STATE"; info "removed $STATE"; fi
info "dev cluster stopped"
