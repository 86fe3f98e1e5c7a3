"""Quadratic problems in spin form, and replica sets laid out for the lane kernels.

Any problem whose terms have at most two variables (Ising, or PUBO via x = (1 - s) / 2) becomes
fields h and couplings J on spins. Replicas live in blocks of `lanes` replicas, `[block, n, lane]`;
a block is swept by one thread, lanes in SIMD (see lane_kernels). Replica r is block r // lanes,
lane r % lanes; lanes past the last replica are padding: swept, never reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import llvmlite.binding as llvm
import numpy as np
import numpy.typing as npt

from kuantum_solvers.qio.lane_kernels import anneal_blocks, local_fields, neg_beta_log2e
from kuantum_solvers.qio.problem import Problem

# Problems whose coefficients are multiples of 2^-k (integers, halves, ...; PUBO adds two bits) and
# stay small run the faster float32 kernels exactly.
_MAX_FRACTION_BITS = 12
# Measured on AVX2 (benchmarks/qio_sa.py): per replica, a lane sweep costs about this fraction of
# a scalar sweep with branches. Decides when filling lanes pays off.
LANE_COST = {np.dtype(np.float32): 0.3, np.dtype(np.float64): 0.4}
_LANE_WIDTHS = (8, 16, 32, 64)


@dataclass(frozen=True)
class QuadraticModel:
    n: int
    ptr: npt.NDArray[np.int64]  # neighbours of v: idx[ptr[v]:ptr[v+1]]
    idx: npt.NDArray[np.int32]
    couplings: npt.NDArray[np.float64]  # J_uv per neighbour entry (both directions)
    fields: npt.NDArray[np.float64]  # h_v
    constant: float  # cost of the spin form not carried by h and J (PUBO rewriting), offset excluded
    dtype: np.dtype  # float32 where exact, else float64

    @property
    def flip_weights(self) -> npt.NDArray[np.floating]:
        """w = -2J in the kernel dtype: what a flip of s_v = ±1 adds (times s_v) to each neighbour."""
        return (-2.0 * self.couplings).astype(self.dtype)


def quadratic_model(p: Problem) -> QuadraticModel | None:
    """The spin form of a problem with only 1- and 2-variable terms; None for k-local problems."""
    lengths = np.diff(p.term_ptr)
    if lengths.size and lengths.max() > 2:
        return None
    starts = p.term_ptr[:-1]
    ones = np.flatnonzero(lengths == 1)
    pairs = np.flatnonzero(lengths == 2)
    a = p.term_vars[starts[pairs]]
    b = p.term_vars[starts[pairs] + 1]
    c_pair = p.term_coef[pairs]
    h = np.zeros(p.n)
    constant = 0.0
    if p.is_ising:
        j = c_pair
        np.add.at(h, p.term_vars[starts[ones]], p.term_coef[ones])
    else:  # c·x = c/2 - (c/2)·s and c·x_a·x_b = (c/4)(1 - s_a - s_b + s_a·s_b)
        j = c_pair / 4.0
        np.add.at(h, p.term_vars[starts[ones]], -p.term_coef[ones] / 2.0)
        np.add.at(h, a, -c_pair / 4.0)
        np.add.at(h, b, -c_pair / 4.0)
        constant = float(p.term_coef[ones].sum() / 2.0 + c_pair.sum() / 4.0)
    src = np.concatenate([a, b])
    order = np.argsort(src, kind="stable")
    idx = np.concatenate([b, a]).astype(np.int32)[order]
    couplings = np.concatenate([j, j])[order]
    ptr = np.zeros(p.n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=p.n), out=ptr[1:])
    return QuadraticModel(p.n, ptr, idx, couplings, h, constant, _kernel_dtype(ptr, couplings, h))


def _kernel_dtype(ptr: npt.NDArray[np.int64], couplings: npt.NDArray[np.float64],
                  h: npt.NDArray[np.float64]) -> np.dtype:
    """float32 when every field, move cost and update is exact in it: all values are multiples of one
    power of two 2^-k and |move cost| = 2|f| stays below 2^24 of those units; else float64."""
    values = np.concatenate([couplings, h])
    bound = np.abs(h).copy()
    np.add.at(bound, np.repeat(np.arange(h.shape[0]), np.diff(ptr)), np.abs(couplings))
    for k in range(_MAX_FRACTION_BITS + 1):
        scaled = values * 2.0**k
        if np.array_equal(scaled, np.round(scaled)):
            fits = 2.0 * float(bound.max(initial=0.0)) * 2.0**k < 2.0**24
            return np.dtype(np.float32 if fits else np.float64)
    return np.dtype(np.float64)


def _lane_quantum() -> int:
    """Lanes per block are a multiple of the vector width LLVM picks: 16 float32 on AVX-512."""
    features = llvm.get_host_cpu_features()
    return 16 if features.get("avx512f", False) else 8


LANE_QUANTUM = _lane_quantum()


@dataclass(frozen=True)
class Layout:
    blocks: int
    lanes: int
    replicas: int

    @property
    def padded(self) -> int:
        return self.blocks * self.lanes


def choose_layout(replicas: int, threads: int, dtype: np.dtype) -> Layout:
    """Scalar replicas (lanes = 1) or blocks of SIMD lanes, whichever finishes a sweep of all
    replicas sooner on `threads` cores (padding lanes cost as much as real ones)."""
    best = Layout(replicas, 1, replicas)
    best_time = float(math.ceil(replicas / threads))
    for width in _LANE_WIDTHS:
        blocks = math.ceil(replicas / width)
        lanes = math.ceil(math.ceil(replicas / blocks) / LANE_QUANTUM) * LANE_QUANTUM
        time = math.ceil(blocks / threads) * lanes * LANE_COST[dtype]
        if time < best_time:
            best, best_time = Layout(blocks, lanes, replicas), time
    return best


class ReplicaSet:
    """Spins, fields, energies and best-so-far states of `layout.replicas` replicas."""

    def __init__(self, q: QuadraticModel, layout: Layout, bits: npt.NDArray[np.int8], seed: int,
                 salt: int = 0) -> None:
        self.q = q
        self.layout = layout
        padded_bits = np.zeros((layout.padded, q.n), dtype=np.int8)
        padded_bits[: layout.replicas] = bits
        self.spins = _lane_blocks((1.0 - 2.0 * padded_bits).astype(q.dtype), layout)
        exact = np.empty((layout.blocks, q.n, layout.lanes), dtype=np.float64)
        local_fields(q.ptr, q.idx, q.couplings, q.fields, self.spins, exact)
        self.local = exact.astype(q.dtype)
        # Cost without offset: sum_v s_v·(h_v + f_v)/2 counts each coupling once. Summed per replica
        # row, so the rounding is the same whatever the layout.
        rows = np.ascontiguousarray(_replica_rows(self.spins) * (q.fields + _replica_rows(exact)))
        self.energy = (q.constant + 0.5 * rows.sum(axis=1)).reshape(layout.blocks, layout.lanes)
        self.seeds = replica_seeds(seed, layout.padded, salt).reshape(layout.blocks, layout.lanes)
        self.best_spins = self.spins.copy()
        self.best_energy = self.energy.copy()
        self.weights = q.flip_weights

    def kernel_args(self) -> tuple[npt.NDArray[np.generic], ...]:
        return (self.q.ptr, self.q.idx, self.weights, self.spins, self.local, self.seeds, self.energy,
                self.best_spins, self.best_energy)

    def anneal(self, nbetas: npt.NDArray[np.float32], first_sweep: int) -> None:
        """Sweeps first_sweep.. of every replica, all at temperature nbetas[t] (-beta·log2 e) in sweep t."""
        anneal_blocks(*self.kernel_args(), nbetas, first_sweep)

    def _to_bits(self, spins: npt.NDArray[np.floating]) -> list[npt.NDArray[np.int8]]:
        rows = (_replica_rows(spins) < 0).astype(np.int8)
        return [rows[r] for r in range(self.layout.replicas)]

    def bits(self) -> list[npt.NDArray[np.int8]]:
        return self._to_bits(self.spins)

    def best_bits(self) -> list[npt.NDArray[np.int8]]:
        return self._to_bits(self.best_spins)

    def sweep_at(self, beta: float, index: int) -> None:
        """Sweep number `index` of every replica at inverse temperature beta."""
        self.anneal(neg_beta_log2e([beta]), index)

    def energies(self) -> npt.NDArray[np.float64]:
        """Current cost (without offset) of each replica: a view, updated by the kernels."""
        return self.energy.reshape(-1)[: self.layout.replicas]

    def resample(self, order: npt.NDArray[np.intp]) -> None:
        """Replace replica r by a copy of replica order[r] (spins, fields, energy); seeds and
        best-so-far states stay with their slot, so copies diverge."""
        for name in ("spins", "local"):
            blocks = getattr(self, name)
            rows = _replica_rows(blocks)
            rows[: self.layout.replicas] = rows[order]
            setattr(self, name, _lane_blocks(rows, self.layout))
        flat = self.energy.reshape(-1)
        flat[: self.layout.replicas] = flat[order]

    def best_cost(self) -> float:
        return float(self.best_energy.reshape(-1)[: self.layout.replicas].min())


def _replica_rows(blocks: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    """[block, n, lane] -> [replica, n] (a copy, or a view when lanes == 1)."""
    b, n, lanes = blocks.shape
    return blocks.transpose(0, 2, 1).reshape(b * lanes, n)


def _lane_blocks(rows: npt.NDArray[np.floating], layout: Layout) -> npt.NDArray[np.floating]:
    """[replica, n] -> [block, n, lane], contiguous."""
    n = rows.shape[1]
    return np.ascontiguousarray(rows.reshape(layout.blocks, layout.lanes, n).transpose(0, 2, 1))


def replica_seeds(seed: int, count: int, salt: int = 0) -> npt.NDArray[np.uint32]:
    """One 32-bit stream seed per replica, derived from the user's seed; a prefix of a longer
    list is the shorter list, so a replica's stream does not depend on the padding."""
    return np.asarray(np.random.SeedSequence([seed, salt, 3]).generate_state(count, dtype=np.uint32))
