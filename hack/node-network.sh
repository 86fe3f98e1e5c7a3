#!/usr/bin/env bash
# The node's pod network, before anything listens on it: a Linux bridge whose first address is the node's IP
# (the CNI bridge plugin adopts it and makes it the pods' gateway), forwarding on, bridged traffic through
# iptables (kube-proxy's Service rules apply to pod-to-Service traffic). Idempotent.
#   hack/node-network.sh         create it
#   hack/node-network.sh --down  delete it (after the node's pods are gone)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib.sh"
. "$here/cluster-env.sh"

prefix=${POD_CIDR#*/}
if [ "${1:-}" = "--down" ]; then
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link delete "$BRIDGE" type bridge 2>/dev/null && info "deleted bridge $BRIDGE" || true
  fi
  exit 0
fi

command -v ip >/dev/null 2>&1 || die "'ip' is missing (apt-get install iproute2)"
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip link add "$BRIDGE" type bridge || die "cannot create bridge $BRIDGE (needs root and the bridge module)"
fi
# Read first, then match: `ip ... | grep -q` under pipefail fails at random (grep exits early, ip gets SIGPIPE).
addresses="$(ip -4 addr show dev "$BRIDGE")"
[[ "$addresses" == *"inet $NODE_IP/$prefix "* ]] || ip addr add "$NODE_IP/$prefix" dev "$BRIDGE"
ip link set "$BRIDGE" up
# Best effort: a container without these sysctls writable may already have them set (checked below).
sysctl -qw net.ipv4.ip_forward=1 2>/dev/null || true
sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || modprobe br_netfilter 2>/dev/null || true
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || die "IPv4 forwarding is off and cannot be turned on (sysctl net.ipv4.ip_forward=1)"
if [ "$KUBE_PROXY" = 1 ] && [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" != 1 ]; then
  die "bridged traffic bypasses iptables (net.bridge.bridge-nf-call-iptables): load br_netfilter"
fi
