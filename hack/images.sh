#!/usr/bin/env bash
# `make images`: builds the container images from the project's Dockerfiles with buildah, on a Debian base image
# made here with mmdebstrap (no image registry is reachable), and imports them into the dev node's containerd.
#
#   kuantum-operator  from Dockerfile                 --build-arg PYTHON_IMAGE=<base>
#   kuantum-solver    from solver-image/Dockerfile    --build-arg PYTHON_IMAGE=<base> [--build-arg EXTRAS=gpu]
#   kuantum-pause     the kubelet's pod sandbox image (build/pause/linux/pause.c of the Kubernetes source)
#
# Each image is tagged by a hash of its inputs (build context, Dockerfile, base image, build arguments) and built
# only when no image of that tag exists; the references of the last build are written to build/images.env,
# which the dev cluster, `make demo` and the tests read.
#   hack/images.sh [--gpu]      build (the solver's GPU variant too with --gpu) and import into running nodes
#   hack/images.sh --import     only import the images of build/images.env into the running node(s)
#   hack/images.sh --into SOCK  import them (and the pause image) into the containerd at SOCK (hack/node-up.sh)
#   hack/images.sh --pause      print the pause image's reference (building it when missing)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
. "$here/lib.sh"
. "$here/cluster-env.sh"

export STORAGE_DRIVER="${STORAGE_DRIVER:-overlay}"
ENV_FILE="$repo/build/images.env"
BASE_SUITE=bookworm
BASE_PACKAGES=python3,python3-venv,python-is-python3,ca-certificates

sha() { sha256sum | cut -c1-16; }

