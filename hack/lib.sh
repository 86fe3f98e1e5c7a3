# Shared helpers for the hack/ scripts. Sourced, never executed.
# shellcheck shell=bash

KUANTUM_CACHE="${KUANTUM_CACHE:-$HOME/.cache/kuantum}"
KUANTUM_STATE="${KUANTUM_STATE:-$HOME/.local/state/kuantum/devcluster}"
KUANTUM_BIN="$KUANTUM_CACHE/bin"

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() { printf 'kuantum: %s\n' "$*" >&2; exit 1; }

# Runs apt-get as root (or through sudo) with no prompts; explains in one line when that is impossible.
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root or sudo to install Debian packages: $*"
    sudo="sudo -n"
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* by hand (Debian/Ubuntu expected)"
  if [ -z "${KUANTUM_APT_UPDATED:-}" ]; then
    $sudo apt-get update -qq >/dev/null 2>&1 || die "apt-get update failed: no network access to the Debian mirror?"
    export KUANTUM_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null 2>&1 \
    || die "apt-get install $* failed (try it by hand to see why)"
}

# Stops one dev-cluster process by the PID cluster-up recorded under $STATE/pids (SIGTERM, then SIGKILL).
stop_one() { # name
  local pidf="$STATE/pids/$1.pid"
  [ -f "$pidf" ] || return 0
  local pid; pid=$(cat "$pidf")
  # Only signal the PID if it still runs the command we started (PIDs get reused).
  if [ -d "/proc/$pid" ] && grep -qa -- "$(cat "$STATE/pids/$1.cmd" 2>/dev/null)" "/proc/$pid/cmdline" 2>/dev/null; then
    info "stopping $1 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    if [ -d "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$pidf" "$STATE/pids/$1.cmd"
}
