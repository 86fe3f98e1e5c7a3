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

# Where a cluster's process records its PID and the command that recognises it: $PIDS (default
# $STATE/pids; a node's processes use the node's own folder, so a second node may run beside the first).
pids_dir() { printf '%s\n' "${PIDS:-$STATE/pids}"; }
# Its log: $STATE/logs/<name><LOG_SUFFIX>.log (a node's processes: <name>-<node>.log).
log_of() { printf '%s\n' "$STATE/logs/$1${LOG_SUFFIX:-}.log"; }

# The PID recorded for a dev-cluster process, printed when that PID still runs the recorded command
# (PIDs get reused); fails otherwise.
recorded_pid() { # name
  local dir pidf pid
  dir=$(pids_dir); pidf="$dir/$1.pid"
  [ -f "$pidf" ] || return 1
  pid=$(cat "$pidf")
  [ -d "/proc/$pid" ] && grep -qa -- "$(cat "$dir/$1.cmd" 2>/dev/null)" "/proc/$pid/cmdline" 2>/dev/null \
    || return 1
  printf '%s\n' "$pid"
}

gone() { # pid -> 0 once it no longer runs (a zombie waiting for its parent counts as gone)
  [ ! -d "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# Stops one dev-cluster process by its recorded PID: the signal (TERM by default), SIGKILL after 10 s.
stop_one() { # name [signal]
  local pid dir
  dir=$(pids_dir)
  if pid=$(recorded_pid "$1"); then
    info "stopping $1 (pid $pid, SIG${2:-TERM})"
    kill "-${2:-TERM}" "$pid" 2>/dev/null || true
    for _ in $(seq 100); do gone "$pid" && break; sleep 0.1; done
    gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do gone "$pid" && break; sleep 0.1; done
  fi
  rm -f "$dir/$1.pid" "$dir/$1.cmd"
}

alive() { recorded_pid "$1" >/dev/null; }  # name -> 0 if its recorded PID runs the recorded command

# What a start began, newest first: a start that fails stops exactly these (stop_started, on EXIT), so a retry
# begins clean and nothing is left running; what was already running when it began is left alone.
STARTED=()
start() { # name marker cmd... ; marker is a string of the command line used to recognise the PID later
  local name=$1 marker=$2 dir; shift 2
  dir=$(pids_dir); mkdir -p "$dir" "$STATE/logs"
  if alive "$name"; then info "$name already running (pid $(cat "$dir/$name.pid"))"; return 0; fi
  info "starting $name"
  # setsid: its own session, so it outlives `make` and is stopped only by cluster-down, by PID.
  setsid "$@" >>"$(log_of "$name")" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid" > "$dir/$name.pid"
  printf '%s' "$marker" > "$dir/$name.cmd"
  STARTED=("$(pids_dir):$name" "${STARTED[@]}")
  # Until its exec the forked shell's command line is this script's: a liveness check then would take the
  # process for dead (seen: kube-controller-manager "did not become healthy" in under a second, no log line).
  for _ in $(seq 50); do alive "$name" && return 0; gone "$pid" && return 0; sleep 0.1; done
}
stop_started() {
  local status=$? entry
  if [ "$status" -ne 0 ] && [ "${#STARTED[@]}" -gt 0 ]; then
    info "stopping what this failed start started: ${STARTED[*]##*:}"
    for entry in "${STARTED[@]}"; do PIDS="${entry%:*}" stop_one "${entry##*:}"; done
  fi
}

# A process's progress: the size of its log and the CPU time it used (it changes while the process works).
progress_of() { # name
  local pid size cpu
  size=$(stat -c %s "$(log_of "$1")" 2>/dev/null || echo 0)
  pid=$(recorded_pid "$1" 2>/dev/null) || { echo "$size"; return 0; }
  cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
  echo "$size/$cpu"
}

# Waits until a check passes, bound by the process's readiness, not by a fixed time: it waits as long as the
# process runs and makes progress (writes to its log or uses CPU), and gives up when the process exits or has
# made no progress for `quiet` seconds (on a loaded machine a slow start keeps going; a hung one is stopped).
# KUANTUM_START_CAP (default 900 s) bounds even a start that keeps making progress. Returns the moment the
# check passes. Fails with the process's last log lines (a start that fails stops what it started: stop_started).
wait_healthy() { # name quiet-seconds check-cmd...
  local name=$1 quiet=$2; shift 2
  local cap=$((SECONDS + ${KUANTUM_START_CAP:-900})) last seen now why
  last=$SECONDS; seen=$(progress_of "$name")
  while :; do
    if "$@" >/dev/null 2>&1; then info "$name is healthy"; return 0; fi
    if ! alive "$name"; then why="exited before it became healthy"; break; fi
    now=$(progress_of "$name")
    if [ "$now" != "$seen" ]; then seen=$now; last=$SECONDS; fi
    if [ $((SECONDS - last)) -ge "$quiet" ]; then why="made no progress for $quiet s and is not healthy"; break; fi
    if [ $SECONDS -ge $cap ]; then why="was not healthy after ${KUANTUM_START_CAP:-900} s"; break; fi
    sleep 0.5
  done
  printf '\nkuantum: %s %s. Last lines of %s:\n' "$name" "$why" "$(log_of "$name")" >&2
  tail -n 25 "$(log_of "$name")" >&2 || true
  exit 1
}
