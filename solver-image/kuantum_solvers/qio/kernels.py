"""Numba kernels shared by the QIO solvers.

State encoding: one bit per variable (pubo: x = bit; ising: s = 1 - 2*bit). Per term we keep
`tstate` (ising: parity of set bits; pubo: number of zero bits), per variable `de` = the cost
change if that variable were flipped. Flipping v touches only the terms containing v and their
variables, so an accepted move costs O(sum of their sizes) and a rejected one O(1).

Random numbers come from one splitmix64 stream per replica so results do not depend on how
numba schedules replicas onto threads (seeded runs are reproducible on any core count).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def rand_u64(rng, r):
    s = rng[r] + _GOLDEN
    rng[r] = s
    z = (s ^ (s >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def rand01(rng, r):
    return float(rand_u64(rng, r) >> _S11) * _INV53


@njit(cache=True, inline="always")
def randint(rng, r, k):
    i = int(rand01(rng, r) * k)
    return i if i < k else k - 1


@njit(cache=True, inline="always")
def _contrib(is_ising, c, ts, bit):
    """Contribution of one term (coefficient c, term state ts) to de of a variable with this bit."""
    if is_ising:
        return -2.0 * c * (1.0 - 2.0 * ts)
    if bit == 0:
        return c if ts == 1 else 0.0
    return -c if ts == 0 else 0.0


@njit(cache=True)
def init_state(term_ptr, term_vars, term_coef, var_ptr, var_terms, is_ising, bits, de, tstate):
    """Fill tstate and de for the configuration in `bits`; return the cost (without offset)."""
    n_terms = term_coef.shape[0]
    energy = 0.0
    for t in range(n_terms):
        cnt = 0
        for k in range(term_ptr[t], term_ptr[t + 1]):
            b = bits[term_vars[k]]
            cnt += b if is_ising else 1 - b
        if is_ising:
            ts = cnt & 1
            tstate[t] = ts
            energy += term_coef[t] * (1.0 - 2.0 * ts)
        else:
            tstate[t] = cnt
            if cnt == 0:
                energy += term_coef[t]
    for v in range(bits.shape[0]):
        d = 0.0
        for k in range(var_ptr[v], var_ptr[v + 1]):
            t = var_terms[k]
            d += _contrib(is_ising, term_coef[t], tstate[t], bits[v])
        de[v] = d
    return energy


@njit(cache=True, inline="always")
def flip(v, term_ptr, term_vars, term_coef, var_ptr, var_terms, is_ising, bits, de, tstate):
    """Flip variable v, updating term states and every affected de entry."""
    bv = bits[v]
    for k in range(var_ptr[v], var_ptr[v + 1]):
        t = var_terms[k]
        c = term_coef[t]
        old = tstate[t]
        if is_ising:
            new = old ^ 1
        else:
            new = old - 1 if bv == 0 else old + 1
        tstate[t] = new
        for j in range(term_ptr[t], term_ptr[t + 1]):
            u = term_vars[j]
            if u != v:
                bu = bits[u]
                de[u] += _contrib(is_ising, c, new, bu) - _contrib(is_ising, c, old, bu)
    bits[v] = 1 - bv
    de[v] = -de[v]


@njit(cache=True, inline="always")
def metropolis_sweep(beta, r, term_ptr, term_vars, term_coef, var_ptr, var_terms, is_ising,
                     bits, de, tstate, rng):
    """One sequential Metropolis sweep of replica r at inverse temperature beta; returns cost change."""
    n = bits.shape[0]
    total = 0.0
    for v in range(n):
        d = de[v]
        if d <= 0.0:
            accept = True
        elif beta * d > 40.0:  # exp(-40) ~ 4e-18: never accepted, skip the RNG draw
            accept = False
        else:
            accept = rand01(rng, r) < np.exp(-beta * d)
        if accept:
            flip(v, term_ptr, term_vars, term_coef, var_ptr, var_terms, is_ising, bits, de, tstate)
            total += d
    return total
