"""QIO on the GPU against our CPU kernels on all cores, measured in the same run.

Random 3-regular ±1 Ising instances (benchmarks/qio_sa.py's). Tables:
1. simulated annealing throughput, 1,000 sweeps, >= 1,024 replicas: spin updates/s on the GPU and
   on all CPU cores, their ratio, and the final states' energies (mean ± standard error) with the
   difference in standard errors (the two should agree: same algorithm, same schedule);
2. parallel tempering and population annealing, GPU vs CPU, same sweeps;
3. time to reach the best energy dwave-samplers finds in 10 s on one core (if dwave-samplers is not
   installed: the best our SA finds in 10 s on one core, labelled so);
4. (--tables shapes) the SA kernel alone, per block shape (replicas per block x threads): spin
   updates/s of the launches, without setup and copies, to tune choose_group/choose_threads.
Without a CUDA device (or cupy) the GPU columns say "no device": nothing there is measured.
Prints tables; never asserts timings.

    python benchmarks/qio_gpu.py                 # N = 10,000 and 100,000
    python benchmarks/qio_gpu.py --quick         # N = 1,000 and 2,000, 100 sweeps, 256 replicas
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kuantum_solvers import device as cuda
from kuantum_solvers.formats.targets import validate_params
from kuantum_solvers.qio import gpu
from kuantum_solvers.qio.lane_kernels import neg_beta_log2e
from kuantum_solvers.qio.problem import Problem
from kuantum_solvers.qio.quadratic import quadratic_model
from kuantum_solvers.qio.solvers import pa, pt, sa
from kuantum_solvers.qio.solvers.common import Context, auto_beta_range
from kuantum_solvers.resources import available_cores
from qio_sa import regular3, to_bqm, to_problem


def on(device: bool) -> None:
    os.environ["KUANTUM_GPU"] = "on" if device else "off"


def quiet(threads: int = 0) -> Context:
    return Context(progress=lambda _line: None, threads=threads)


def run_sa(p: Problem, sweeps: int, replicas: int, hot: float, cold: float, device: bool, threads: int = 0,
           seed: int = 1) -> tuple[float, list[float], float]:
    """Wall time, final-state energies, best energy."""
    on(device)
    params = validate_params("microsoft.simulatedannealing.cpu", {"params": {
        "sweeps": sweeps, "restarts": replicas, "beta_start": hot, "beta_stop": cold, "seed": seed}})
    t0 = time.perf_counter()
    result = sa.solve(p, params, quiet(threads), parameter_free=False)
    elapsed = time.perf_counter() - t0
    final = p.energies(np.stack(result.states[replicas:2 * replicas])).tolist()
    return elapsed, final, float(p.energies(np.stack(result.states[:replicas])).min())


def summary(e: list[float]) -> tuple[float, float]:
    a = np.asarray(e)
    return float(a.mean()), float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else 0.0


def warm_up(device: bool) -> None:
    """Compile every kernel (numba, NVRTC) before timing."""
    p = to_problem(regular3(200, 0))
    hot, cold = auto_beta_range(p)
    run_sa(p, 10, 300 if device else 8, hot, cold, device)
    if device:
        run_pt(p, 10, 300, device)
        run_pa(p, 10, 300, device)


def sa_table(sizes: list[int], sweeps: int, replicas: int, device: bool, cores: int) -> None:
    print(f"\nSimulated annealing on the GPU vs our CPU kernels on all {cores} cores: random 3-regular ±1 Ising, "
          f"{sweeps} sweeps, {replicas} replicas, same geometric beta range and seed. Final-state energies: "
          "mean ± standard error; dz = |difference of means| / combined standard error (< 2: equal within errors).")
    print(f"{'N':>7} {'CPU upd/s':>11} {'GPU upd/s':>11} {'GPU/CPU':>8} {'CPU s':>7} {'GPU s':>7} "
          f"{'CPU energy':>20} {'GPU energy':>20} {'dz':>5}")
    for n in sizes:
        p = to_problem(regular3(n, seed=n))
        hot, cold = auto_beta_range(p)
        work = n * sweeps * replicas
        t_cpu, e_cpu, _ = run_sa(p, sweeps, replicas, hot, cold, device=False)
        m_c, s_c = summary(e_cpu)
        cpu_cols = f"{work / t_cpu:>11.3e}"
        if device:
            t_gpu, e_gpu, _ = run_sa(p, sweeps, replicas, hot, cold, device=True)
            m_g, s_g = summary(e_gpu)
            dz = abs(m_g - m_c) / max(math.hypot(s_c, s_g), 1e-12)
            print(f"{n:>7} {cpu_cols} {work / t_gpu:>11.3e} {t_cpu / t_gpu:>8.2f} {t_cpu:>7.2f} {t_gpu:>7.2f} "
                  f"{f'{m_c:.1f} ± {s_c:.1f}':>20} {f'{m_g:.1f} ± {s_g:.1f}':>20} {dz:>5.2f}")
        else:
            print(f"{n:>7} {cpu_cols} {'no device':>11} {'-':>8} {t_cpu:>7.2f} {'-':>7} "
                  f"{f'{m_c:.1f} ± {s_c:.1f}':>20} {'unmeasured':>20} {'-':>5}")
        sys.stdout.flush()


def shapes_table(sizes: list[int], sweeps: int, replica_counts: list[int]) -> None:
    """The anneal kernel alone at each block shape: what choose_group picks is marked with *."""
    cupy: Any = cuda.cupy()
    sms = cupy.cuda.Device().attributes["MultiProcessorCount"]
    print(f"\nThe SA kernel alone ({sweeps} sweeps, launches timed with CUDA events, after one untimed sweep), per "
          "block shape: G/s = 1e9 spin updates per second. * = the shape replica_set picks.")
    print(f"{'N':>7} {'replicas':>8} {'group':>5} {'threads':>7} {'ms':>9} {'G/s':>8}")
    for n in sizes:
        p = to_problem(regular3(n, seed=n))
        q = quadratic_model(p)
        hot, cold = auto_beta_range(p)
        nbetas = neg_beta_log2e(np.geomspace(hot, cold, sweeps))
        for replicas in replica_counts:
            bits = np.random.default_rng(n).integers(0, 2, size=(replicas, n), dtype=np.int8)
            picked = gpu.choose_group(replicas, sms)
            for group in (1, 2, 4, 8, 16, 32):
                try:
                    rs = gpu.GpuReplicaSet(q, replicas, bits, seed=1, group=group)
                except (ValueError, gpu.DeviceFull) as e:
                    print(f"{n:>7} {replicas:>8} {group:>5} {'-':>7}  skipped: {e or 'does not fit'}")
                    continue
                rs.anneal(nbetas[:1], 0)
                start, stop = cupy.cuda.Event(), cupy.cuda.Event()
                start.record()
                rs.anneal(nbetas, 1)
                stop.record()
                stop.synchronize()
                ms = cupy.cuda.get_elapsed_time(start, stop)
                mark = "*" if group == picked else " "
                print(f"{n:>7} {replicas:>8} {group:>4}{mark} {rs.threads:>7} {ms:>9.2f} "
                      f"{n * replicas * sweeps / ms / 1e6:>8.2f}")
                del rs
                sys.stdout.flush()


def run_pt(p: Problem, sweeps: int, replicas: int, device: bool) -> tuple[float, float]:
    on(device)
    params = validate_params("microsoft.paralleltempering.cpu", {"params": {
        "sweeps": sweeps, "replicas": replicas, "seed": 1}})
    t0 = time.perf_counter()
    result = pt.solve(p, params, quiet(), parameter_free=False)
    return time.perf_counter() - t0, float(p.energies(np.stack(result.states)).min())


def run_pa(p: Problem, sweeps: int, population: int, device: bool) -> tuple[float, float]:
    on(device)
    params = validate_params("microsoft.populationannealing.cpu", {"params": {
        "sweeps": sweeps, "population": population, "seed": 1}})
    t0 = time.perf_counter()
    result = pa.solve(p, params, quiet(), parameter_free=False)
    return time.perf_counter() - t0, float(p.energies(np.stack(result.states)).min())


def pt_pa_table(n: int, sweeps: int, replicas: int, device: bool) -> None:
    p = to_problem(regular3(n, seed=n))
    work = n * sweeps * replicas
    print(f"\nParallel tempering ({replicas} temperatures, exchange after every sweep) and population annealing "
          f"(population {replicas}), N = {n}, {sweeps} sweeps/steps: best energy found, spin updates/s.")
    print(f"{'solver':>8} {'CPU upd/s':>11} {'GPU upd/s':>11} {'GPU/CPU':>8} {'CPU best':>9} {'GPU best':>9}")
    for name, fn in (("PT", run_pt), ("PA", run_pa)):
        t_cpu, b_cpu = fn(p, sweeps, replicas, False)
        if device:
            t_gpu, b_gpu = fn(p, sweeps, replicas, True)
            print(f"{name:>8} {work / t_cpu:>11.3e} {work / t_gpu:>11.3e} {t_cpu / t_gpu:>8.2f} {b_cpu:>9.0f} "
                  f"{b_gpu:>9.0f}")
        else:
            print(f"{name:>8} {work / t_cpu:>11.3e} {'no device':>11} {'-':>8} {b_cpu:>9.0f} {'-':>9}")
        sys.stdout.flush()


def reference_target(n: int, seconds: float) -> tuple[float, str]:
    """Best energy dwave-samplers' SA finds in `seconds` on one core (reads of 1,000 sweeps), or ours."""
    p = to_problem(regular3(n, seed=n))
    hot, cold = auto_beta_range(p)
    try:
        from dwave.samplers import SimulatedAnnealingSampler
    except ImportError:
        best = math.inf
        t0 = time.perf_counter()
        seed = 1
        while time.perf_counter() - t0 < seconds:
            _t, _e, b = run_sa(p, 1000, 1, hot, cold, device=False, threads=1, seed=seed)
            best, seed = min(best, b), seed + 1
        return best, f"ours, 1 core, {seconds:g} s (dwave-samplers not installed)"
    bqm = to_bqm(regular3(n, seed=n))
    sampler = SimulatedAnnealingSampler()
    best = math.inf
    reads = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        ss = sampler.sample(bqm, num_reads=1, num_sweeps=1000, beta_range=(hot, cold),
                            beta_schedule_type="geometric", seed=reads + 1)
        best = min(best, float(ss.first.energy))
        reads += 1
    return best, f"dwave-samplers, 1 core, {seconds:g} s ({reads} reads of 1,000 sweeps)"


