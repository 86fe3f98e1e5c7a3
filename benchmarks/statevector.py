"""Statevector simulator throughput: kuantum_solvers vs qiskit-aer (statevector, fusion on) and a
numpy memory-bandwidth floor (one copy of the state = one read + one write pass, which is what a
single non-fused gate costs at best), on one thread and on all cores. Also times sampling 10^6 shots.

    python benchmarks/statevector.py            # 20, 22, 24 qubits
    python benchmarks/statevector.py --quick    # 16, 18, 20 qubits
    python benchmarks/statevector.py --gpu      # on a CUDA device: 26, 28, 30, 32 qubits, GPU vs floor vs CPU
"""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import Any

import numba
import numpy as np
from kuantum_solvers.circuits.fusion import fuse
from kuantum_solvers.circuits.statevector import apply_all, sample_basis_states, simulate
from kuantum_solvers.formats.circuits import gates as g
from kuantum_solvers.formats.circuits.model import Circuit, Gate
from kuantum_solvers.resources import available_cores


class _NoQiskit:
    """Stands in for a qiskit QuantumCircuit where no aer column is printed (the GPU table): qiskit
    need not be installed there."""

    def __getattr__(self, _name: str) -> Any:
        return lambda *_args: None


def _qiskit_circuit(n: int, with_qiskit: bool) -> Any:
    if not with_qiskit:
        return _NoQiskit()
    from qiskit import QuantumCircuit

    return QuantumCircuit(n)


def qft(n: int, with_qiskit: bool = True) -> tuple[Circuit, Any]:
    ours = Circuit(n)
    qc = _qiskit_circuit(n, with_qiskit)
    for j in reversed(range(n)):
        ours.gates.append(Gate((j,), g.H))
        qc.h(j)
        for k in reversed(range(j)):
            angle = math.pi / 2 ** (j - k)
            ours.gates.append(Gate((j,), g.phase(angle), (k,)))
            qc.cp(angle, k, j)
    for i in range(n // 2):
        ours.gates.append(Gate((i, n - 1 - i), np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]],
                                                        dtype=np.complex128)))
        qc.swap(i, n - 1 - i)
    return ours, qc


def layered(n: int, depth: int, seed: int, with_qiskit: bool = True) -> tuple[Circuit, Any]:
    """Each layer: a random U on every qubit, then CX on disjoint random pairs (a random matching)."""
    rng = np.random.default_rng(seed)
    ours = Circuit(n)
    qc = _qiskit_circuit(n, with_qiskit)
    for _ in range(depth):
        for q in range(n):
            t, p, lam = rng.uniform(0, 2 * math.pi, 3)
            ours.gates.append(Gate((q,), g.u3(t, p, lam)))
            qc.u(t, p, lam, q)
        order = rng.permutation(n)
        for control, target in zip(order[0::2], order[1::2], strict=False):
            ours.gates.append(Gate((int(target),), g.X, (int(control),)))
            qc.cx(int(control), int(target))
    return ours, qc


REPEATS = 2


def time_ours(c: Circuit) -> float:
    best = math.inf
    for _ in range(REPEATS):  # best of N: the machine may be shared
        t0 = time.perf_counter()
        simulate(c)
        best = min(best, time.perf_counter() - t0)
    return best


def time_aer(qc: object, threads: int) -> float:
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    sim = AerSimulator(method="statevector", fusion_enable=True, max_parallel_threads=threads)
    circ = transpile(qc, sim, optimization_level=0)
    circ.save_statevector()
    best = math.inf
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        sim.run(circ).result()
        best = min(best, time.perf_counter() - t0)
    return best


def copy_floor(n: int) -> float:
    src = np.ones(1 << n, dtype=np.complex128)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return best


