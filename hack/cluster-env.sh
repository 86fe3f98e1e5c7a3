# Names, ports and paths of the dev cluster; sourced by the hack/ scripts and read by the test harness.
# Every value can be overridden from the environment, so a second cluster (the fault tests') or a second node
# runs beside the first on other ports, another bridge and another pod network.
# shellcheck shell=bash
STATE="$KUANTUM_STATE"
PKI="$STATE/pki"
KUBECONFIG_ADMIN="$STATE/admin.kubeconfig"
ETCD_PORT="${KUANTUM_ETCD_PORT:-23790}"
ETCD_PEER_PORT="${KUANTUM_ETCD_PEER_PORT:-23800}"
APISERVER_PORT="${KUANTUM_APISERVER_PORT:-16443}"
KCM_PORT="${KUANTUM_KCM_PORT:-16457}"
SCHEDULER_PORT="${KUANTUM_SCHEDULER_PORT:-16459}"
AZURITE_PORT="${KUANTUM_AZURITE_PORT:-10000}"
# Services: the API server's `kubernetes` Service is the range's first address.
SERVICE_CIDR="${KUANTUM_SERVICE_CIDR:-10.96.0.0/24}"
KUBERNETES_SERVICE_IP="${KUANTUM_KUBERNETES_SERVICE_IP:-10.96.0.1}"

# ---------- the node (kubelet on containerd, kube-proxy, CNI bridge) ----------
NODE_NAME="${KUANTUM_NODE_NAME:-kuantum-node}"
NODE_DIR="$STATE/nodes/$NODE_NAME"
NODE_PIDS="$NODE_DIR/pids"
# The pods' network: a Linux bridge whose first address is the node's IP, the pods' gateway, and where the
# API server and Azurite are reachable alike from pods and from the host.
POD_CIDR="${KUANTUM_POD_CIDR:-10.244.0.0/16}"
NODE_IP="${KUANTUM_NODE_IP:-10.244.0.1}"
BRIDGE="${KUANTUM_BRIDGE:-kuantum0}"
KUBELET_PORT="${KUANTUM_KUBELET_PORT:-16460}"
KUBELET_HEALTHZ_PORT="${KUANTUM_KUBELET_HEALTHZ_PORT:-16461}"
KUBE_PROXY_HEALTHZ_PORT="${KUANTUM_KUBE_PROXY_HEALTHZ_PORT:-16462}"
KUBE_PROXY_METRICS_PORT="${KUANTUM_KUBE_PROXY_METRICS_PORT:-16463}"
# kube-proxy owns the host's KUBE-* iptables chains: one per machine. A second cluster on the same machine (the
# fault tests') runs without one (its tests need no Service).
KUBE_PROXY="${KUANTUM_KUBE_PROXY:-1}"
CONTAINERD_DIR="$NODE_DIR/containerd"
# A unix socket's path has at most 107 bytes (containerd's ttrpc socket adds ".ttrpc"): under /run, named by a
# hash of the node's folder, not under a state folder that may lie deep in a temporary directory.
containerd_sock_of() { printf '/run/kuantum/%s/containerd.sock\n' "$(printf '%s' "$1" | sha256sum | cut -c1-16)"; }
CONTAINERD_SOCK="$(containerd_sock_of "$NODE_DIR")"
KUBELET_DIR="$NODE_DIR/kubelet"
# The node's pods live under a cgroup of their own in every hierarchy (the kubelet's --cgroup-root).
NODE_CGROUP="kuantum-$NODE_NAME"

# Azurite's documented, public development account key (not a secret). It listens on the node's bridge
# address: the same connection string works for the operator on the host and for solver pods.
AZURITE_HOST="${KUANTUM_AZURITE_HOST:-$NODE_IP}"
AZURITE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://$AZURITE_HOST:$AZURITE_PORT/devstoreaccount1;"

# Images built by `make images` (hack/images.sh): their exported archives, and the references last built.
IMAGES_DIR="$KUANTUM_CACHE/images"
