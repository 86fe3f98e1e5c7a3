"""Statevector engine: in-place gate kernels on a complex128 state (qubit 0 = least significant
bit), single-qubit gate fusion, memory check before allocation, and sampling.

Kernels never build full matrices: a k-qubit gate only touches the 2^k amplitudes of each
affected group; diagonal gates only multiply, X/SWAP-type gates only permute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from kuantum_solvers.formats.circuits.model import MAX_QUBITS, Circuit, Gate
from kuantum_solvers.formats.errors import INSUFFICIENT_MEMORY, SolverError, invalid_input
from kuantum_solvers.resources import require_memory

# A merged diagonal pass tests every term per amplitude; beyond a handful of terms that costs
# more than another pass over memory, so long runs are split.
MAX_DIAGONAL_TERMS = 6
State = npt.NDArray[np.complex128]


@dataclass
class DiagonalBlock:
    """A run of diagonal gates applied in one pass: amplitude i is multiplied by every phase whose
    `on` bits are all set and `off` bits all clear in i (diagonal gates commute, so merging is exact)."""

    on: npt.NDArray[np.int64]
    off: npt.NDArray[np.int64]
    phase: npt.NDArray[np.complex128]


def state_bytes(qubits: int) -> int:
    return 16 << qubits


def check_memory(qubits: int, extra_factor: float = 1.0) -> None:
    """Refuse before allocating: state (16 B/amplitude) plus `extra_factor` × that for
    probabilities and sampling buffers."""
    if qubits > MAX_QUBITS:
        raise SolverError(INSUFFICIENT_MEMORY, f"{qubits} qubits exceed the simulator limit of {MAX_QUBITS}")
    require_memory(int(state_bytes(qubits) * (1.0 + extra_factor)), f"a {qubits}-qubit statevector")


def zero_state(qubits: int) -> State:
    psi = np.zeros(1 << qubits, dtype=np.complex128)
    psi[0] = 1.0
    return psi


@njit(cache=True, inline="always")
def _insert_zero(i, q):
    return ((i >> q) << (q + 1)) | (i & ((1 << q) - 1))


@njit(parallel=True, cache=True)
def apply_1q(psi, q, u00, u01, u10, u11, cmask):
    bit = 1 << q
    for i in prange(psi.shape[0] >> 1):
        i0 = _insert_zero(i, q)
        if (i0 & cmask) == cmask:
            i1 = i0 | bit
            a = psi[i0]
            b = psi[i1]
            psi[i0] = u00 * a + u01 * b
            psi[i1] = u10 * a + u11 * b


@njit(parallel=True, cache=True)
def apply_diag_1q(psi, q, d0, d1, cmask):
    bit = 1 << q
    skip0 = d0 == 1.0
    for i in prange(psi.shape[0] >> 1):
        i0 = _insert_zero(i, q)
        if (i0 & cmask) == cmask:
            if not skip0:
                psi[i0] *= d0
            psi[i0 | bit] *= d1


@njit(parallel=True, cache=True)
def apply_antidiag_1q(psi, q, a01, a10, cmask):
    """X-like gates: swap the pair (with phases)."""
    bit = 1 << q
    for i in prange(psi.shape[0] >> 1):
        i0 = _insert_zero(i, q)
        if (i0 & cmask) == cmask:
            i1 = i0 | bit
            a = psi[i0]
            psi[i0] = a01 * psi[i1]
            psi[i1] = a10 * a


@njit(parallel=True, cache=True)
def apply_2q(psi, q0, q1, m, cmask):
    lo = min(q0, q1)
    hi = max(q0, q1)
    b0 = 1 << q0
    b1 = 1 << q1
    for i in prange(psi.shape[0] >> 2):
        base = _insert_zero(_insert_zero(i, lo), hi)
        if (base & cmask) == cmask:
            i00 = base
            i01 = base | b0
            i10 = base | b1
            i11 = base | b0 | b1
            a0 = psi[i00]
            a1 = psi[i01]
            a2 = psi[i10]
            a3 = psi[i11]
            psi[i00] = m[0, 0] * a0 + m[0, 1] * a1 + m[0, 2] * a2 + m[0, 3] * a3
            psi[i01] = m[1, 0] * a0 + m[1, 1] * a1 + m[1, 2] * a2 + m[1, 3] * a3
            psi[i10] = m[2, 0] * a0 + m[2, 1] * a1 + m[2, 2] * a2 + m[2, 3] * a3
            psi[i11] = m[3, 0] * a0 + m[3, 1] * a1 + m[3, 2] * a2 + m[3, 3] * a3


@njit(parallel=True, cache=True)
def apply_swap(psi, q0, q1, cmask):
    lo = min(q0, q1)
    hi = max(q0, q1)
    b0 = 1 << q0
    b1 = 1 << q1
    for i in prange(psi.shape[0] >> 2):
        base = _insert_zero(_insert_zero(i, lo), hi)
        if (base & cmask) == cmask:
            a = psi[base | b0]
            psi[base | b0] = psi[base | b1]
            psi[base | b1] = a


@njit(parallel=True, cache=True)
def apply_diag_block(psi, on, off, phase):
    k = on.shape[0]
    for i in prange(psi.shape[0]):
        f = 1.0 + 0.0j
        for j in range(k):
            if (i & on[j]) == on[j] and (i & off[j]) == 0:
                f *= phase[j]
        if f != 1.0:
            psi[i] *= f


@njit(parallel=True, cache=True)
def probabilities(psi):
    out = np.empty(psi.shape[0], dtype=np.float64)
    for i in prange(psi.shape[0]):
        out[i] = psi[i].real * psi[i].real + psi[i].imag * psi[i].imag
    return out


_SWAP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.complex128)


def _mask(qubits: tuple[int, ...]) -> int:
    mask = 0
    for q in qubits:
        mask |= 1 << q
    return mask


def kernel_of(gate: Gate | DiagonalBlock) -> str:
    """The cheapest kernel for the gate's structure, one classification for the CPU and GPU paths: diag_block,
    diag_1q (only multiplies), antidiag_1q / swap (only permute and multiply), 1q, 2q, or none (identity)."""
    if isinstance(gate, DiagonalBlock):
        return "diag_block"
    m = gate.matrix
    if len(gate.targets) == 1:
        if m[0, 1] == 0 and m[1, 0] == 0:
            return "none" if m[0, 0] == 1 and m[1, 1] == 1 else "diag_1q"
        return "antidiag_1q" if m[0, 0] == 0 and m[1, 1] == 0 else "1q"
    if len(gate.targets) == 2:
        return "swap" if np.array_equal(m, _SWAP) else "2q"
    raise invalid_input(f"gates on {len(gate.targets)} target qubits are not supported")


def apply_gate(psi: State, gate: Gate | DiagonalBlock) -> None:
    """Dispatch to the cheapest kernel for the gate's structure."""
    kernel = kernel_of(gate)
    if isinstance(gate, DiagonalBlock):
        apply_diag_block(psi, gate.on, gate.off, gate.phase)
        return
    m, cmask = gate.matrix, _mask(gate.controls)
    if kernel == "diag_1q":
        apply_diag_1q(psi, gate.targets[0], complex(m[0, 0]), complex(m[1, 1]), cmask)
    elif kernel == "antidiag_1q":
        apply_antidiag_1q(psi, gate.targets[0], complex(m[0, 1]), complex(m[1, 0]), cmask)
    elif kernel == "1q":
        apply_1q(psi, gate.targets[0], complex(m[0, 0]), complex(m[0, 1]), complex(m[1, 0]), complex(m[1, 1]), cmask)
    elif kernel == "swap":
        apply_swap(psi, gate.targets[0], gate.targets[1], cmask)
    elif kernel == "2q":
        apply_2q(psi, gate.targets[0], gate.targets[1], np.ascontiguousarray(m), cmask)


