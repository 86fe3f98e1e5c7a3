#!/usr/bin/env bash
# Runs every benchmark in benchmarks/ in sequence with quick defaults (each prints its own table).
# Usage: benchmarks/run-all.sh            (from anywhere; uses the repo's .venv when there is one)
# operator_throughput.py needs the dev cluster (it reuses a running one, or starts it like the tests do).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY=python3
# The solver benchmarks' peers have their own venv (make bench-venv): their pins clash with the operator's.
BENCH_PY="${BENCH_PYTHON:-$ROOT/.venv-bench/bin/python}"
[ -x "$BENCH_PY" ] || BENCH_PY="$PY"
status=0
run() {
    local py="$1"
    shift
    echo "==> $*"
    "$py" "$@" || { echo "!! $1 failed (exit $?)"; status=1; }
    echo
}
run "$BENCH_PY" benchmarks/qio_sa.py --quick
run "$BENCH_PY" benchmarks/statevector.py --quick
run "$PY" benchmarks/operator_throughput.py --jobs 50 --latency-jobs 20 --baseline-jobs 50
run "$PY" benchmarks/operator_scale.py --jobs 300 --workspaces 5 --per-workspace 10 --window 20 --window-seconds 120 \
    --delete-seconds 120
exit "$status"
