"""Population annealing: a population of replicas cooled along a beta schedule; replicas are
reweighted by exp(-dβ·E) and resampled when the effective population drops below population/alpha,
then each replica does one Metropolis sweep per step."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from kuantum_solvers.qio.gpu import replica_set
from kuantum_solvers.qio.kernels import metropolis_sweep
from kuantum_solvers.qio.problem import Problem
from kuantum_solvers.qio.quadratic import ReplicaSet, choose_layout, quadratic_model
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


class _TermPopulation:
    """Replicas of a k-local problem for the term kernels; same interface as ReplicaSet."""

    def __init__(self, p: Problem, bits: np.ndarray, seed: int, salt: int) -> None:
        self.p = p
        self.bits = bits
        self.de, self.tstate, self.energy = init_replicas(p, bits)
        self.best = bits.copy()
        self.best_energy = self.energy.copy()
        self.rng = rng_streams(seed, bits.shape[0], salt)

    def energies(self) -> np.ndarray:
        return self.energy

    def resample(self, order: np.ndarray) -> None:
        for key in ("bits", "de", "tstate", "energy"):
            setattr(self, key, np.ascontiguousarray(getattr(self, key)[order]))

    def sweep_at(self, beta: float, _index: int) -> None:
        sweep_all(*problem_args(self.p), self.bits, self.de, self.tstate, self.energy, self.best,
                  self.best_energy, self.rng, beta)

    def best_cost(self) -> float:
        return float(self.best_energy.min())

    def best_bits(self) -> list[np.ndarray]:
        return [self.best[r] for r in range(self.best.shape[0])]


def anneal_population(p: Problem, ctx: Context, runner: Runner, betas: Schedule, population: int, alpha: float,
                      seed: int, salt: int = 0) -> list[np.ndarray]:
    bits = random_bits(seed + salt, population, p.n, p.initial)
    q = quadratic_model(p)
    pop: _TermPopulation | ReplicaSet
    if q is not None:
        pop = replica_set(q, choose_layout(population, ctx.threads_in_use, q.dtype), bits, seed, salt)
    else:
        pop = _TermPopulation(p, bits, seed, salt)
    gen = np.random.default_rng([seed, salt, 11])
    logw = np.zeros(population)
    prev = [float(betas[0])]

    def step(start: int, count: int) -> float:
        for s in range(start, start + count):
            beta = float(betas[s])
            logw[:] += -(beta - prev[0]) * pop.energies()
            prev[0] = beta
            if effective_size(logw) < population / alpha:
                pop.resample(systematic_resample(gen, logw))
                logw[:] = 0.0
            pop.sweep_at(beta, s)
        return pop.best_cost() + p.offset

    runner.run(betas.count, step, unit="steps", work=p.n * population)
    return pop.best_bits()


def solve(p: Problem, params: dict[str, Any], ctx: Context, parameter_free: bool) -> SolveResult:
    threads = ctx.configure_threads()
    seed = make_seed(params.get("seed"))
    hot, cold = auto_beta_range(p)
    if parameter_free:
        runner = Runner(ctx, "population annealing (parameter-free)", params["timeout"])
        population = 64 * threads

        def round_fn(steps: int, salt: int) -> list[np.ndarray]:
            betas = schedule("geometric", hot, cold, steps)
            return anneal_population(p, ctx, runner, betas, population, 2.0, seed, salt)

        states, steps, rounds = until_stable(p, runner, round_fn, 32)
        return SolveResult(states, {"sweeps": steps, "population": population, "alpha": 2.0,
                                    "beta": {"type": "geometric", "initial": hot, "final": cold},
                                    "rounds": rounds, "seed": seed, "timeout": params["timeout"]})
    beta_spec = params["beta"] or {"type": "geometric", "initial": hot, "final": cold}
    population = params["population"] or 64 * threads
    betas = schedule(beta_spec["type"], beta_spec["initial"], beta_spec["final"], params["sweeps"])
    runner = Runner(ctx, "population annealing", params.get("timeout"))
    states = anneal_population(p, ctx, runner, betas, population, params["alpha"], seed)
    used = {"sweeps": params["sweeps"], "population": population, "alpha": params["alpha"], "beta": beta_spec,
            "seed": seed}
    if params.get("timeout") is not None:
        used["timeout"] = params["timeout"]
    return SolveResult(states, used)