def _dense_on(support: tuple[int, ...], gate: Gate) -> npt.NDArray[np.complex128]:
    """The gate as a dense matrix on `support` (little-endian: index bit k = qubit support[k])."""
    dim = 1 << len(support)
    pos = {q: k for k, q in enumerate(support)}
    out = np.zeros((dim, dim), dtype=np.complex128)
    for col in range(dim):
        if any(not (col >> pos[c]) & 1 for c in gate.controls):
            out[col, col] = 1.0
            continue
        sub = sum(((col >> pos[t]) & 1) << k for k, t in enumerate(gate.targets))
        rest = col & ~sum(1 << pos[t] for t in gate.targets)
        for row_sub in range(1 << len(gate.targets)):
            row = rest | sum(((row_sub >> k) & 1) << pos[t] for k, t in enumerate(gate.targets))
            out[row, col] = gate.matrix[row_sub, sub]
    return out


@dataclass
class _Block:
    support: tuple[int, ...]
    matrix: npt.NDArray[np.complex128]
    first: Gate  # kept as-is when nothing merged into it (specialised kernels are cheaper)
    count: int = 1


def _fuse_blocks(gates: list[Gate]) -> list[Gate]:
    """Merge gates into blocks acting on at most two qubits. A gate may join the block that last
    touched all of its qubits: nothing touched those qubits in between, so it commutes with
    every gate it is moved past. Single-qubit blocks are absorbed into a following two-qubit
    block on the same qubit for the same reason."""
    blocks: list[_Block | None] = []
    last: dict[int, int] = {}  # qubit -> index of the block that last touched it
    for g in gates:
        support = tuple(dict.fromkeys((*g.targets, *g.controls)))
        if len(support) > 2:
            for q in support:
                last[q] = len(blocks)
            blocks.append(_Block(support, g.matrix, g, count=-1))  # never merged
            continue
        owners = {last.get(q) for q in support}
        if len(owners) == 1 and None not in owners:
            j = owners.pop()
            assert j is not None
            b = blocks[j]
            if b is not None and b.count > 0 and set(support) <= set(b.support):
                b.matrix = _dense_on(b.support, g) @ b.matrix
                b.count += 1
                continue
        matrix = _dense_on(support, g) if (g.controls or support != g.targets) else g.matrix
        block = _Block(support, matrix, g)
        if len(support) == 2:
            for q in support:  # absorb a preceding single-qubit block on q
                j = last.get(q)
                prev = blocks[j] if j is not None else None
                if prev is not None and prev.count > 0 and prev.support == (q,):
                    block.matrix = block.matrix @ _dense_on(support, Gate((q,), prev.matrix))
                    block.count += prev.count
                    blocks[j] = None  # type: ignore[index]
        for q in support:
            last[q] = len(blocks)
        blocks.append(block)
    out: list[Gate] = []
    for b in blocks:
        if b is None:
            continue
        if b.count == 1 or b.count == -1:
            out.append(b.first)
        else:
            out.append(Gate(b.support, b.matrix))
    return out


