"""Numba kernels for quadratic problems written in local fields, one replica per SIMD lane.

A quadratic problem (Ising, or PUBO rewritten in spins s = 1 - 2x) has cost
Σ h_v s_v + Σ J_uv s_u s_v + const. Each replica keeps its spins s_v = ±1 and local fields
f_v = h_v + Σ_u J_uv s_u; flipping v costs d = -2 s_v f_v and adds w_k·s_v (w = -2J) to the field
of each neighbour. Unlike cost deltas, fields never read the neighbours' spins.

Replicas are stored variable-major, `[n, lanes]`: sweeping variable v touches one contiguous row in
every replica at once, and the lane loops are branch-free so LLVM vectorises them (8 float32 or 4
float64 lanes per AVX2 instruction). Acceptance is decided by a pure function of (replica seed,
sweep counter, variable): `scalar_sweep`, the branchy kernel for a replica of its own, makes the
very same decisions as `lane_sweep`, so results do not depend on how replicas are grouped into
lanes or threads.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

# Draws are 24-bit uniforms in (0, 1): the smallest is 2^-25, so moves with acceptance probability
# below that (beta·d·log2(e) > 26) are never taken and the scalar kernel skips them without a draw.
_INV24 = np.float32(1.0 / 16777216.0)
_HALF24 = np.float32(0.5 / 16777216.0)
NEVER_ACCEPTED = np.float32(-26.0)
_EXP2_FLOOR = np.float32(-126.0)
_ZERO32 = np.float32(0.0)
_LOG2E = 1.4426950408889634
_KEY_STEP = np.uint32(0x9E3779B9)
_VAR_STEP = np.uint32(0x85EBCA6B)


@intrinsic
def _float32_from_bits(typingctx, bits):
    """Reinterpret an int32 as a float32 (a bitcast, which LLVM vectorises)."""
    if bits != types.int32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@njit(cache=True, inline="always")
def exp2(x):
    """2**x for float32 x in [-126, 0], relative error < 2e-7: a degree-5 polynomial for the
    fraction and the exponent written into the float's bits (no libm call, so it vectorises)."""
    whole = np.floor(x)
    frac = x - whole
    p = np.float32(1.8775767e-3)
    p = p * frac + np.float32(8.9893397e-3)
    p = p * frac + np.float32(5.5826318e-2)
    p = p * frac + np.float32(2.4015361e-1)
    p = p * frac + np.float32(6.9315308e-1)
    p = p * frac + np.float32(9.9999994e-1)
    return p * _float32_from_bits(np.int32((np.int32(whole) + np.int32(127)) << np.int32(23)))


@njit(cache=True, inline="always")
def hash32(x):
    """A 32-bit integer hash with good avalanche (a bijection on uint32)."""
    x = np.uint32(x ^ (x >> np.uint32(16)))
    x = np.uint32(x * np.uint32(0x7FEB352D))
    x = np.uint32(x ^ (x >> np.uint32(15)))
    x = np.uint32(x * np.uint32(0x846CA68B))
    return np.uint32(x ^ (x >> np.uint32(16)))


@njit(cache=True, inline="always")
def sweep_key(seed, counter):
    """Per-replica, per-sweep key of the counter-based random stream."""
    return hash32(np.uint32(seed + np.uint32(counter) * _KEY_STEP))


@njit(cache=True, inline="always")
def uniform(key, v):
    """Uniform draw in (0, 1) for variable v under a sweep key."""
    bits = hash32(np.uint32(key ^ np.uint32(np.uint32(v) * _VAR_STEP)))
    return np.float32(bits >> np.uint32(8)) * _INV24 + _HALF24


@njit(cache=True, inline="always")
def exponent(neg_beta_log2e, d):
    """log2 of the acceptance probability of a move costing d > 0 (clamped to float32 range)."""
    return max(min(_ZERO32, np.float32(neg_beta_log2e * d)), _EXP2_FLOOR)


