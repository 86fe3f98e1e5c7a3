#!/usr/bin/env bash
# Runs every benchmark in benchmarks/ in sequence with quick defaults (each prints its own table).
# Usage: benchmarks/run-all.sh            (from anywhere; uses the repo's .venv when there is one)
# operator_throughput.py needs the dev cluster (it reuses a running one, or starts it like the tests do).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY=python3
status=0
run() {
    echo "==> $*"
    "$PY" "$@" || { echo "!! $1 failed (exit $?)"; status=1; }
    echo
}
run benchmarks/qio_sa.py --quick
run benchmarks/statevector.py --quick
run benchmarks/operator_throughput.py --jobs 50 --latency-jobs 20 --baseline-jobs 50
exit "$status"