def fuse(gates: list[Gate]) -> list[Gate | DiagonalBlock]:
    """Exact rewrites that save passes over the state:
    1. gates are merged into blocks on at most two qubits (see `_fuse_blocks`);
    2. consecutive diagonal gates (phase, Z, RZ, controlled phases, ZZ...) become one pass."""
    single = _fuse_blocks(gates)

    out: list[Gate | DiagonalBlock] = []
    run: list[tuple[int, int, complex]] = []
    run_gates: list[Gate] = []

    def flush() -> None:
        if len(run_gates) > 1:
            out.append(DiagonalBlock(np.array([t[0] for t in run], dtype=np.int64),
                                     np.array([t[1] for t in run], dtype=np.int64),
                                     np.array([t[2] for t in run], dtype=np.complex128)))
        else:
            out.extend(run_gates)
        run.clear()
        run_gates.clear()

    for g in single:
        terms = _diagonal_terms(g)
        if terms is None:
            flush()
            out.append(g)
        elif terms:
            if run and len(run) + len(terms) > MAX_DIAGONAL_TERMS:
                flush()
            run.extend(terms)
            run_gates.append(g)
    flush()
    return out


def _diagonal_terms(g: Gate) -> list[tuple[int, int, complex]] | None:
    """(on-mask, off-mask, phase) factors of a diagonal gate; None if the gate is not diagonal."""
    m = g.matrix
    if np.count_nonzero(m - np.diag(np.diag(m))):
        return None
    cmask = _mask(g.controls)
    terms = []
    for basis, value in enumerate(np.diag(m)):
        if value == 1:
            continue
        on, off = cmask, 0
        for k, q in enumerate(g.targets):
            if basis >> k & 1:
                on |= 1 << q
            else:
                off |= 1 << q
        terms.append((on, off, complex(value)))
    return terms


Progress = Callable[[str], None]


