#!/usr/bin/env bash
# Stops or (re)starts one component of a dev cluster, for fault tests:
#   hack/cluster-component.sh kill NAME      SIGKILL it (no chance to clean up), by its recorded PID
#   hack/cluster-component.sh stop NAME      SIGTERM, then SIGKILL after 10 s
#   hack/cluster-component.sh start NAME     start it again (hack/cluster-up.sh, which starts what is not running)
#   hack/cluster-component.sh restart NAME   stop, then start
#   hack/cluster-component.sh pid NAME       print its PID when it runs (exit 1 otherwise)
# NAME: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, azurite, node-agent.
# The cluster is the one KUANTUM_STATE and the port variables of hack/cluster-env.sh name, as for cluster-up.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib.sh"
. "$here/cluster-env.sh"

action="${1:-}" name="${2:-}"
case "$name" in
  etcd|kube-apiserver|kube-controller-manager|kube-scheduler|azurite|node-agent) ;;
  *) die "usage: $0 kill|stop|start|restart|pid etcd|kube-apiserver|kube-controller-manager|kube-scheduler|azurite|node-agent" ;;
esac

running_pid() { # prints the recorded PID when it still runs the recorded command (PIDs get reused)
  local pidf="$STATE/pids/$name.pid" pid
  [ -f "$pidf" ] || return 1
  pid=$(cat "$pidf")
  [ -d "/proc/$pid" ] && grep -qa -- "$(cat "$STATE/pids/$name.cmd" 2>/dev/null)" "/proc/$pid/cmdline" 2>/dev/null \
    || return 1
  printf '%s\n' "$pid"
}

gone() { # pid -> 0 once it no longer runs (a zombie waiting for its parent counts as gone)
  [ ! -d "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

stop_it() { # signal
  local pid
  if pid=$(running_pid); then
    info "stopping $name (pid $pid, SIG$1)"
    kill "-$1" "$pid" 2>/dev/null || true
    for _ in $(seq 100); do gone "$pid" && break; sleep 0.1; done
    gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do gone "$pid" && break; sleep 0.1; done
  fi
  rm -f "$STATE/pids/$name.pid" "$STATE/pids/$name.cmd"
}

case "$action" in
  kill) stop_it KILL ;;
  stop) stop_it TERM ;;
  start) bash "$here/cluster-up.sh" ;;
  restart) stop_it TERM; bash "$here/cluster-up.sh" ;;
  pid) running_pid ;;
  *) die "unknown action '$action' (kill, stop, start, restart, pid)" ;;
esac