# A hash of the files of a build context, as a Dockerfile's COPY sees them (what .dockerignore keeps; the
# ignore files here list folders and suffixes only, which is all this matches).
context_hash() { # dir dockerignore
  local dir=$1 ignore=$2 pattern
  local -a prune=()
  while IFS= read -r pattern; do
    pattern=${pattern#\*\*/}; pattern=${pattern%/}
    case "$pattern" in ''|'#'*) continue ;; esac
    prune+=(-o -path "./$pattern")
    [[ "$pattern" == */* ]] || prune+=(-o -name "$pattern")
  done < "$ignore"
  (cd "$dir" && find . \( -false "${prune[@]}" \) -prune -o -type f -print | LC_ALL=C sort \
     | xargs -d '\n' sha256sum) | sha
}

image_exists() { buildah images -q "$1" >/dev/null 2>&1 && [ -n "$(buildah images -q "$1" 2>/dev/null)" ]; }

archive_of() { # ref -> its exported archive
  local ref=$1; ref=${ref#localhost/}; printf '%s/%s.tar\n' "$IMAGES_DIR" "${ref//[:\/]/_}"
}

export_archive() { # ref
  local archive; archive=$(archive_of "$1")
  [ -s "$archive" ] && return 0
  mkdir -p "$IMAGES_DIR"
  # Only the newest archive of each image is kept.
  rm -f "$IMAGES_DIR/$(basename "${archive%_*}")"_*.tar
  buildah push -q "$1" "oci-archive:$archive.tmp:$1" >/dev/null
  mv "$archive.tmp" "$archive"
}

# The Debian base the Dockerfiles build FROM: python3.11 with its venv module, like the public Python image.
# Built with the host's apt sources, and trusting the host's extra CA certificates (a proxy that re-signs TLS
# must be trusted inside the build too; pip is told to use the system's bundle).
base_image() {
  local sources cas key tag ref
  sources=$(ls /etc/apt/sources.list.d/*.sources 2>/dev/null | xargs -r grep -l '^Types: deb$' | head -1 || true)
  [ -n "$sources" ] || sources=/etc/apt/sources.list
  cas=$(find /usr/local/share/ca-certificates -name '*.crt' 2>/dev/null | LC_ALL=C sort || true)
  key=$( { echo "$BASE_SUITE $BASE_PACKAGES v1"; cat "$sources"; [ -z "$cas" ] || cat $cas; } | sha)
  tag="$BASE_SUITE-$key"; ref="localhost/kuantum-base:$tag"
  if ! image_exists "$ref"; then
    step "building the base image $ref (mmdebstrap $BASE_SUITE + python3; about a minute)" >&2
    local tmp; tmp=$(mktemp -d)
    local -a hooks=(--customize-hook='mkdir -p "$1/usr/local/share/ca-certificates"')
    [ -z "$cas" ] || hooks+=(--customize-hook="copy-in $(echo $cas) /usr/local/share/ca-certificates")
    hooks+=(--customize-hook='chroot "$1" update-ca-certificates >/dev/null 2>&1'
            --customize-hook='printf "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n" > "$1/etc/pip.conf"'
            --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*')
    mmdebstrap --quiet --variant=minbase --include="$BASE_PACKAGES" \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' "${hooks[@]}" \
      --format=tar "$BASE_SUITE" "$tmp/rootfs.tar" "$sources" >&2 \
      || die "mmdebstrap could not make the base image (Debian mirror reachable?)"
    printf 'FROM scratch\nADD rootfs.tar /\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8\nCMD ["python3"]\n' \
      > "$tmp/Containerfile"
    buildah bud -q --layers=false -t "$ref" -f "$tmp/Containerfile" "$tmp" >/dev/null
    rm -rf "$tmp"
  fi
  printf '%s\n' "$ref"
}

pause_image() {
  local bin="$KUANTUM_BIN/pause" tag ref
  [ -x "$bin" ] || die "no $bin: run hack/build-kubernetes.sh (make tools)"
  tag="3.4.1-$(sha < "$bin")"; ref="localhost/kuantum-pause:$tag"
  if ! image_exists "$ref"; then
    local tmp; tmp=$(mktemp -d)
    cp "$bin" "$tmp/pause"
    printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' > "$tmp/Containerfile"
    buildah bud -q --layers=false -t "$ref" -f "$tmp/Containerfile" "$tmp" >/dev/null
    rm -rf "$tmp"
  fi
  printf '%s\n' "$ref"
}

build_image() { # name context dockerfile base [build-arg ...]
  local name=$1 context=$2 dockerfile=$3 base=$4; shift 4
  local base_id key ref start
  base_id=$(buildah images -q --no-trunc "$base" | head -1)
  key=$( { context_hash "$context" "$context/.dockerignore"; sha256sum < "$dockerfile"; echo "$base_id $*"; } | sha)
  ref="localhost/$name:$key"
  if ! image_exists "$ref"; then
    step "building $ref from ${dockerfile#"$repo"/}" >&2
    start=$SECONDS
    local -a args=(--build-arg "PYTHON_IMAGE=$base")
    for arg in "$@"; do args+=(--build-arg "$arg"); done
    buildah bud --layers -f "$dockerfile" -t "$ref" "${args[@]}" "$context" > "$IMAGES_DIR/$name.build.log" 2>&1 \
      || { tail -n 30 "$IMAGES_DIR/$name.build.log" >&2; die "building $name failed (log: $IMAGES_DIR/$name.build.log)"; }
    info "built $ref in $((SECONDS - start)) s" >&2
  fi
  printf '%s\n' "$ref"
}

# Every change to a context makes a new image (the operator's about 0.5 GB, the solver's 1.7 GB) and a builder stage
# beside it: on a disk the node shares, that fills it until the kubelet refuses pods (DiskPressure). Kept: the
# images build/images.env names, the newest KUANTUM_KEEP_BUILDS (3) of each image, and as many builder stages
# times two (the layer cache that makes the next build of a small change fast).
prune_builds() {
  local keep=${KUANTUM_KEEP_BUILDS:-3} name
  for name in kuantum-operator kuantum-solver kuantum-solver-gpu; do
    buildah images --noheading --filter "reference=localhost/$name" --format '{{.Name}}:{{.Tag}}' 2>/dev/null \
      | tail -n +$((keep + 1)) | grep -vxF -f <(sed -n 's/^[A-Z_]*=//p' "$ENV_FILE") \
      | xargs -r buildah rmi -f >/dev/null 2>&1 || true
  done
  buildah images --noheading --filter dangling=true -q 2>/dev/null | tail -n +$((2 * keep + 1)) \
    | xargs -r buildah rmi -f >/dev/null 2>&1 || true
}

# Imports archives into one node's containerd, skipping images it already has.
import_into() { # containerd-socket ref...
  local sock=$1 ref have; shift
  have=$(ctr --address "$sock" -n k8s.io images ls -q 2>/dev/null || true)
  for ref in "$@"; do
    grep -qxF "$ref" <<<"$have" && continue
    export_archive "$ref"
    info "importing $ref into $(dirname "$sock")"
    ctr --address "$sock" -n k8s.io images import "$(archive_of "$ref")" >/dev/null \
      || die "ctr could not import $ref"
  done
}

# The images of build/images.env (and the pause image) into one node's containerd.
import_current() { # containerd-socket
  local -a refs=("$(pause_image)")
  if [ -f "$ENV_FILE" ]; then
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    refs+=("$KUANTUM_OPERATOR_IMAGE" "$KUANTUM_SOLVER_IMAGE" ${KUANTUM_SOLVER_GPU_IMAGE:+"$KUANTUM_SOLVER_GPU_IMAGE"})
  fi
  import_into "$1" "${refs[@]}"
  prune_node "$1" "${refs[@]}"
}

# Our images a node holds that are neither current nor used by a container go, with the image-id refs the CRI
# plugin keeps for them (the same manifest digest): the dev node runs no kubelet image GC, so every build ever
# imported would otherwise stay.
prune_node() { # containerd-socket current-ref...
  local sock=$1 table keep stale used; shift
  table=$(ctr --address "$sock" -n k8s.io images ls 2>/dev/null | awk 'NR > 1 {print $1, $3}')
  used=$(ctr --address "$sock" -n k8s.io containers ls 2>/dev/null | awk 'NR > 1 {print $2}' | sort -u)
  keep=$(printf '%s\n' "$@" $used)
  # Digests of the kept refs; the stale ones: our named refs not kept, whose digest no kept ref shares.
  local kept_digests stale_digests
  kept_digests=$(awk 'NR == FNR {k[$1]; next} ($1 in k) {print $2}' <(echo "$keep") <(echo "$table") | sort -u)
  stale_digests=$(awk '$1 ~ /^localhost\/kuantum-/ {print $2}' <<<"$table" | sort -u | grep -vxF -f <(echo "$kept_digests") || true)
  [ -n "$stale_digests" ] || return 0
  stale=$(awk 'NR == FNR {d[$1]; next} ($2 in d) {print $1}' <(echo "$stale_digests") <(echo "$table"))
  info "removing $(grep -c '^localhost/' <<<"$stale" || true) old image(s) from $(dirname "$sock")"
  xargs -r ctr --address "$sock" -n k8s.io images rm <<<"$stale" >/dev/null 2>&1 || true
}

# Every running node of this cluster (one folder each under $STATE/nodes/).
import_running() {
  local node sock
  for node in "$STATE"/nodes/*/; do
    sock=$(containerd_sock_of "${node%/}")
    [ -S "$sock" ] && ctr --address "$sock" version >/dev/null 2>&1 && import_current "$sock"
  done
  return 0
}

case "${1:-}" in
  --import) import_running; exit 0 ;;
  --into) import_current "${2:?--into needs a containerd socket}"; exit 0 ;;
  --pause) pause_image; exit 0 ;;  # the pause image's reference (built when missing), for the node
  ""|--gpu) ;;
  *) die "usage: $0 [--gpu | --import | --into SOCKET | --pause]" ;;