def apply_all(psi: State, gates: list[Gate], progress: Progress | None = None) -> None:
    """Fuse and apply `gates`, reporting progress at most about once per second. On a CUDA device
    when the state is large enough and fits there (circuits/gpu_statevector.py)."""
    fused = fuse(gates)
    from kuantum_solvers.circuits import gpu_statevector

    if gpu_statevector.apply_fused(psi, fused, len(gates), progress):
        return
    last = time.monotonic()
    for k, gate in enumerate(fused):
        apply_gate(psi, gate)
        if progress is not None and time.monotonic() - last >= 1.0:
            last = time.monotonic()
            progress(f"statevector: {k + 1}/{len(fused)} fused gates applied ({len(gates)} written)")


def simulate(circuit: Circuit, psi: State | None = None, progress: Progress | None = None) -> State:
    if psi is None:
        check_memory(circuit.qubits)
        psi = zero_state(circuit.qubits)
    apply_all(psi, circuit.gates, progress)
    return psi


_SAMPLE_BLOCK = 1 << 14  # amplitudes per block of the parallel inverse-CDF walk


@njit(cache=True, inline="always")
def _weight(psi, i):
    return psi[i].real * psi[i].real + psi[i].imag * psi[i].imag


@njit(parallel=True, cache=True)
def _block_weights(psi: State, block: int) -> npt.NDArray[np.float64]:
    count = (psi.shape[0] + block - 1) // block
    sums = np.zeros(count, dtype=np.float64)
    for b in prange(count):
        acc = 0.0
        for i in range(b * block, min((b + 1) * block, psi.shape[0])):
            acc += _weight(psi, i)
        sums[b] = acc
    return sums


@njit(parallel=True, cache=True)
def _walk_blocks(psi: State, block: int, starts: npt.NDArray[np.float64], first: npt.NDArray[np.int64],
                 sorted_u: npt.NDArray[np.float64], out: npt.NDArray[np.int64]) -> None:
    """Block b holds the CDF range [starts[b], starts[b+1]) and the sorted uniforms first[b]..first[b+1];
    blocks are walked in parallel, each sequentially from its own start. A uniform that rounding leaves
    past a block's last partial sum goes to the block's last outcome of non-zero probability."""
    for b in prange(first.shape[0] - 1):
        j = first[b]
        end = first[b + 1]
        if j == end:
            continue
        acc = starts[b]
        last = -1
        for i in range(b * block, min((b + 1) * block, psi.shape[0])):
            w = _weight(psi, i)
            if w > 0.0:
                last = i
            acc += w
            while j < end and sorted_u[j] < acc:
                out[j] = i
                j += 1
            if j == end:
                break
        while j < end:
            out[j] = last
            j += 1


@njit(cache=True)
def _shuffle(values: npt.NDArray[np.int64], seed: np.uint64) -> None:
    """Fisher-Yates with splitmix64 and Lemire's multiply-shift range reduction (numpy's shuffle is
    several times slower on millions of shots)."""
    state = seed
    for i in range(values.shape[0] - 1, 0, -1):
        state += np.uint64(0x9E3779B97F4A7C15)
        z = (state ^ (state >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        j = ((z >> np.uint64(32)) * np.uint64(i + 1)) >> np.uint64(32)
        tmp = values[i]
        values[i] = values[j]
        values[j] = tmp


def sample_basis_states(psi: State, shots: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Draw basis-state indices with probabilities |psi|^2 (normalised here) by inverse CDF: sorted
    uniforms come straight from exponential spacings (no sort), the CDF is never materialised (block
    sums, then blocks walked in parallel), then the shots are shuffled into a random order."""
    sums = _block_weights(psi, _SAMPLE_BLOCK)
    starts = np.concatenate(([0.0], np.cumsum(sums)))
    spacings = np.cumsum(rng.standard_exponential(shots + 1))
    sorted_u = spacings[:shots] * (starts[-1] / spacings[shots])
    # Blocks without probability get no uniforms (a uniform on their start belongs to the next block).
    first = np.searchsorted(sorted_u, starts, side="left").astype(np.int64)
    first[-1] = shots
    idx = np.empty(shots, dtype=np.int64)
    _walk_blocks(psi, _SAMPLE_BLOCK, starts, first, sorted_u, idx)
    _shuffle(idx, np.uint64(rng.integers(0, 2**63)))
    return idx
