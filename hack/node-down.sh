#!/usr/bin/env bash
# Stops one node of the dev cluster (hack/node-up.sh) and cleans up after it, never leaving a container, a
# mount, a cgroup or a firewall rule of it behind:
#   1. where the API server answers, its pods are deleted and the kubelet tears them down (CNI and all);
#   2. kube-proxy and the kubelet stop; kube-proxy's iptables rules are removed;
#   3. containers still running are killed through containerd, which then stops; their shims go with them;
#   4. the node's mounts, pod cgroups, CNI rules and addresses, and its bridge are removed.
# Run it after the controller manager has stopped (cluster-down.sh does), or the Job controller replaces
# the deleted pods. --keep-network keeps the bridge (Azurite may still listen on it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib.sh"
. "$here/cluster-env.sh"
[ -d "$NODE_DIR" ] || exit 0
# The settings the node was started with.
if [ -f "$NODE_DIR/node.env" ]; then set -a; . "$NODE_DIR/node.env"; set +a; . "$here/cluster-env.sh"; fi
export PIDS="$NODE_PIDS" LOG_SUFFIX="-$NODE_NAME"
kubectl_admin() { "$KUANTUM_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" --request-timeout 10s "$@"; }

# 1. The node's pods, deleted while the kubelet runs (bounded: 60 s).
if alive kubelet && kubectl_admin get --raw /readyz >/dev/null 2>&1; then
  pods=$(kubectl_admin get pods -A --field-selector "spec.nodeName=$NODE_NAME" -o name 2>/dev/null | wc -l)
  if [ "$pods" -gt 0 ]; then
    info "deleting the $pods pods of node $NODE_NAME"
    kubectl_admin get pods -A --field-selector "spec.nodeName=$NODE_NAME" \
        -o jsonpath='{range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{"\n"}{end}' 2>/dev/null \
      | while read -r ns name; do
          kubectl_admin -n "$ns" delete pod "$name" --grace-period 1 --wait=false >/dev/null 2>&1 || true
        done
    for _ in $(seq 120); do
      [ "$(kubectl_admin get pods -A --field-selector "spec.nodeName=$NODE_NAME" -o name 2>/dev/null | wc -l)" = 0 ] \
        && break
      sleep 0.5
    done
  fi
fi

# 2. kube-proxy (and its rules) and the kubelet.
if [ -f "$NODE_PIDS/kube-proxy.pid" ]; then
  stop_one kube-proxy
  "$KUANTUM_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
fi
stop_one kubelet

# 3. What still runs in containerd: killed, then containerd stops (a shim ends with its last container).
if alive containerd; then
  ctr_k8s() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }
  for task in $(ctr_k8s tasks ls -q 2>/dev/null); do
    ctr_k8s tasks kill -a -s SIGKILL "$task" >/dev/null 2>&1 || true
  done
  for _ in $(seq 50); do
    [ -z "$(ctr_k8s tasks ls 2>/dev/null | awk 'NR > 1 && $3 != "STOPPED"')" ] && break
    sleep 0.2
  done
  for task in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks delete "$task" >/dev/null 2>&1 || true; done
  stop_one containerd
fi
# Shims of this containerd that outlived it (containerd was SIGKILLed earlier): by their -address argument.
for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" 2>/dev/null || true); do
  kill -KILL "$pid" 2>/dev/null || true
done
# Processes left in the node's pod cgroups (containers whose shim is gone), then the cgroups themselves.
cgroup_dirs() { find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d -name "$NODE_CGROUP" 2>/dev/null; }
for dir in $(cgroup_dirs); do
  find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
done
for dir in $(cgroup_dirs); do
  find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
done

# 4. Mounts under the node's folder (the kubelet's root, secret volumes, container root filesystems), deepest first.
awk -v root="$NODE_DIR/" 'index($2, root) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r mnt; do
  umount -l "$mnt" 2>/dev/null || true
done
# The CNI bridge plugin's masquerade rules (one chain per pod, commented with the network's name), and the
# addresses host-local handed out.
network="kuantum-$NODE_NAME"
{ iptables -t nat -S POSTROUTING 2>/dev/null || true; } | { grep -F "name: \\\"$network\\\"" || true; } | while read -r rule; do
  chain=$(awk '{print $NF}' <<<"$rule")
  eval "iptables -t nat ${rule/-A /-D }" 2>/dev/null || true
  iptables -t nat -F "$chain" 2>/dev/null || true
  iptables -t nat -X "$chain" 2>/dev/null || true
done
rm -rf "$NODE_DIR/cni-ipam" "$(dirname "$CONTAINERD_SOCK")"
[ "${1:-}" = --keep-network ] || bash "$here/node-network.sh" --down
info "node $NODE_NAME stopped"
