"""OpenQASM 2.0 programs (`honeywell.openqasm.v1` / `quantinuum.openqasm.v1`) on the simulator → shots.

The program is read by formats/circuits/qasm.py. A program whose measurements are all terminal is simulated
once and sampled; mid-circuit measurement, reset and `if (creg == n)` are simulated shot by shot.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from kuantum_solvers.circuits.statevector import (
    Progress,
    State,
    apply_all,
    apply_gate,
    check_memory,
    sample_basis_states,
    zero_state,
)
from kuantum_solvers.formats.circuits import gates as g
from kuantum_solvers.formats.circuits.model import Gate
from kuantum_solvers.formats.circuits.qasm import IfEq, Measure, Program, Reset, parse_program
from kuantum_solvers.formats.errors import invalid_input

MAX_RESULT_BITS = 1 << 28  # shots x classical bits: the per-shot strings of the output


def _is_static(ops: list[Any]) -> bool:
    """True when all measurements are terminal, so one simulation + sampling gives every shot."""
    measured: set[int] = set()
    for op in ops:
        if isinstance(op, IfEq | Reset):
            return False
        if isinstance(op, Measure):
            if op.qubit in measured:
                return False
            measured.add(op.qubit)
        elif isinstance(op, Gate) and measured.intersection((*op.targets, *op.controls)):
            return False
    return True


def _bitstrings(prog: Program, clbits: np.ndarray) -> dict[str, list[str]]:
    """Per register, one string per shot with bit 0 rightmost (qiskit convention)."""
    out: dict[str, list[str]] = {}
    for name, (offset, size) in prog.cregs.items():
        cols = clbits[:, offset:offset + size][:, ::-1].astype(np.uint8) + ord("0")
        out[name] = [row.tobytes().decode("ascii") for row in cols]
    return out


def run_qasm(text: str, shots: int, seed: int, progress: Progress | None = None) -> dict[str, list[str]]:
    prog = parse_program(text)
    if shots * prog.clbits > MAX_RESULT_BITS:
        raise invalid_input(f"{shots} shots of {prog.clbits} classical bits would make a result of "
                            f"{shots * prog.clbits:,} characters; at most {MAX_RESULT_BITS:,}")
    rng = np.random.default_rng(seed)
    clbits = np.zeros((shots, prog.clbits), dtype=np.uint8)
    check_memory(prog.qubits, extra_factor=1.0)
    gates = [op for op in prog.ops if isinstance(op, Gate)]
    if _is_static(prog.ops):
        psi = zero_state(prog.qubits)
        apply_all(psi, gates, progress)
        samples = sample_basis_states(psi, shots, rng)
        del psi
        for op in prog.ops:
            if isinstance(op, Measure):
                clbits[:, op.clbit] = (samples >> op.qubit) & 1
        return _bitstrings(prog, clbits)
    # Dynamic circuit: simulate the unitary prefix once, then each shot on its own copy.
    first = next(i for i, op in enumerate(prog.ops) if not isinstance(op, Gate))
    base = zero_state(prog.qubits)
    apply_all(base, prog.ops[:first], progress)
    last = time.monotonic()
    for shot in range(shots):
        psi = base.copy()
        _execute(prog, prog.ops[first:], psi, clbits[shot], rng)
        if progress is not None and time.monotonic() - last >= 1.0:
            last = time.monotonic()
            progress(f"dynamic circuit: {shot + 1}/{shots} shots simulated")
    return _bitstrings(prog, clbits)


def _execute(prog: Program, ops: list[Any], psi: State, bits: np.ndarray, rng: np.random.Generator) -> None:
    for op in ops:
        if isinstance(op, Gate):
            apply_gate(psi, op)
        elif isinstance(op, Measure):
            bits[op.clbit] = _measure(psi, op.qubit, rng)
        elif isinstance(op, Reset):
            if _measure(psi, op.qubit, rng):
                apply_gate(psi, Gate((op.qubit,), g.X))
        elif isinstance(op, IfEq):
            offset, size = prog.cregs[op.creg]
            value = sum(int(bits[offset + i]) << i for i in range(size))
            if value == op.value:
                _execute(prog, op.body, psi, bits, rng)


def _measure(psi: State, qubit: int, rng: np.random.Generator) -> int:
    """Projective measurement of one qubit: sample, collapse, renormalise."""
    view = psi.reshape(-1, 2, 1 << qubit)
    p1 = float(np.sum(np.abs(view[:, 1, :]) ** 2))
    outcome = int(rng.random() < p1)
    view[:, 1 - outcome, :] = 0.0
    norm = math.sqrt(p1 if outcome else 1.0 - p1)
    if norm > 0:
        psi /= norm
    return outcome


