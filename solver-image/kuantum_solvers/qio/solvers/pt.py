"""Parallel tempering: one replica per temperature, Metropolis sweeps in parallel, then
neighbour swaps (of temperatures, not of configurations, so nothing is copied)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from kuantum_solvers.qio.gpu import GpuReplicaSet, replica_set
from kuantum_solvers.qio.kernels import metropolis_sweep, rand01
from kuantum_solvers.qio.lane_kernels import keep_best, neg_beta_log2e, sweep_block
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


@njit(cache=True, inline="always")
def swap_temperatures(betas, perm, energy, rng, stream):
    """Metropolis swaps of neighbouring temperatures (perm[k] = replica at betas[k]), coldest last."""
    for k in range(betas.shape[0] - 1):
        a = perm[k]
        b = perm[k + 1]
        x = (betas[k] - betas[k + 1]) * (energy[a] - energy[b])
        if x >= 0.0 or rand01(rng, stream) < np.exp(x):
            perm[k] = b
            perm[k + 1] = a


@njit(parallel=True, cache=True)
def pt_sweeps(term_ptr, term_vars, term_coef, var_ptr, var_terms, is_ising, bits, de, tstate, energy,
              best_bits, best_energy, rng, betas, perm, count):
    k_count = betas.shape[0]
    swap_stream = k_count  # last rng stream is reserved for swap decisions
    for _ in range(count):
        for k in prange(k_count):
            r = perm[k]
            energy[r] += metropolis_sweep(betas[k], r, term_ptr, term_vars, term_coef, var_ptr, var_terms,
                                          is_ising, bits[r], de[r], tstate[r], rng)
            if energy[r] < best_energy[r] - 1e-12:
                best_energy[r] = energy[r]
                best_bits[r, :] = bits[r]
        swap_temperatures(betas, perm, energy, rng, swap_stream)


@njit(parallel=True, cache=True)
def pt_sweeps_lanes(ptr, idx, w, spins, local, seeds, energy, best_spins, best_energy, betas, nbetas, perm, rng,
                    first_sweep, count):
    """`pt_sweeps` for replicas in lanes: replica r = perm[k] runs at betas[k] (nbetas[k] =
    -betas[k]·log2 e, in block r // lanes, lane r % lanes); padding lanes run at beta 0, never swap."""
    blocks, _, lanes = spins.shape
    nb = np.zeros((blocks, lanes), dtype=np.float32)
    flat_energy = energy.reshape(-1)
    for t in range(count):
        for k in range(betas.shape[0]):
            r = perm[k]
            nb[r // lanes, r % lanes] = nbetas[k]
        for b in prange(blocks):
            sweep_block(ptr, idx, w, spins[b], local[b], seeds[b], first_sweep + t, nb[b], energy[b])
            keep_best(spins[b], energy[b], best_spins[b], best_energy[b])
        swap_temperatures(betas, perm, flat_energy, rng, 0)


def temper(p: Problem, ctx: Context, runner: Runner, sweeps: int, betas: np.ndarray, seed: int,
           salt: int = 0) -> list[np.ndarray]:
    k = betas.shape[0]
    bits = random_bits(seed + salt, k, p.n, p.initial)
    perm = np.arange(k, dtype=np.int64)
    q = quadratic_model(p)
    if q is not None:
        replicas = replica_set(q, choose_layout(k, ctx.threads_in_use, q.dtype), bits, seed, salt)
        swap_rng = rng_streams(seed, 1, salt + 1)
        nbetas = neg_beta_log2e(betas)

        def lane_step(start: int, count: int) -> float:
            if isinstance(replicas, GpuReplicaSet):
                replicas.temper(betas, nbetas, perm, swap_rng, start, count)
            else:
                pt_sweeps_lanes(*replicas.kernel_args(), betas, nbetas, perm, swap_rng, start, count)
            return replicas.best_cost() + p.offset

        runner.run(sweeps, lane_step, work=p.n * k)
        return replicas.best_bits()

    de, tstate, energy = init_replicas(p, bits)
    best_bits = bits.copy()
    best_energy = energy.copy()
    rng = rng_streams(seed, k + 1, salt)

    def step(start: int, count: int) -> float:
        pt_sweeps(*problem_args(p), bits, de, tstate, energy, best_bits, best_energy, rng, betas, perm, count)
        return float(best_energy.min()) + p.offset

    runner.run(sweeps, step, work=p.n * k)
    return [best_bits[r] for r in range(k)]


def solve(p: Problem, params: dict[str, Any], ctx: Context, parameter_free: bool) -> SolveResult:
    threads = ctx.configure_threads()
    seed = make_seed(params.get("seed"))
    hot, cold = auto_beta_range(p)
    if parameter_free:
        runner = Runner(ctx, "parallel tempering (parameter-free)", params["timeout"])
        replicas = max(8, threads)
        betas = schedule("geometric", hot, cold, replicas).values()

        def round_fn(sweeps: int, salt: int) -> list[np.ndarray]:
            return temper(p, ctx, runner, sweeps, betas, seed, salt)

        states, sweeps, rounds = until_stable(p, runner, round_fn, 32)
        return SolveResult(states, {"sweeps": sweeps, "replicas": replicas, "all_betas": betas.tolist(),
                                    "rounds": rounds, "seed": seed, "timeout": params["timeout"]})
    if params["all_betas"] is not None:
        betas = np.sort(np.array(params["all_betas"], dtype=np.float64))
    else:
        betas = schedule("geometric", hot, cold, params["replicas"]).values()
    runner = Runner(ctx, "parallel tempering", params.get("timeout"))
    states = temper(p, ctx, runner, params["sweeps"], betas, seed)
    used = {"sweeps": params["sweeps"], "replicas": int(betas.shape[0]), "all_betas": betas.tolist(), "seed": seed}
    if params.get("timeout") is not None:
        used["timeout"] = params["timeout"]
    return SolveResult(states, used)
