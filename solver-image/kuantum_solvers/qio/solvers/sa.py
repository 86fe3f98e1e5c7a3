"""Simulated annealing: independent restarts in parallel, sequential Metropolis sweeps, geometric
beta schedule."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from kuantum_solvers.qio.kernels import metropolis_sweep, metropolis_sweep_quadratic
from kuantum_solvers.qio.problem import Problem
from kuantum_solvers.qio.solvers.common import (
    Context,
    Runner,
    SolveResult,
    auto_beta_range,
    init_replicas,
    make_seed,
    problem_args,
    random_bits,
    rng_streams,
    schedule,
    until_stable,
)


@njit(parallel=True, cache=True)
def sa_sweeps(term_ptr, term_vars, term_coef, var_ptr, var_terms, is_ising,
              bits, de, tstate, energy, best_bits, best_energy, rng, betas):
    for r in prange(bits.shape[0]):
        for b in range(betas.shape[0]):
            energy[r] += metropolis_sweep(betas[b], r, term_ptr, term_vars, term_coef, var_ptr, var_terms,
                                          is_ising, bits[r], de[r], tstate[r], rng)
            if energy[r] < best_energy[r] - 1e-12:
                best_energy[r] = energy[r]
                best_bits[r, :] = bits[r]


@njit(parallel=True, cache=True)
def sa_sweeps_quadratic(nbr_ptr, nbr_idx, nbr_w4, spins, de, energy, best_bits, best_energy, rng, betas):
    n = spins.shape[1]
    for r in prange(spins.shape[0]):
        for b in range(betas.shape[0]):
            energy[r] += metropolis_sweep_quadratic(betas[b], r, nbr_ptr, nbr_idx, nbr_w4, spins[r], de[r], rng)
            if energy[r] < best_energy[r] - 1e-12:
                best_energy[r] = energy[r]
                for i in range(n):  # branchless copy
                    best_bits[r, i] = spins[r, i] < 0.0


def anneal(p: Problem, ctx: Context, runner: Runner, sweeps: int, restarts: int, beta_start: float,
           beta_stop: float, seed: int, salt: int = 0) -> list[np.ndarray]:
    bits = random_bits(seed + salt, restarts, p.n, p.initial)
    de, tstate, energy = init_replicas(p, bits)
    best_bits = bits.copy()
    best_energy = energy.copy()
    rng = rng_streams(seed, restarts, salt)
    betas = schedule("geometric", beta_start, beta_stop, sweeps)

    quadratic = p.quadratic_ising_neighbours()
    if quadratic is not None:  # faster kernel on ±1.0 spins; tstate is not needed afterwards
        ptr, idx, w = quadratic
        quadratic = (ptr, idx, 4.0 * w)
        spins = 1.0 - 2.0 * bits.astype(np.float64)

    def step(start: int, count: int) -> float:
        chunk = betas.chunk(start, count)
        if quadratic is not None:
            sa_sweeps_quadratic(*quadratic, spins, de, energy, best_bits, best_energy, rng, chunk)
            bits[:] = spins < 0.0
        else:
            sa_sweeps(*problem_args(p), bits, de, tstate, energy, best_bits, best_energy, rng, chunk)
        return float(best_energy.min()) + p.offset

    runner.run(sweeps, step, work=p.n * restarts)
    return [best_bits[r] for r in range(restarts)] + [bits[r] for r in range(restarts)]


def solve(p: Problem, params: dict[str, Any], ctx: Context, parameter_free: bool) -> SolveResult:
    threads = ctx.configure_threads()
    seed = make_seed(params.get("seed"))
    hot, cold = auto_beta_range(p)
    if not parameter_free:
        beta_start = params["beta_start"] if params["beta_start"] is not None else hot
        beta_stop = params["beta_stop"] if params["beta_stop"] is not None else cold
        restarts = params["restarts"] or threads
        sweeps = params["sweeps"]
        runner = Runner(ctx, "simulated annealing", params.get("timeout"))
        states = anneal(p, ctx, runner, sweeps, restarts, beta_start, beta_stop, seed)
        used = {"beta_start": beta_start, "beta_stop": beta_stop, "sweeps": sweeps, "restarts": restarts,
                "seed": seed}
        if params.get("timeout") is not None:
            used["timeout"] = params["timeout"]
        return SolveResult(states, used)
    return _parameter_free(p, params, ctx, threads, seed, hot, cold)


def _parameter_free(p: Problem, params: dict[str, Any], ctx: Context, threads: int, seed: int,
                    hot: float, cold: float) -> SolveResult:
    runner = Runner(ctx, "simulated annealing (parameter-free)", params["timeout"])
    restarts = max(threads, 4)

    def round_fn(sweeps: int, salt: int) -> list[np.ndarray]:
        return anneal(p, ctx, runner, sweeps, restarts, hot, cold, seed, salt=salt)

    states, sweeps, rounds = until_stable(p, runner, round_fn, 16)
    used = {"beta_start": hot, "beta_stop": cold, "sweeps": sweeps, "restarts": restarts, "rounds": rounds,
            "seed": seed, "timeout": params["timeout"]}
    return SolveResult(states, used)
