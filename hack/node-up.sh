#!/usr/bin/env bash
# Starts one node of the dev cluster: containerd (runc, CNI bridge), the kubelet and, where KUBE_PROXY=1,
# kube-proxy in iptables mode. Everything lives under $NODE_DIR ($STATE/nodes/<name>/) with the node's own
# PID folder, containerd socket, kubelet root, CNI configuration and cgroup, so a second node can be started
# beside the first with another KUANTUM_NODE_NAME, KUANTUM_BRIDGE, KUANTUM_POD_CIDR/KUANTUM_NODE_IP and ports.
# Called by hack/cluster-up.sh (the control plane must be up); idempotent. Stop with hack/node-down.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
. "$here/lib.sh"
. "$here/cluster-env.sh"
export PIDS="$NODE_PIDS" LOG_SUFFIX="-$NODE_NAME"
trap stop_started EXIT

for cmd in containerd containerd-shim-runc-v2 runc ctr iptables; do
  command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' is missing: run 'make tools' (hack/install-tools.sh)"
done
[ -x /usr/lib/cni/bridge ] || die "the CNI plugins are missing (apt-get install containernetworking-plugins)"
[ -x "$KUANTUM_BIN/kubelet" ] || die "no kubelet in $KUANTUM_BIN: run 'make tools'"
mkdir -p "$NODE_DIR" "$NODE_PIDS" "$STATE/logs" "$CONTAINERD_DIR" "$KUBELET_DIR" "$NODE_DIR/cni" \
  "$(dirname "$CONTAINERD_SOCK")"
# What this node was started with, for hack/node-down.sh and hack/cluster-component.sh.
cat > "$NODE_DIR/node.env" <<ENV
KUANTUM_NODE_NAME=$NODE_NAME
KUANTUM_POD_CIDR=$POD_CIDR
KUANTUM_NODE_IP=$NODE_IP
KUANTUM_BRIDGE=$BRIDGE
KUANTUM_KUBELET_PORT=$KUBELET_PORT
KUANTUM_KUBELET_HEALTHZ_PORT=$KUBELET_HEALTHZ_PORT
KUANTUM_KUBE_PROXY_HEALTHZ_PORT=$KUBE_PROXY_HEALTHZ_PORT
KUANTUM_KUBE_PROXY_METRICS_PORT=$KUBE_PROXY_METRICS_PORT
KUANTUM_KUBE_PROXY=$KUBE_PROXY
ENV
bash "$here/node-network.sh"

# ---------- credentials: client certificates signed by the cluster's CA (any number of nodes) ----------
client_cert() { # file-stem common-name [organisation]
  [ -s "$1.crt" ] && return 0
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2${3:+/O=$3}" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -out "$1.crt" -days 3650 \
    2>/dev/null
  rm -f "$1.csr"; chmod 600 "$1.key"
}
node_kubeconfig() { # user file-stem
  cat > "$2.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: kuantum-dev
  cluster: {server: "https://127.0.0.1:$APISERVER_PORT", certificate-authority: "$PKI/ca.crt"}
users:
- name: $1
  user: {client-certificate: "$2.crt", client-key: "$2.key"}
contexts:
- name: kuantum-dev
  context: {cluster: kuantum-dev, user: $1}
current-context: kuantum-dev
KC
  chmod 600 "$2.kubeconfig"
}
# The Node authorizer and NodeRestriction know a kubelet by this name and group.
client_cert "$NODE_DIR/kubelet" "system:node:$NODE_NAME" system:nodes
node_kubeconfig "system:node:$NODE_NAME" "$NODE_DIR/kubelet"
# kube-proxy's user is bound to the built-in system:node-proxier role.
client_cert "$NODE_DIR/kube-proxy" system:kube-proxy
node_kubeconfig system:kube-proxy "$NODE_DIR/kube-proxy"

# ---------- the node's cgroup: its pods weigh the least against the control plane beside them ----------
# On a real cluster the control plane has machines of its own; here it shares two CPUs with every pod. The
# kubelet weighs its pods among themselves by their requests under --cgroup-root; that root weighs 2 CPU
# shares (the least a cgroup can), so pods use every cycle the API server, etcd and the operator leave but
# never slow them down.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then  # cgroup v2
  mkdir -p "/sys/fs/cgroup/$NODE_CGROUP"
  echo 1 > "/sys/fs/cgroup/$NODE_CGROUP/cpu.weight" 2>/dev/null || true
