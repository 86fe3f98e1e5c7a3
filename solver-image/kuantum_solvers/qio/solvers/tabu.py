"""Tabu search: best non-tabu single flip each iteration (aspiration when it beats the best),
independent restarts in parallel."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from kuantum_solvers.qio.kernels import flip, randint
from kuantum_solvers.qio.problem import Problem
from kuantum_solvers.qio.solvers.common import (
    Context,
    Runner,
    SolveResult,
    init_replicas,
    make_seed,
    problem_args,
    random_bits,
    rng_streams,
    until_stable,
)


@njit(parallel=True, cache=True)
def tabu_moves(term_ptr, term_vars, term_coef, var_ptr, var_terms, is_ising, bits, de, tstate, energy,
               best_bits, best_energy, tabu_until, rng, start, count, tenure):
    n = bits.shape[1]
    for r in prange(bits.shape[0]):
        for it in range(start, start + count):
            # Scan from a random offset so ties are broken randomly (no bias to low ids).
            offset = randint(rng, r, n)
            best_v = -1
            best_d = np.inf
            for j in range(n):
                v = j + offset
                if v >= n:
                    v -= n
                d = de[r, v]
                if d < best_d and (tabu_until[r, v] <= it or energy[r] + d < best_energy[r] - 1e-12):
                    best_d = d
                    best_v = v
            if best_v < 0:
                continue
            flip(best_v, term_ptr, term_vars, term_coef, var_ptr, var_terms, is_ising, bits[r], de[r], tstate[r])
            energy[r] += best_d
            tabu_until[r, best_v] = it + tenure + 1
            if energy[r] < best_energy[r] - 1e-12:
                best_energy[r] = energy[r]
                best_bits[r, :] = bits[r]


def search(p: Problem, runner: Runner, moves: int, restarts: int, tenure: int, seed: int,
           salt: int = 0) -> list[np.ndarray]:
    bits = random_bits(seed + salt, restarts, p.n, p.initial)
    de, tstate, energy = init_replicas(p, bits)
    best_bits = bits.copy()
    best_energy = energy.copy()
    tabu_until = np.zeros((restarts, p.n), dtype=np.int64)
    rng = rng_streams(seed, restarts, salt)

    def step(start: int, count: int) -> float:
        tabu_moves(*problem_args(p), bits, de, tstate, energy, best_bits, best_energy, tabu_until, rng,
                   start, count, tenure)
        return float(best_energy.min()) + p.offset

    runner.run(moves, step, unit="moves", work=p.n * restarts)
    return [best_bits[r] for r in range(restarts)]


def default_tenure(n: int) -> int:
    return max(1, min(20, n // 4))


def solve(p: Problem, params: dict[str, Any], ctx: Context, parameter_free: bool) -> SolveResult:
    threads = ctx.configure_threads()
    seed = make_seed(params.get("seed"))
    tenure = default_tenure(p.n)
    if parameter_free:
        runner = Runner(ctx, "tabu search (parameter-free)", params["timeout"])
        restarts = max(threads, 4)

        def round_fn(moves: int, salt: int) -> list[np.ndarray]:
            return search(p, runner, moves, restarts, tenure, seed, salt)

        states, moves, rounds = until_stable(p, runner, round_fn, max(64, 4 * p.n))
        return SolveResult(states, {"sweeps": moves, "tabu_tenure": tenure, "restarts": restarts,
                                    "rounds": rounds, "seed": seed, "timeout": params["timeout"]})
    if params["tabu_tenure"] is not None:
        tenure = params["tabu_tenure"]
    restarts = params["restarts"] or threads
    runner = Runner(ctx, "tabu search", params.get("timeout"))
    states = search(p, runner, params["sweeps"], restarts, tenure, seed)
    used = {"sweeps": params["sweeps"], "tabu_tenure": tenure, "restarts": restarts, "seed": seed}
    if params.get("timeout") is not None:
        used["timeout"] = params["timeout"]
    return SolveResult(states, used)
