#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy from Debian's
# `kubernetes` source package (1.20.x), and the pod sandbox's `pause` from the same source (no registry serves
# its image here), and caches them under $KUANTUM_CACHE/bin. Runs once per machine.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

want=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy pause)
missing=0
for b in "${want[@]}"; do [ -x "$KUANTUM_BIN/$b" ] || missing=1; done
if [ "$missing" = 0 ]; then info "kubernetes binaries cached in $KUANTUM_BIN"; exit 0; fi
command -v gcc >/dev/null 2>&1 || apt_install gcc libc6-dev

step "building kubernetes (control plane, kubelet, kube-proxy) from Debian sources (one time, ~8-12 min)"
srcs=/etc/apt/sources.list.d/kuantum-deb-src.sources
if ! grep -rqs '^Types: deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  [ -f /etc/apt/sources.list.d/debian.sources ] || die "no /etc/apt/sources.list.d/debian.sources to derive a deb-src entry from"
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$srcs.tmp" \
    || die "cannot write $srcs (need root)"
  mv "$srcs.tmp" "$srcs"
  unset KUANTUM_APT_UPDATED
fi
apt_install golang-go dpkg-dev rsync golang-github-modern-go-reflect2-dev make

work="$KUANTUM_CACHE/k8s-src"
rm -rf "$work"; mkdir -p "$work"; cd "$work"
info "downloading the kubernetes source package"
apt-get source --download-only kubernetes >/dev/null 2>&1 || die "apt-get source kubernetes failed (is a deb-src entry for bookworm main reachable?)"
dpkg-source -x kubernetes_*.dsc >/dev/null 2>&1 || die "dpkg-source could not unpack the kubernetes source package"
src=$(ls -d "$work"/kubernetes-*/ | head -1); src=${src%/}

# The vendored reflect2 1.0.1 crashes the apiserver on Go >= 1.18 when a custom resource is created.
info "replacing vendored modern-go/reflect2 with Debian's 1.0.2"
r2=vendor/github.com/modern-go/reflect2
rm -rf "$src/$r2"; mkdir -p "$src/$r2"
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go "$src/$r2/"
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.s "$src/$r2/" 2>/dev/null || true

mkdir -p "$src/.go/src/k8s.io"; ln -sfn "$src" "$src/.go/src/k8s.io/kubernetes"
info "compiling (log: $work/build.log)"
(cd "$src" && GOPATH="$src/.go" CGO_ENABLED=0 GO111MODULE=off GOFLAGS=-mod=vendor \
   make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubelet cmd/kube-proxy") > "$work/build.log" 2>&1 \
  || { tail -30 "$work/build.log" >&2; die "kubernetes build failed; full log in $work/build.log"; }
# The sandbox's process: static, so its image needs nothing else (as upstream builds it).
gcc -Os -static -DVERSION=3.4.1 -o "$src/_output/bin/pause" "$src/build/pause/linux/pause.c" \
  || die "compiling build/pause/linux/pause.c failed (gcc and libc6-dev installed?)"
mkdir -p "$KUANTUM_BIN"
for b in "${want[@]}"; do install -m 0755 "$src/_output/bin/$b" "$KUANTUM_BIN/$b"; done
rm -rf "$work"
info "cached: $(ls "$KUANTUM_BIN" | tr '\n' ' ')"