else
  for hierarchy in /sys/fs/cgroup/*/; do
    hierarchy=${hierarchy%/}
    [ -L "$hierarchy" ] && continue  # cpu,cpuacct links
    [ -f "$hierarchy/cgroup.procs" ] || continue
    mkdir -p "$hierarchy/$NODE_CGROUP"
    if [ -f "$hierarchy/cpuset.cpus" ]; then  # a new cpuset cgroup starts with no CPUs and no memory nodes
      [ -n "$(cat "$hierarchy/$NODE_CGROUP/cpuset.cpus")" ] || cat "$hierarchy/cpuset.cpus" > "$hierarchy/$NODE_CGROUP/cpuset.cpus"
      [ -n "$(cat "$hierarchy/$NODE_CGROUP/cpuset.mems")" ] || cat "$hierarchy/cpuset.mems" > "$hierarchy/$NODE_CGROUP/cpuset.mems"
    fi
    [ ! -f "$hierarchy/$NODE_CGROUP/cpu.shares" ] || echo 2 > "$hierarchy/$NODE_CGROUP/cpu.shares"
  done
fi

# ---------- containerd ----------
pause=$(bash "$here/images.sh" --pause)
cat > "$CONTAINERD_DIR/config.toml" <<TOML
version = 2
root = "$CONTAINERD_DIR/root"
state = "$CONTAINERD_DIR/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CONTAINERD_DIR/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause"
  # Lowering a container's oom_score_adj needs CAP_SYS_RESOURCE, which a machine like this one's root may
  # lack: without this every sandbox fails in runc ("can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$CONTAINERD_DIR/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni"
    max_conf_num = 1
TOML
start containerd "$CONTAINERD_DIR/config.toml" containerd --config "$CONTAINERD_DIR/config.toml"
wait_healthy containerd 60 ctr --address "$CONTAINERD_SOCK" version

# The sandbox image, and the project's images where `make images` built them.
bash "$here/images.sh" --into "$CONTAINERD_SOCK"

# ---------- CNI: the bridge (its gateway the node's IP), host-local addresses, masquerade, host ports ----------
cat > "$NODE_DIR/cni/10-kuantum.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "kuantum-$NODE_NAME",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$NODE_DIR/cni-ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON

# ---------- kubelet ----------
# Its API client at the rate limits of Kubernetes' scalability tests (as the controller manager's): at the
# default 5 QPS a node starting and finishing dozens of solver pods a minute queues its status updates.
start kubelet "--hostname-override=$NODE_NAME" "$KUANTUM_BIN/kubelet" \
  --kubeconfig "$NODE_DIR/kubelet.kubeconfig" "--hostname-override=$NODE_NAME" --node-ip "$NODE_IP" \
  --address "$NODE_IP" --port "$KUBELET_PORT" --healthz-bind-address 127.0.0.1 --healthz-port "$KUBELET_HEALTHZ_PORT" \
  --read-only-port 0 --root-dir "$KUBELET_DIR" --cert-dir "$KUBELET_DIR/pki" \
  --volume-plugin-dir "$KUBELET_DIR/volume-plugins" \
  --container-runtime remote --container-runtime-endpoint "unix://$CONTAINERD_SOCK" --runtime-request-timeout 5m \
  --pod-infra-container-image "$pause" \
  --cgroup-driver cgroupfs --cgroup-root "/$NODE_CGROUP" --fail-swap-on=false \
  --authentication-token-webhook=false --authorization-mode AlwaysAllow \
  --kube-api-qps 50 --kube-api-burst 100 --max-pods 250 \
  --eviction-hard 'memory.available<100Mi,nodefs.available<1%,imagefs.available<1%' \
  --image-gc-high-threshold 100 --image-gc-low-threshold 99 \
  --node-labels "kuantum.dev/dev-node=$NODE_NAME"
kubectl_admin() { "$KUANTUM_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
node_ready() {
  [ "$(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
wait_healthy kubelet 120 node_ready

# ---------- kube-proxy ----------
if [ "$KUBE_PROXY" = 1 ]; then
  start kube-proxy "--hostname-override=$NODE_NAME" "$KUANTUM_BIN/kube-proxy" \
    --kubeconfig "$NODE_DIR/kube-proxy.kubeconfig" "--hostname-override=$NODE_NAME" --bind-address "$NODE_IP" \
    --proxy-mode iptables --cluster-cidr "$POD_CIDR" --conntrack-max-per-core 0 \
    --healthz-bind-address "127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT" --metrics-bind-address "127.0.0.1:$KUBE_PROXY_METRICS_PORT"
  wait_healthy kube-proxy 60 curl -fs --max-time 2 "http://127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT/healthz"
fi
info "node $NODE_NAME is Ready (containerd $(ctr --address "$CONTAINERD_SOCK" version 2>/dev/null | awk '/Version/ {print $2; exit}'), pods on $BRIDGE $POD_CIDR)"
