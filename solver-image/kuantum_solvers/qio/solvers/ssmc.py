"""Substochastic Monte Carlo: a population of walkers doing random single flips (probability α(t))
and birth/death by energy relative to the population (rate β(t)), implemented as reweighting and
systematic resampling to keep the population at `target_population`."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from kuantum_solvers.qio.kernels import flip, rand01, randint
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
from kuantum_solvers.qio.solvers.pa import systematic_resample


@njit(parallel=True, cache=True)
def walk(term_ptr, term_vars, term_coef, var_ptr, var_terms, is_ising, bits, de, tstate, energy,
         best_bits, best_energy, rng, alpha, steps):
    n = bits.shape[1]
    if n == 0:
        return
    for r in prange(bits.shape[0]):
        for _ in range(steps):
            if rand01(rng, r) < alpha:
                v = randint(rng, r, n)
                energy[r] += de[r, v]
                flip(v, term_ptr, term_vars, term_coef, var_ptr, var_terms, is_ising, bits[r], de[r], tstate[r])
                if energy[r] < best_energy[r] - 1e-12:
                    best_energy[r] = energy[r]
                    best_bits[r, :] = bits[r]


def run_walkers(p: Problem, runner: Runner, alphas: Schedule, betas: Schedule, walkers: int,
                steps_per_walker: int, seed: int, salt: int = 0) -> list[np.ndarray]:
    bits = random_bits(seed + salt, walkers, p.n, p.initial)
    de, tstate, energy = init_replicas(p, bits)
    best_bits = bits.copy()
    best_energy = energy.copy()
    rng = rng_streams(seed, walkers, salt)
    gen = np.random.default_rng([seed, salt, 13])
    state: dict[str, Any] = {"bits": bits, "de": de, "tstate": tstate, "energy": energy}

    def step(start: int, count: int) -> float:
        for s in range(start, start + count):
            walk(*problem_args(p), state["bits"], state["de"], state["tstate"], state["energy"], best_bits,
                 best_energy, rng, float(alphas[s]), steps_per_walker)
            e = state["energy"]
            # Walkers above the population mean tend to die, those below to split.
            logw = -(1.0 - float(alphas[s])) * float(betas[s]) * (e - e.mean())
            idx = systematic_resample(gen, logw)
            for key in ("bits", "de", "tstate", "energy"):
                state[key] = np.ascontiguousarray(state[key][idx])
        return float(best_energy.min()) + p.offset

    runner.run(alphas.count, step, unit="steps", work=walkers * steps_per_walker)
    return [best_bits[r] for r in range(walkers)] + [state["bits"][r] for r in range(walkers)]


def solve(p: Problem, params: dict[str, Any], ctx: Context, parameter_free: bool) -> SolveResult:
    threads = ctx.configure_threads()
    seed = make_seed(params.get("seed"))
    hot, cold = auto_beta_range(p)
    default_alpha: dict[str, Any] = {"type": "linear", "initial": 0.5, "final": 0.05}
    default_beta: dict[str, Any] = {"type": "linear", "initial": hot, "final": cold}
    if parameter_free:
        runner = Runner(ctx, "substochastic Monte Carlo (parameter-free)", params["timeout"])
        walkers = 64 * threads
        spw = max(1, p.n // 4)

        def round_fn(steps: int, salt: int) -> list[np.ndarray]:
            return run_walkers(p, runner, schedule("linear", 0.5, 0.05, steps), schedule("linear", hot, cold, steps),
                               walkers, spw, seed, salt)

        states, steps, rounds = until_stable(p, runner, round_fn, 32)
        return SolveResult(states, {"step_limit": steps, "steps_per_walker": spw, "target_population": walkers,
                                    "alpha": default_alpha, "beta": default_beta, "rounds": rounds, "seed": seed,
                                    "timeout": params["timeout"]})
    alpha = params["alpha"] or default_alpha
    beta = params["beta"] or default_beta
    for name, sched in (("alpha", alpha),):
        if not (0.0 <= sched["initial"] <= 1.0 and 0.0 <= sched["final"] <= 1.0):
            from kuantum_solvers.formats.errors import invalid_params

            raise invalid_params(f"parameter {name!r}: schedule values must be in [0, 1], got {sched}")
    steps = params["step_limit"]
    walkers = params["target_population"] or 64 * threads
    runner = Runner(ctx, "substochastic Monte Carlo", params.get("timeout"))
    states = run_walkers(p, runner, schedule(alpha["type"], alpha["initial"], alpha["final"], steps),
                         schedule(beta["type"], beta["initial"], beta["final"], steps), walkers,
                         params["steps_per_walker"], seed)
    used = {"step_limit": steps, "steps_per_walker": params["steps_per_walker"], "target_population": walkers,
            "alpha": alpha, "beta": beta, "seed": seed}
    if params.get("timeout") is not None:
        used["timeout"] = params["timeout"]
    return SolveResult(states, used)