esac
for cmd in buildah mmdebstrap ctr; do
  command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' is missing: run 'make tools' (hack/install-tools.sh)"
done
mkdir -p "$IMAGES_DIR" "$repo/build"
started=$SECONDS
base=$(base_image)
pause=$(pause_image)
operator=$(build_image kuantum-operator "$repo" "$repo/Dockerfile" "$base")
solver=$(build_image kuantum-solver "$repo/solver-image" "$repo/solver-image/Dockerfile" "$base")
gpu=""
[ "${1:-}" = --gpu ] && gpu=$(build_image kuantum-solver-gpu "$repo/solver-image" "$repo/solver-image/Dockerfile" \
  "$base" EXTRAS=gpu)
cat > "$ENV_FILE.tmp" <<ENV
KUANTUM_BASE_IMAGE=$base
KUANTUM_PAUSE_IMAGE=$pause
KUANTUM_OPERATOR_IMAGE=$operator
KUANTUM_SOLVER_IMAGE=$solver
ENV
[ -z "$gpu" ] || echo "KUANTUM_SOLVER_GPU_IMAGE=$gpu" >> "$ENV_FILE.tmp"
mv "$ENV_FILE.tmp" "$ENV_FILE"
prune_builds
import_running
info "images ready in $((SECONDS - started)) s: $operator $solver${gpu:+ $gpu} (build/images.env)"
