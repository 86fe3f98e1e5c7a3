"""Simulated annealing (and tabu) throughput: kuantum_solvers vs dwave-samplers.

Random 3-regular ±1 Ising instances, same beta range and geometric schedule for both, compile time
excluded. Prints a table with ratios measured in this run (not a test; never asserts timings).

    python benchmarks/qio_sa.py            # N = 1,000 and 10,000, 1,000 sweeps
    python benchmarks/qio_sa.py --quick    # smaller / fewer sweeps
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
from kuantum_solvers.qio.problem import Problem, parse_problem
from kuantum_solvers.qio.solvers import sa, tabu
from kuantum_solvers.qio.solvers.common import Context, auto_beta_range
from kuantum_solvers.resources import available_cores
from kuantum_solvers.targets import validate_params


def regular3(n: int, seed: int) -> list[tuple[int, int, float]]:
    """Random (nearly) 3-regular graph via stub pairing; the rare self-loops/duplicates are dropped."""
    rng = np.random.default_rng(seed)
    stubs = rng.permutation(np.repeat(np.arange(n), 3))
    edges: dict[tuple[int, int], float] = {}
    for a, b in stubs.reshape(-1, 2):
        if a != b:
            edges[(int(min(a, b)), int(max(a, b)))] = float(rng.choice([-1.0, 1.0]))
    return [(a, b, c) for (a, b), c in edges.items()]


def to_problem(edges: list[tuple[int, int, float]]) -> Problem:
    doc = {"cost_function": {"version": "1.0", "type": "ising",
                             "terms": [{"c": c, "ids": [a, b]} for a, b, c in edges]}}
    return parse_problem(json.loads(json.dumps(doc)))


REPEATS = 3


def best_of(fn: Any) -> tuple[float, list[float]]:
    """Best wall time of REPEATS runs (the machine may be shared); energies of the last run."""
    runs = [fn() for _ in range(REPEATS)]
    return min(t for t, _ in runs), runs[-1][1]


def quiet() -> Context:
    return Context(progress=lambda _line: None)


def run_ours(p: Problem, sweeps: int, reads: int, threads: int, hot: float, cold: float) -> tuple[float, list[float]]:
    ctx = quiet()
    ctx.threads = threads
    params = validate_params("microsoft.simulatedannealing.cpu", {"params": {
        "sweeps": sweeps, "restarts": reads, "beta_start": hot, "beta_stop": cold, "seed": 1}})
    t0 = time.perf_counter()
    result = sa.solve(p, params, ctx, parameter_free=False)
    elapsed = time.perf_counter() - t0
    energies = [p.energy(s) for s in result.states[:reads]]
    return elapsed, energies


def run_dwave(edges: list[tuple[int, int, float]], sweeps: int, reads: int, hot: float,
              cold: float) -> tuple[float, list[float]]:
    import dimod
    from dwave.samplers import SimulatedAnnealingSampler

    bqm = dimod.BinaryQuadraticModel.from_ising({}, {(a, b): c for a, b, c in edges})
    sampler = SimulatedAnnealingSampler()
    t0 = time.perf_counter()
    ss = sampler.sample(bqm, num_reads=reads, num_sweeps=sweeps, beta_range=(hot, cold),
                        beta_schedule_type="geometric", seed=1)
    elapsed = time.perf_counter() - t0
    return elapsed, [float(e) for e in ss.record.energy]


def run_tabu_pair(p: Problem, edges: list[tuple[int, int, float]], seconds: float) -> dict[str, Any]:
    import dimod
    from dwave.samplers import TabuSampler

    bqm = dimod.BinaryQuadraticModel.from_ising({}, {(a, b): c for a, b, c in edges})
    t0 = time.perf_counter()
    ss = TabuSampler().sample(bqm, num_reads=1, timeout=int(seconds * 1000), seed=1)
    theirs_t = time.perf_counter() - t0
    ctx = quiet()
    ctx.threads = 1
    params = validate_params("microsoft.tabu.cpu", {"params": {"sweeps": 10**9, "restarts": 1, "timeout": seconds,
                                                                 "seed": 1}})
    t0 = time.perf_counter()
    result = tabu.solve(p, params, ctx, parameter_free=False)
    ours_t = time.perf_counter() - t0
    return {"ours": min(p.energy(s) for s in result.states), "ours_t": ours_t,
            "theirs": float(ss.first.energy), "theirs_t": theirs_t}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="N = 1,000 and 5,000 with 200 sweeps")
    ap.add_argument("--sizes", type=int, nargs="*", default=None)
    ap.add_argument("--sweeps", type=int, default=None)
    ap.add_argument("--tabu-seconds", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=3, help="best-of-N timing")
    args = ap.parse_args()
    global REPEATS
    REPEATS = args.repeats
    sizes = args.sizes or ([1000, 5000] if args.quick else [1000, 10_000])
    sweeps = args.sweeps or (200 if args.quick else 1000)
    cores = available_cores()

    # Compile / load the numba kernels before timing anything.
    warm = to_problem(regular3(50, 0))
    run_ours(warm, 2, 1, 1, 0.1, 1.0)
    tabu.solve(warm, validate_params("microsoft.tabu.cpu", {"params": {"sweeps": 5, "seed": 1}}), quiet(), False)

    reads_1 = 2
    reads_all = 2 * cores
    rows = []
    for n in sizes:
        edges = regular3(n, seed=n)
        p = to_problem(edges)
        hot, cold = auto_beta_range(p)
        t_dw, e_dw = best_of(lambda e=edges, h=hot, c=cold: run_dwave(e, sweeps, reads_1, h, c))
        t_o1, e_o1 = best_of(lambda q=p, h=hot, c=cold: run_ours(q, sweeps, reads_1, 1, h, c))
        t_dwa, e_dwa = best_of(lambda e=edges, h=hot, c=cold: run_dwave(e, sweeps, reads_all, h, c))
        t_oa, e_oa = best_of(lambda q=p, h=hot, c=cold: run_ours(q, sweeps, reads_all, cores, h, c))
        work_1 = n * sweeps * reads_1  # attempted spin updates
        work_all = n * sweeps * reads_all
        rows.append((n, "1 core", reads_1, work_1 / t_dw, work_1 / t_o1, e_dw, e_o1))
        rows.append((n, f"{cores} cores", reads_all, work_all / t_dwa, work_all / t_oa, e_dwa, e_oa))

    print(f"\nSimulated annealing, random 3-regular ±1 Ising, {sweeps} sweeps, geometric beta schedule "
          f"(same range), {cores} cores available, best of {REPEATS} runs. dwave-samplers is single-threaded.")
    print(f"{'N':>7} {'mode':>8} {'reads':>5} {'dwave upd/s':>12} {'ours upd/s':>12} {'ratio':>6} "
          f"{'dwave best/mean':>18} {'ours best/mean':>18}")
    for n, mode, reads, ud, uo, ed, eo in rows:
        print(f"{n:>7} {mode:>8} {reads:>5} {ud:>12.3e} {uo:>12.3e} {uo / ud:>6.2f} "
              f"{min(ed):>8.0f}/{np.mean(ed):>9.1f} {min(eo):>8.0f}/{np.mean(eo):>9.1f}")

    if args.tabu_seconds > 0:
        print(f"\nTabu search at equal time ({args.tabu_seconds:g} s, one read/restart, one core)")
        print(f"{'N':>7} {'dwave best':>11} {'ours best':>10} {'dwave s':>8} {'ours s':>7}")
        for n in sizes:
            edges = regular3(n, seed=n)
            r = run_tabu_pair(to_problem(edges), edges, args.tabu_seconds)
            print(f"{n:>7} {r['theirs']:>11.0f} {r['ours']:>10.0f} {r['theirs_t']:>8.2f} {r['ours_t']:>7.2f}")


if __name__ == "__main__":
    main()
