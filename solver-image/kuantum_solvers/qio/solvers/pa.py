"""Population annealing: a population of replicas cooled along a beta schedule; replicas are
reweighted by exp(-dβ·E) and resampled when the effective population drops below population/alpha,
then each replica does one Metropolis sweep per step."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from kuantum_solvers.qio.kernels import metropolis_sweep
from kuantum_solvers.qio.problem import Problem
from kuantum_solvers.qio.solvers.common import (
    Context,
    Runner,
    Schedule,
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
def sweep_all(term_ptr, term_vars, term_coef, var_ptr, var_terms, is_ising, bits, de, tstate, energy,
              best_bits, best_energy, rng, beta):
    for r in prange(bits.shape[0]):
        energy[r] += metropolis_sweep(beta, r, term_ptr, term_vars, term_coef, var_ptr, var_terms,
                                      is_ising, bits[r], de[r], tstate[r], rng)
        if energy[r] < best_energy[r] - 1e-12:
            best_energy[r] = energy[r]
            best_bits[r, :] = bits[r]


def systematic_resample(gen: np.random.Generator, logw: np.ndarray) -> np.ndarray:
    """Indices of the resampled population (low variance systematic resampling)."""
    w = np.exp(logw - logw.max())
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    m = logw.shape[0]
    u = (gen.random() + np.arange(m)) / m
    return np.minimum(np.searchsorted(cdf, u), m - 1)


def effective_size(logw: np.ndarray) -> float:
    w = np.exp(logw - logw.max())
    return float(w.sum() ** 2 / (w * w).sum())


def anneal_population(p: Problem, runner: Runner, betas: Schedule, population: int, alpha: float, seed: int,
                      salt: int = 0) -> list[np.ndarray]:
    bits = random_bits(seed + salt, population, p.n, p.initial)
    de, tstate, energy = init_replicas(p, bits)
    best_bits = bits.copy()
    best_energy = energy.copy()
    rng = rng_streams(seed, population, salt)
    gen = np.random.default_rng([seed, salt, 11])
    logw = np.zeros(population)
    state: dict[str, Any] = {"bits": bits, "de": de, "tstate": tstate, "energy": energy, "prev": float(betas[0])}

    def step(start: int, count: int) -> float:
        for s in range(start, start + count):
            beta = float(betas[s])
            logw[:] += -(beta - state["prev"]) * state["energy"]
            state["prev"] = beta
            if effective_size(logw) < population / alpha:
                idx = systematic_resample(gen, logw)
                for key in ("bits", "de", "tstate", "energy"):
                    state[key] = np.ascontiguousarray(state[key][idx])
                logw[:] = 0.0
            sweep_all(*problem_args(p), state["bits"], state["de"], state["tstate"], state["energy"],
                      best_bits, best_energy, rng, beta)
        return float(best_energy.min()) + p.offset

    runner.run(betas.count, step, unit="steps", work=p.n * population)
    return [best_bits[r] for r in range(population)]


def solve(p: Problem, params: dict[str, Any], ctx: Context, parameter_free: bool) -> SolveResult:
    threads = ctx.configure_threads()
    seed = make_seed(params.get("seed"))
    hot, cold = auto_beta_range(p)
    if parameter_free:
        runner = Runner(ctx, "population annealing (parameter-free)", params["timeout"])
        population = 64 * threads

        def round_fn(steps: int, salt: int) -> list[np.ndarray]:
            return anneal_population(p, runner, schedule("geometric", hot, cold, steps), population, 2.0, seed, salt)

        states, steps, rounds = until_stable(p, runner, round_fn, 32)
        return SolveResult(states, {"sweeps": steps, "population": population, "alpha": 2.0,
                                    "beta": {"type": "geometric", "initial": hot, "final": cold},
                                    "rounds": rounds, "seed": seed, "timeout": params["timeout"]})
    beta_spec = params["beta"] or {"type": "geometric", "initial": hot, "final": cold}
    population = params["population"] or 64 * threads
    betas = schedule(beta_spec["type"], beta_spec["initial"], beta_spec["final"], params["sweeps"])
    runner = Runner(ctx, "population annealing", params.get("timeout"))
    states = anneal_population(p, runner, betas, population, params["alpha"], seed)
    used = {"sweeps": params["sweeps"], "population": population, "alpha": params["alpha"], "beta": beta_spec,
            "seed": seed}
    if params.get("timeout") is not None:
        used["timeout"] = params["timeout"]
    return SolveResult(states, used)