def gpu_table(sizes: list[int], depth: int, cpu_max: int) -> None:
    """Device-resident state (host copies excluded, timed once at the smallest size): ms per fused gate
    against the device floor (one device-to-device copy of the state: a read and a write pass), and
    the CPU on all cores beside it up to `cpu_max` qubits."""
    from kuantum_solvers import device
    from kuantum_solvers.circuits import gpu_statevector as gsv

    cupy: Any = device.cupy()
    if cupy is None:
        print("\nGPU statevector: no cupy or no CUDA device here: GPU columns unmeasured")
        return
    props = cupy.cuda.runtime.getDeviceProperties(0)
    kernels = gsv._kernels()
    sms = props["multiProcessorCount"]
    free = cupy.cuda.runtime.memGetInfo()[0]
    print(f"\nStatevector on the GPU ({props['name'].decode()}, {free / 2**30:.0f} GiB free), complex128, state on "
          "the device. floor = one device copy of the state (read + write, what one gate pass costs at best);")
    print("fused/floor is ms per fused gate over the floor (<= 2 is the goal); CPU = the same fused gates on all "
          f"{available_cores()} cores (up to {cpu_max} qubits). ms/g = per gate as written.")
    print(f"{'circuit':>10} {'n':>3} {'gates':>6} {'fused':>6} {'GPU ms/g':>9} {'GPU ms/fused':>12} {'floor ms':>9} "
          f"{'fused/floor':>11} {'CPU ms/g':>9} {'CPU/GPU':>8}")

    def device_floor(n: int) -> float:
        m = min(n, 30)
        src = cupy.ones(1 << m, dtype=cupy.complex128)
        dst = cupy.empty_like(src)
        cupy.copyto(dst, src)
        cupy.cuda.Device().synchronize()
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            cupy.copyto(dst, src)
            cupy.cuda.Device().synchronize()
            best = min(best, time.perf_counter() - t0)
        del src, dst
        return best * 2 ** (n - m)

    for n in sizes:
        if gsv.device_bytes(n) + (16 << min(n, 30)) * 2 > cupy.cuda.runtime.memGetInfo()[0] and n > 30:
            print(f"{'':>10} {n:>3} does not fit in the device's free memory with the floor buffers: skipped")
            continue
        floor = device_floor(n)
        for name, (ours, _qc) in (("qft", qft(n, False)), (f"layers{depth}", layered(n, depth, n, False))):
            fused = fuse(ours.gates)
            p = gsv.plan(n, fused)
            state = cupy.zeros(1 << n, dtype=cupy.complex128)
            state[0] = 1.0
            matrices, masks = cupy.asarray(p.matrix_buffer()), cupy.asarray(p.mask_buffer())

            def launch(kernel: str, work: int, args: tuple[Any, ...]) -> None:
                kernels[kernel]((gsv.grid_size(work, sms),), (gsv.THREADS_PER_BLOCK,), args)

            gsv.run_plan(p, state, launch, matrices, masks)  # warm (first launches load the module)
            cupy.cuda.Device().synchronize()
            t0 = time.perf_counter()
            gsv.run_plan(p, state, launch, matrices, masks)
            cupy.cuda.Device().synchronize()
            t_gpu = time.perf_counter() - t0
            del state
            count = len(ours.gates)
            cpu_cols = f"{'-':>9} {'-':>8}"
            if n <= cpu_max:
                os.environ["KUANTUM_GPU"] = "off"
                psi = np.zeros(1 << n, dtype=np.complex128)
                psi[0] = 1.0
                t0 = time.perf_counter()
                apply_all(psi, ours.gates)
                t_cpu = time.perf_counter() - t0
                del psi
                os.environ.pop("KUANTUM_GPU", None)
                cpu_cols = f"{1e3 * t_cpu / count:>9.3f} {t_cpu / t_gpu:>8.1f}"
            per_fused = 1e3 * t_gpu / max(1, len(p.launches))
            print(f"{name:>10} {n:>3} {count:>6} {len(p.launches):>6} {1e3 * t_gpu / count:>9.3f} {per_fused:>12.3f} "
                  f"{1e3 * floor:>9.3f} {per_fused / (1e3 * floor):>11.2f} {cpu_cols}", flush=True)
    n = min(sizes)
    psi = np.zeros(1 << n, dtype=np.complex128)
    t0 = time.perf_counter()
    state = cupy.asarray(psi)
    cupy.cuda.Device().synchronize()
    t1 = time.perf_counter()
    state.get(out=psi)
    t2 = time.perf_counter()
    print(f"(apply_all also copies the state to the device and back: {n} qubits took {t1 - t0:.3f} s + "
          f"{t2 - t1:.3f} s here)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="16, 18, 20 qubits")
    ap.add_argument("--gpu", action="store_true", help="GPU table only: 26, 28, 30, 32 qubits (--sizes to change)")
    ap.add_argument("--cpu-max-qubits", type=int, default=28, help="largest size the GPU table also runs on the CPU")
    ap.add_argument("--sizes", type=int, nargs="*")
    ap.add_argument("--depth", type=int, default=20, help="layers of the random layered circuit")
    ap.add_argument("--shots", type=int, default=1_000_000)
    args = ap.parse_args()
    if args.gpu:
        simulate(layered(4, 2, 0, False)[0])  # compile the CPU kernels
        simulate(qft(4, False)[0])
        gpu_table(args.sizes or [26, 28, 30, 32], args.depth, args.cpu_max_qubits)
        return
    sizes = args.sizes or ([16, 18, 20] if args.quick else [20, 22, 24])

    # Load/compile every kernel before timing.
    simulate(layered(4, 2, 0)[0])
    simulate(qft(4)[0])
    sample_basis_states(simulate(qft(3)[0]), 10, np.random.default_rng(0))
    cores = available_cores()
    print("\nStatevector, complex128, ms per gate as written (ours fuses into <=2-qubit blocks and diagonal")
    print(f"runs, aer fuses up to 5-qubit blocks); best of {REPEATS} runs, on 1 thread and on all {cores} cores.")
    print("floor = one single-threaded numpy copy of the state; ours/floor < 1 means fusion made the average")
    print("written gate cheaper than one pass over memory. ours/aer <= 1 means ours is at least as fast.")
    print(f"{'circuit':>10} {'n':>3} {'threads':>7} {'gates':>6} {'fused':>6} {'ours ms/g':>10} {'aer ms/g':>9} "
          f"{'ours/aer':>9} {'floor ms':>9} {'ours/floor':>10}")
    for n in sizes:
        floor = copy_floor(n)
        for name, (ours, qc) in (("qft", qft(n)), (f"layers{args.depth}", layered(n, args.depth, n))):
            count = len(ours.gates)
            for threads in sorted({1, cores}):
                numba.set_num_threads(threads)
                t_ours = time_ours(ours)
                t_aer = time_aer(qc, threads)
                per_o, per_a = 1e3 * t_ours / count, 1e3 * t_aer / count
                print(f"{name:>10} {n:>3} {threads:>7} {count:>6} {len(fuse(ours.gates)):>6} {per_o:>10.3f} "
                      f"{per_a:>9.3f} {t_ours / t_aer:>9.2f} {1e3 * floor:>9.3f} {per_o / (1e3 * floor):>10.2f}")
    numba.set_num_threads(cores)

    n = max(sizes)
    psi = simulate(layered(n, 2, 1)[0])
    best = math.inf
    for _ in range(3):
        rng = np.random.default_rng(0)
        t0 = time.perf_counter()
        samples = sample_basis_states(psi, args.shots, rng)
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    p = np.abs(psi) ** 2
    rng.choice(p.shape[0], size=args.shots, p=p / p.sum())
    t_np = time.perf_counter() - t0
    print(f"\nSampling {args.shots:,} shots from a {n}-qubit state (best of 3): ours {best:.3f} s (straight from the "
          f"amplitudes: block sums, parallel inverse-CDF walk, shuffle), numpy Generator.choice {t_np:.3f} s, "
          f"ratio {t_np / best:.2f}x; {len(np.unique(samples)):,} distinct outcomes")


if __name__ == "__main__":
    main()
