#!/usr/bin/env bash
# Issue 14's device checks in one bounded run (< 9 minutes), for a machine with a CUDA GPU and cupy:
#   1. the on-device tests (GPU replicas and tempering vs the CPU kernels, GPU statevector vs CPU);
#   2. benchmarks/qio_gpu.py: SA at N = 10,000 and 100,000 (1,000 sweeps, 1,024 replicas), PT/PA, time to target
#      (--tables shapes adds the kernel per block shape);
#   3. benchmarks/statevector.py --gpu: QFT and random depth-20 circuits at 26, 28, 30, 32 qubits vs the floor.
# Tables go to stdout. Each step has its own time limit; a step that runs out says so and the next one starts.
#
#   bash benchmarks/gpu.sh                 # from the repository root
#   PYTHON=/path/to/python bash benchmarks/gpu.sh
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD/solver-image${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
unset KUANTUM_GPU
start=$(date +%s)
step() {  # step LIMIT_S TITLE COMMAND...
    local limit=$1 title=$2
    shift 2
    echo; echo "=== $title (limit ${limit} s, at $(( $(date +%s) - start )) s) ==="
    timeout --kill-after=10 "$limit" "$@"
    local rc=$?
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "!!! $title: stopped at its ${limit} s limit"
    [ $rc -ne 0 ] && echo "!!! $title: exit status $rc"
    return 0
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "!!! no nvidia-smi"
if ! "$PY" -c 'import cupy, sys; sys.exit(0 if cupy.cuda.runtime.getDeviceCount() > 0 else 1)'; then
    echo "!!! cupy cannot see a CUDA device with $PY: every GPU figure below is UNMEASURED"
fi

step 90 "on-device tests" "$PY" -m pytest -q -p no:cacheprovider --noconftest -rs \
    tests/unit/solvers/test_gpu_replicas.py tests/unit/solvers/test_gpu_statevector.py -k on_a_cuda_device

step 330 "QIO on the GPU (benchmarks/qio_gpu.py)" "$PY" benchmarks/qio_gpu.py --target-budget 25

step 100 "statevector on the GPU (benchmarks/statevector.py --gpu)" "$PY" benchmarks/statevector.py --gpu \
    --cpu-max-qubits 26

echo; echo "=== done in $(( $(date +%s) - start )) s ==="
