#!/usr/bin/env bash
# Stops or (re)starts one component of a dev cluster, for fault tests:
#   hack/cluster-component.sh kill NAME      SIGKILL it (no chance to clean up), by its recorded PID
#   hack/cluster-component.sh stop NAME      SIGTERM, then SIGKILL after 10 s
#   hack/cluster-component.sh start NAME     start it again (hack/cluster-up.sh, which starts what is not running)
#   hack/cluster-component.sh restart NAME   stop, then start
#   hack/cluster-component.sh pid NAME       print its PID when it runs (exit 1 otherwise)
# NAME: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, azurite, or one of the node's
# (KUANTUM_NODE_NAME, default the first): containerd, kubelet, kube-proxy.
# The cluster is the one KUANTUM_STATE and the port variables of hack/cluster-env.sh name, as for cluster-up.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib.sh"
. "$here/cluster-env.sh"

action="${1:-}" name="${2:-}"
case "$name" in
  etcd|kube-apiserver|kube-controller-manager|kube-scheduler|azurite) ;;
  containerd|kubelet|kube-proxy)
    if [ -f "$NODE_DIR/node.env" ]; then set -a; . "$NODE_DIR/node.env"; set +a; . "$here/cluster-env.sh"; fi
    export PIDS="$NODE_PIDS" LOG_SUFFIX="-$NODE_NAME" ;;
  *) die "usage: $0 kill|stop|start|restart|pid NAME (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, azurite, containerd, kubelet, kube-proxy)" ;;
esac

case "$action" in
  kill) stop_one "$name" KILL ;;
  stop) stop_one "$name" TERM ;;
  start) bash "$here/cluster-up.sh" ;;
  restart) stop_one "$name" TERM; bash "$here/cluster-up.sh" ;;
  pid) recorded_pid "$name" ;;
  *) die "unknown action '$action' (kill, stop, start, restart, pid)" ;;
esac
