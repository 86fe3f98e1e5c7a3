"""What the CPU and the GPU statevector paths share (statevector.py, gpu_statevector.py): the fused gate list,
the one classification of a fused gate into the kernel that applies it, the state's size, progress reports.

Fusion rewrites the gates exactly: gates merge into blocks on at most two qubits, and runs of diagonal gates
become one pass over the state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kuantum_solvers.formats.circuits.model import Gate
from kuantum_solvers.formats.errors import invalid_input

# A merged diagonal pass tests every term per amplitude; beyond a handful of terms that costs
# more than another pass over memory, so long runs are split.
MAX_DIAGONAL_TERMS = 6
Progress = Callable[[str], None]  # receives a line about once a second while a long circuit runs


@dataclass
class DiagonalBlock:
    """A run of diagonal gates applied in one pass: amplitude i is multiplied by every phase whose
    `on` bits are all set and `off` bits all clear in i (diagonal gates commute, so merging is exact)."""

    on: npt.NDArray[np.int64]
    off: npt.NDArray[np.int64]
    phase: npt.NDArray[np.complex128]


def state_bytes(qubits: int) -> int:
    """The statevector's size: one complex128 (16 bytes) per basis state."""
    return 16 << qubits


SWAP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.complex128)


def control_mask(qubits: tuple[int, ...]) -> int:
    """The qubits as a bit mask: a kernel acts on the amplitudes whose index has all of them set."""
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
        return "swap" if np.array_equal(m, SWAP) else "2q"
    raise invalid_input(f"gates on {len(gate.targets)} target qubits are not supported")


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
    cmask = control_mask(g.controls)
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
