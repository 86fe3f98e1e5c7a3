"""Statevector engine: in-place gate kernels on a complex128 state (qubit 0 = least significant
bit), memory check before allocation, and sampling; the gates fused first (fusion.py), and run on a CUDA
device instead when one is there and the state is large enough (gpu_statevector.py).

Kernels never build full matrices: a k-qubit gate only touches the 2^k amplitudes of each
affected group; diagonal gates only multiply, X/SWAP-type gates only permute.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from kuantum_solvers.circuits import gpu_statevector
from kuantum_solvers.circuits.fusion import DiagonalBlock, Progress, control_mask, fuse, kernel_of, state_bytes
from kuantum_solvers.formats.circuits.model import MAX_QUBITS, Circuit, Gate
from kuantum_solvers.formats.errors import INSUFFICIENT_MEMORY, SolverError
from kuantum_solvers.resources import require_memory

State = npt.NDArray[np.complex128]


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


def apply_gate(psi: State, gate: Gate | DiagonalBlock) -> None:
    """Dispatch to the cheapest kernel for the gate's structure."""
    kernel = kernel_of(gate)
    if isinstance(gate, DiagonalBlock):
        apply_diag_block(psi, gate.on, gate.off, gate.phase)
        return
    m, cmask = gate.matrix, control_mask(gate.controls)
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


def apply_all(psi: State, gates: list[Gate], progress: Progress | None = None) -> None:
    """Fuse and apply `gates`, reporting progress at most about once per second. On a CUDA device
    when the state is large enough and fits there (circuits/gpu_statevector.py)."""
    fused = fuse(gates)
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
