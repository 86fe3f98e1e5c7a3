#!/usr/bin/env bash
# `make test` after lint: the whole suite on the one dev cluster, which this script starts (unless it runs) and
# stops at its end. Integration tests wait on the cluster more than they compute, so they run side by side:
#   1. the integration tests that share the cluster, KUANTUM_TEST_WORKERS (2) modules at a time (pytest-xdist,
#      a module's tests in one process: its fixtures are made once; fault clusters of their own beside it);
#   2. the ones marked `exclusive` (a cluster-wide operator installed with Helm, CRDs replaced by an older
#      chart's, the node's kubelet killed: they change the cluster for everybody), one at a time, while the unit
#      tests (no cluster but Azurite) run beside them, two processes of them.
# Every run prints its slowest tests; the script fails if any run failed, after all of them ran.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
. "$here/lib.sh"
. "$here/cluster-env.sh"
cd "$root"

pytest=(".venv/bin/pytest" -q -p no:cacheprovider)
workers="${KUANTUM_TEST_WORKERS:-2}"
unit_log="$(mktemp)"
started_here=0
unit_pid=""

finish() {
  [ -z "$unit_pid" ] || kill "$unit_pid" 2>/dev/null || true
  rm -f "$unit_log"
  if [ "$started_here" = 1 ]; then bash "$here/cluster-down.sh"; fi
}
trap finish EXIT

if ! PIDS="$STATE/pids" recorded_pid kube-apiserver >/dev/null; then
  bash "$here/cluster-up.sh"
  started_here=1
fi

failed=0
step "integration tests sharing the cluster, $workers at a time"
"${pytest[@]}" --durations=25 -n "$workers" --dist loadfile -m "integration and not exclusive" \
  tests/integration tests/e2e || failed=1

step "unit tests (beside the next run; their output follows it)"
"${pytest[@]}" --durations=10 -n 2 tests/unit >"$unit_log" 2>&1 &
unit_pid=$!
step "integration tests that change the cluster for everybody, one at a time"
"${pytest[@]}" --durations=15 -m "integration and exclusive" tests/integration tests/e2e || failed=1
unit_rc=0
wait "$unit_pid" || unit_rc=$?
unit_pid=""
step "unit tests"
cat "$unit_log"
[ "$unit_rc" = 0 ] || failed=1
exit "$failed"
