"""Path-integral (Trotterised) quantum Monte Carlo annealing: `trotter_number` coupled replicas of
the problem, transverse field Γ lowered linearly; independent restarts in parallel."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

from kuantum_solvers.qio.kernels import flip, rand01
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
    schedule,
    typical_delta,
)


@njit(parallel=True, cache=True)
def qmc_sweeps(term_ptr, term_vars, term_coef, var_ptr, var_terms, is_ising, bits, de, tstate, energy,
               best_bits, best_energy, rng, slices, beta, couplings):
    """Rows r*slices .. r*slices+slices-1 are the Trotter slices of restart r."""
    n = bits.shape[1]
    restarts = bits.shape[0] // slices
    b_slice = beta / slices
    for r in prange(restarts):
        base = r * slices
        for c in range(couplings.shape[0]):
            kperp = couplings[c]
            for k in range(slices):
                row = base + k
                prev = base + (k - 1 + slices) % slices
                nxt = base + (k + 1) % slices
                for v in range(n):
                    s = 1.0 - 2.0 * bits[row, v]
                    nb = (1.0 - 2.0 * bits[prev, v]) + (1.0 - 2.0 * bits[nxt, v])
                    ds = b_slice * de[row, v] + 2.0 * kperp * s * nb
                    if ds <= 0.0 or (ds < 40.0 and rand01(rng, r) < np.exp(-ds)):
                        energy[row] += de[row, v]
                        flip(v, term_ptr, term_vars, term_coef, var_ptr, var_terms, is_ising,
                             bits[row], de[row], tstate[row])
                if energy[row] < best_energy[row] - 1e-12:
                    best_energy[row] = energy[row]
                    best_bits[row, :] = bits[row]


def coupling(beta: float, gamma: float, slices: int) -> float:
    """Inter-slice ferromagnetic coupling K = ½·ln coth(βΓ/P) (large when Γ → 0)."""
    x = max(beta * gamma / slices, 1e-12)
    return 0.5 * math.log(1.0 / math.tanh(x)) if x < 20 else 0.0


def solve(p: Problem, params: dict[str, Any], ctx: Context, parameter_free: bool) -> SolveResult:
    threads = ctx.configure_threads()
    seed = make_seed(params.get("seed"))
    slices = params["trotter_number"]
    # Default β: a few units of the problem's typical move size (slices see it at β/P, and
    # the inter-slice coupling makes the ensemble colder as Γ drops).
    beta = params["beta_start"] if params["beta_start"] is not None else 5.0 / typical_delta(p)
    restarts = params["restarts"] or threads
    sweeps = params["sweeps"]
    gammas = schedule("linear", params["transverse_field_start"], params["transverse_field_stop"], sweeps)
    bits = random_bits(seed, restarts * slices, p.n, p.initial)
    de, tstate, energy = init_replicas(p, bits)
    best_bits = bits.copy()
    best_energy = energy.copy()
    rng = rng_streams(seed, restarts)

    def step(start: int, count: int) -> float:
        qmc_sweeps(*problem_args(p), bits, de, tstate, energy, best_bits, best_energy, rng, slices, beta,
                   np.array([coupling(beta, g, slices) for g in gammas.chunk(start, count)]))
        return float(best_energy.min()) + p.offset

    Runner(ctx, "quantum Monte Carlo", None).run(sweeps, step, work=p.n * slices * restarts)
    used = {"sweeps": sweeps, "trotter_number": slices, "transverse_field_start": params["transverse_field_start"],
            "transverse_field_stop": params["transverse_field_stop"], "beta_start": beta, "restarts": restarts,
            "seed": seed}
    return SolveResult([best_bits[r] for r in range(best_bits.shape[0])], used)
