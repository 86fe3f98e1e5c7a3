"""Simulated annealing: independent restarts in parallel, sequential Metropolis sweeps, geometric
beta schedule."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from kuantum_solvers.qio.gpu import replica_set
from kuantum_solvers.qio.kernels import metropolis_sweep
from kuantum_solvers.qio.lane_kernels import neg_beta_log2e
from kuantum_solvers.qio.problem import Problem
from kuantum_solvers.qio.quadratic import choose_layout, quadratic_model
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


def anneal(p: Problem, ctx: Context, runner: Runner, sweeps: int, restarts: int, beta_start: float,
           beta_stop: float, seed: int, salt: int = 0) -> list[np.ndarray]:
    bits = random_bits(seed + salt, restarts, p.n, p.initial)
    betas = schedule("geometric", beta_start, beta_stop, sweeps)
    q = quadratic_model(p)
    if q is not None:
        replicas = replica_set(q, choose_layout(restarts, ctx.threads_in_use, q.dtype), bits, seed, salt)

        def lane_step(start: int, count: int) -> float:
            nbetas = neg_beta_log2e(betas.chunk(start, count))
            replicas.anneal(nbetas, start)
            return replicas.best_cost() + p.offset

        runner.run(sweeps, lane_step, work=p.n * restarts)
        return replicas.best_bits() + replicas.bits()

    de, tstate, energy = init_replicas(p, bits)
    best_bits = bits.copy()
    best_energy = energy.copy()
    rng = rng_streams(seed, restarts, salt)

    def step(start: int, count: int) -> float:
        sa_sweeps(*problem_args(p), bits, de, tstate, energy, best_bits, best_energy, rng, betas.chunk(start, count))
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
