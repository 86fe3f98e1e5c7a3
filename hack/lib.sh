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

# The PID cluster-up recorded for a dev-cluster process under $STATE/pids, printed when that PID still runs the
# recorded command (PIDs get reused); fails otherwise.
recorded_pid() { # name
  local pidf="$STATE/pids/$1.pid" pid
  [ -f "$pidf" ] || return 1
  pid=$(cat "$pidf")
  [ -d "/proc/$pid" ] && grep -qa -- "$(cat "$STATE/pids/$1.cmd" 2>/dev/null)" "/proc/$pid/cmdline" 2>/dev/null \
    || return 1
  printf '%s\n' "$pid"
}

gone() { # pid -> 0 once it no longer runs (a zombie waiting for its parent counts as gone)
  [ ! -d "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# Stops one dev-cluster process by its recorded PID: the signal (TERM by default), SIGKILL after 10 s.
stop_one() { # name [signal]
  local pid
  if pid=$(recorded_pid "$1"); then
    info "stopping $1 (pid $pid, SIG${2:-TERM})"
    kill "-${2:-TERM}" "$pid" 2>/dev/null || true
    for _ in $(seq 100); do gone "$pid" && break; sleep 0.1; done
    gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do gone "$pid" && break; sleep 0.1; done
  fi
  rm -f "$STATE/pids/$1.pid" "$STATE/pids/$1.cmd"
}