def time_to_target(p: Problem, target: float, replicas: int, device: bool, budget: float) -> tuple[float, int]:
    """Smallest sweep count (doubling from 64) whose SA run reaches `target`: its wall time, sweeps;
    (inf, last sweeps) when the budget runs out first."""
    hot, cold = auto_beta_range(p)
    sweeps = 64
    spent = 0.0
    while spent < budget:
        t, _final, best = run_sa(p, sweeps, replicas, hot, cold, device)
        spent += t
        if best <= target + 1e-9:
            return t, sweeps
        sweeps *= 2
    return math.inf, sweeps // 2


def target_table(sizes: list[int], replicas: int, device: bool, seconds: float, budget: float) -> None:
    print(f"\nTime to reach the reference energy (SA, {replicas} replicas, sweeps doubled from 64 until a run reaches "
          f"it; the time of that run; at most {budget:g} s of tries).")
    print(f"{'N':>7} {'target':>8} {'CPU s':>8} {'sweeps':>7} {'GPU s':>8} {'sweeps':>7}  reference")
    for n in sizes:
        target, label = reference_target(n, seconds)
        p = to_problem(regular3(n, seed=n))
        t_cpu, s_cpu = time_to_target(p, target, replicas, False, budget)
        gpu_cols = f"{'no device':>8} {'-':>7}"
        if device:
            t_gpu, s_gpu = time_to_target(p, target, replicas, True, budget)
            gpu_cols = f"{t_gpu:>8.2f} {s_gpu:>7}"
        print(f"{n:>7} {target:>8.0f} {t_cpu:>8.2f} {s_cpu:>7} {gpu_cols}  {label}")
        sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", type=int, nargs="*")
    ap.add_argument("--sweeps", type=int)
    ap.add_argument("--replicas", type=int)
    ap.add_argument("--tables", default="sa,ptpa,target", help="comma-separated subset of sa, ptpa, target, shapes")
    ap.add_argument("--shape-sweeps", type=int, default=100)
    ap.add_argument("--shape-replicas", type=int, nargs="*", default=[1024, 4096])
    ap.add_argument("--reference-seconds", type=float, default=10.0)
    ap.add_argument("--target-budget", type=float, default=60.0)
    args = ap.parse_args()
    sizes = args.sizes or ([1000, 2000] if args.quick else [10_000, 100_000])
    sweeps = args.sweeps or (100 if args.quick else 1000)
    replicas = args.replicas or (256 if args.quick else 1024)
    tables = set(args.tables.split(","))
    cores = available_cores()
    os.environ.pop("KUANTUM_GPU", None)
    device = cuda.cupy() is not None
    if device:
        cupy: Any = cuda.cupy()
        props = cupy.cuda.runtime.getDeviceProperties(0)
        print(f"GPU: {props['name'].decode()}, {props['multiProcessorCount']} SMs; CPU: {cores} cores")
    else:
        print(f"GPU: none (no cupy or no CUDA device): every GPU column below is unmeasured. CPU: {cores} cores")
    warm_up(False)
    if device:
        warm_up(True)
    timed: list[tuple[str, Callable[[], None]]] = [
        ("sa", lambda: sa_table(sizes, sweeps, replicas, device, cores)),
        ("ptpa", lambda: pt_pa_table(min(sizes), max(10, sweeps // 5), replicas, device)),
        ("target", lambda: target_table(sizes, replicas, device, args.reference_seconds, args.target_budget)),
    ]
    if device and "shapes" in tables:
        timed.insert(0, ("shapes", lambda: shapes_table(sizes, args.shape_sweeps, args.shape_replicas)))
    for name, fn in timed:
        if name in tables:
            fn()


if __name__ == "__main__":
    main()