def neg_beta_log2e(beta: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """The temperature parameter the kernels take, -beta·log2(e), for each beta."""
    return np.asarray(-np.asarray(beta, dtype=np.float64) * _LOG2E, dtype=np.float32)


@njit(cache=True, inline="always")
def lane_sweep(ptr, idx, w, s, f, keys, nb, gained, moved):
    """One Metropolis sweep of every lane; lane l runs at -beta·log2(e) = nb[l]."""
    n, lanes = s.shape
    zero = s.dtype.type(0.0)
    two = s.dtype.type(2.0)
    for v in range(n):
        s_row = s[v]
        f_row = f[v]
        for lane in range(lanes):
            sv = s_row[lane]
            d = -two * sv * f_row[lane]
            u = uniform(keys[lane], v)
            take = (d <= zero) | (u < exp2(exponent(nb[lane], d)))
            step = sv if take else zero
            moved[lane] = step
            s_row[lane] = sv - two * step
            gained[lane] += d if take else zero
        for k in range(ptr[v], ptr[v + 1]):
            f_row = f[idx[k]]
            wk = w[k]
            for lane in range(lanes):
                f_row[lane] += wk * moved[lane]


@njit(cache=True, inline="always")
def scalar_sweep(ptr, idx, w, s, f, key, nb, gained, lane):
    """`lane_sweep` for a single lane, with branches: a rejected move costs no neighbour updates
    and a hopeless one no random draw. Same decisions, bit for bit."""
    n = s.shape[0]
    zero = s.dtype.type(0.0)
    two = s.dtype.type(2.0)
    total = zero
    # One-entry memo of the acceptance probability: problems with few distinct move costs (±J)
    # skip most exp2 evaluations; the value is the same either way.
    last_d = zero
    last_p = np.float32(1.0)
    for v in range(n):
        sv = s[v, lane]
        d = -two * sv * f[v, lane]
        if d > zero:
            if d != last_d:
                x = exponent(nb, d)
                last_d = d
                last_p = exp2(x) if x >= NEVER_ACCEPTED else np.float32(0.0)
            if not uniform(key, v) < last_p:
                continue
        for k in range(ptr[v], ptr[v + 1]):
            f[idx[k], lane] += w[k] * sv
        s[v, lane] = -sv
        total += d
    gained[lane] += total


@njit(cache=True, inline="always")
def sweep_block(ptr, idx, w, s, f, seeds, counter, nb, energy):
    """Sweep number `counter` of a block of lanes at per-lane temperatures nb (scalar code for a
    lone lane). Energy changes are summed per sweep in the kernel dtype, then added to `energy`."""
    lanes = s.shape[1]
    keys = np.empty(lanes, dtype=np.uint32)
    for lane in range(lanes):
        keys[lane] = sweep_key(seeds[lane], counter)
    gained = np.zeros(lanes, dtype=s.dtype)
    if lanes == 1:
        scalar_sweep(ptr, idx, w, s, f, keys[0], nb[0], gained, 0)
    else:
        lane_sweep(ptr, idx, w, s, f, keys, nb, gained, np.empty(lanes, dtype=s.dtype))
    for lane in range(lanes):
        energy[lane] += gained[lane]


@njit(cache=True, inline="always")
def keep_best(s, energy, best_s, best_energy):
    """Copy the spins of every lane whose energy beat its best so far: the whole block at once
    when every lane improved (common while cooling), else lane by lane."""
    lanes = s.shape[1]
    improved = 0
    for lane in range(lanes):
        if energy[lane] < best_energy[lane] - 1e-12:
            improved += 1
    if improved == lanes:
        best_s[:, :] = s
        best_energy[:] = energy
        return
    for lane in range(lanes):
        if energy[lane] < best_energy[lane] - 1e-12:
            best_energy[lane] = energy[lane]
            best_s[:, lane] = s[:, lane]


@njit(parallel=True, cache=True)
def anneal_blocks(ptr, idx, w, spins, local, seeds, energy, best_spins, best_energy, nbetas, first_sweep):
    """Sweeps first_sweep, first_sweep + 1, ... of every block (in parallel) at the temperatures
    nbetas[t] shared by all lanes, keeping each lane's best state."""
    blocks, _, lanes = spins.shape
    for b in prange(blocks):
        nb = np.empty(lanes, dtype=np.float32)
        for t in range(nbetas.shape[0]):
            nb[:] = nbetas[t]
            sweep_block(ptr, idx, w, spins[b], local[b], seeds[b], first_sweep + t, nb, energy[b])
            keep_best(spins[b], energy[b], best_spins[b], best_energy[b])


@njit(cache=True)
def local_fields(ptr, idx, couplings, h, s, out):
    """f = h + J·s for every block and lane, summed in float64 (exact start, whatever the dtype)."""
    blocks, n, lanes = s.shape
    acc = np.empty(lanes, dtype=np.float64)
    for b in range(blocks):
        for v in range(n):
            for lane in range(lanes):
                acc[lane] = h[v]
            for k in range(ptr[v], ptr[v + 1]):
                u = idx[k]
                for lane in range(lanes):
                    acc[lane] += couplings[k] * s[b, u, lane]
            for lane in range(lanes):
                out[b, v, lane] = acc[lane]
