"""Rigetti targets (`rigetti.sim.qvm`, `rigetti.qpu.cepheus-1-108q` emulated) on the statevector simulator.

Quil (`rigetti.quil.v1`) → `rigetti.quil-results.v1`: `{"<region>": [[value per element] per shot]}` for
every DECLAREd region, BIT/OCTET/INTEGER as ints and REAL as floats — what azure-quantum's
`azure.quantum.target.rigetti.Result` reads (`Result(job)["ro"][shot]`). With `substitutions`, each
row is one run of `shots` shots and the runs' shots are concatenated in row order (the SDK's
InputParams docstring: 2 rows × count 2 → 4 readout vectors). Memory starts at 0 each shot, then the
row's values.

Programs whose measurements are all terminal (no classical control, no mid-circuit RESET, no gate
after a qubit's MEASURE) are simulated once per run and sampled; others run shot by shot (the gate
prefix before the first non-gate instruction is simulated once per run and copied).

QIR (`rigetti.qir.v1`, `qir.v1`: Q# programs) runs on the same simulator as `kuantum.simulator`, with
Azure's QIR result format (`microsoft.quantum-results.v2`, or `.v1` on request).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from kuantum_solvers.circuits.statevector import (
    State,
    apply_all,
    apply_gate,
    check_memory,
    sample_basis_states,
    zero_state,
)
from kuantum_solvers.formats.circuits.model import Gate
from kuantum_solvers.formats.errors import INVALID_INPUT_FORMAT, SolverError, invalid_input, invalid_params
from kuantum_solvers.formats.targets import QIR_INPUT, RIGETTI_OUTPUT, RIGETTI_QIR, RIGETTI_QUIL, get_target
from kuantum_solvers.rigetti.quil import (
    QuilClassical,
    QuilGate,
    QuilHalt,
    QuilJump,
    QuilLabel,
    QuilMeasure,
    QuilProgram,
    QuilReset,
    evaluate,
    gate_matrix,
    parse_quil,
)

Progress = Callable[[str], None]
MAX_RESULT_VALUES = 20_000_000
MAX_STEPS_PER_SHOT = 1_000_000
_INT_TYPES = ("BIT", "OCTET", "INTEGER")


def run_rigetti(target: str, input_format: str, data: bytes, params: dict[str, Any],
                progress: Progress | None = None, output_format: str | None = None) -> dict[str, Any]:
    from kuantum_solvers.circuits.run import _configure_threads

    _configure_threads()
    if input_format in (RIGETTI_QIR, QIR_INPUT):
        if params.get("substitutions"):
            raise invalid_params("'substitutions' fill Quil memory regions; QIR programs take none")
        from kuantum_solvers.circuits.qir import run_qir

        return run_qir(data, params, output_format, progress)
    if input_format != RIGETTI_QUIL:
        raise SolverError(INVALID_INPUT_FORMAT, f"target {target!r} does not accept input format {input_format!r}")
    if output_format not in (None, RIGETTI_OUTPUT):
        raise SolverError(INVALID_INPUT_FORMAT, f"Quil programs write {RIGETTI_OUTPUT!r}, not {output_format!r}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid_input(f"Quil input is not UTF-8 text: {exc}") from exc
    spec = get_target(target)
    max_qubits = int(spec["qubits"])
    # The QVM takes any qubit index; a QPU's indices are its physical qubits.
    program = parse_quil(text, max_qubit=max_qubits - 1 if spec["kind"] == "qpu" else 1 << 20, max_qubits=max_qubits)
    seed = params.get("seed")
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    return run_quil(program, int(params.get("shots") or 1), params.get("substitutions"), seed, progress)


def _rows(program: QuilProgram, substitutions: dict[str, list[list[float]]] | None) -> list[dict[str, list[float]]]:
    if not substitutions:
        return [{}]
    for name, table in substitutions.items():
        if name not in program.memory:
            raise invalid_params(f"substitutions[{name!r}]: the program declares no memory region {name!r} "
                                 f"(declared: {', '.join(program.memory) or 'none'})")
        kind, length = program.memory[name]
        for k, row in enumerate(table):
            if len(row) != length:
                raise invalid_params(f"substitutions[{name!r}][{k}] has {len(row)} value(s); "
                                     f"{name} is {kind}[{length}]")
            if kind in _INT_TYPES and any(float(v) != int(v) for v in row):
                raise invalid_params(f"substitutions[{name!r}][{k}]: {name} is {kind}, its values must be integers")
    count = len(next(iter(substitutions.values())))
    return [{name: table[k] for name, table in substitutions.items()} for k in range(count)]


def _initial_memory(program: QuilProgram, row: dict[str, list[float]]) -> dict[str, npt.NDArray[Any]]:
    memory: dict[str, npt.NDArray[Any]] = {}
    for name, (kind, length) in program.memory.items():
        dtype = np.float64 if kind == "REAL" else np.int64
        memory[name] = np.array(row[name], dtype=dtype) if name in row else np.zeros(length, dtype=dtype)
    return memory


def _as_lists(memory: dict[str, npt.NDArray[Any]]) -> dict[str, list[float]]:
    return {name: [float(v) for v in values] for name, values in memory.items()}


def run_quil(program: QuilProgram, shots: int, substitutions: dict[str, list[list[float]]] | None, seed: int,
             progress: Progress | None = None) -> dict[str, Any]:
    rows = _rows(program, substitutions)
    width = sum(length for _kind, length in program.memory.values())
    total = shots * len(rows)
    if total * max(width, 1) > MAX_RESULT_VALUES:
        raise invalid_input(f"{len(rows)} run(s) × {shots} shots × {width} memory value(s) would make "
                            f"{total * width:,} result values; at most {MAX_RESULT_VALUES:,}")
    n = len(program.qubits)
    check_memory(n, extra_factor=1.0)
    ops = _until_halt(program) if program.straight else program.ops
    static = program.straight and _terminal_measurements(program, ops)
    if progress is not None:
        kind = "terminal measurements: simulated once per run, sampled" if static else "simulated shot by shot"
        progress(f"Quil program: {n} qubits, {len(program.ops)} instructions, {len(rows)} run(s) × {shots} "
                 f"shots, seed {seed}, {kind}")
    rng = np.random.default_rng(seed)
    out = {name: np.zeros((total, length), dtype=np.float64 if kind == "REAL" else np.int64)
           for name, (kind, length) in program.memory.items()}
    for r, row in enumerate(rows):
        memory = _initial_memory(program, row)
        block = slice(r * shots, (r + 1) * shots)
        for name, values in memory.items():
            out[name][block] = values
        if static:
            _run_static(program, ops, memory, shots, rng, {k: v[block] for k, v in out.items()}, progress)
        else:
            _run_dynamic(program, memory, shots, rng, {k: v[block] for k, v in out.items()}, progress)
    return {name: values.tolist() for name, values in out.items()}


def _until_halt(program: QuilProgram) -> list[Any]:
    for k, op in enumerate(program.ops):
        if isinstance(op, QuilHalt):
            return program.ops[:k]
    return program.ops


def _terminal_measurements(program: QuilProgram, ops: list[Any]) -> bool:
    """Straight-line ops whose measurements are final: each qubit measured at most once and untouched
    after, no RESET after any gate on its qubit (a RESET of fresh qubits changes nothing), and no gate
    parameter reading a region that a measurement writes."""
    measured: set[int] = set()
    touched: set[int] = set()
    written = {op.target[0] for op in ops if isinstance(op, QuilMeasure) and op.target is not None}
    unwritten = {name: [0.0] * length for name, (_kind, length) in program.memory.items() if name not in written}
    for op in ops:
        if isinstance(op, QuilGate):
            if measured.intersection(op.qubits):
                return False
            if op.uses_memory and written and not _evaluable(op, unwritten):
                return False
            touched.update(op.qubits)
        elif isinstance(op, QuilMeasure):
            if op.qubit in measured:
                return False
            measured.add(op.qubit)
        elif isinstance(op, QuilReset):
            if op.qubit is None and (touched or measured):
                return False
            if op.qubit is not None and (op.qubit in touched or op.qubit in measured):
                return False
    return True


def _evaluable(op: QuilGate, memory: dict[str, list[float]]) -> bool:
    try:
        for p in op.params:
            p.evaluate({}, memory)
    except Exception:
        return False
    return True


def _gate(program: QuilProgram, op: QuilGate, memory: dict[str, list[float]] | None) -> Gate:
    if op.constant is not None:
        args = op.constant
    else:
        where = f"line {op.line}" if op.line else f"gate {op.name}"
        args = tuple(evaluate(p, memory or {}, where) for p in op.params)
    matrix = gate_matrix(program.gate_defs, op, args)
    targets = op.qubits[op.controls:]
    # Quil's first target is the matrix's most significant bit; Gate's matrices are little-endian.
    return Gate(tuple(reversed(targets)), matrix, tuple(op.qubits[:op.controls]))


def _run_static(program: QuilProgram, ops: list[Any], memory: dict[str, npt.NDArray[Any]], shots: int,
                rng: np.random.Generator, out: dict[str, npt.NDArray[Any]], progress: Progress | None) -> None:
    values = _as_lists(memory)
    gates = [_gate(program, op, values) for op in ops if isinstance(op, QuilGate)]
    psi = zero_state(len(program.qubits))
    apply_all(psi, gates, progress)
    samples = sample_basis_states(psi, shots, rng)
    del psi
    for op in ops:
        if isinstance(op, QuilMeasure) and op.target is not None:
            name, index = op.target
            out[name][:, index] = (samples >> op.qubit) & 1


def _run_dynamic(program: QuilProgram, memory: dict[str, npt.NDArray[Any]], shots: int, rng: np.random.Generator,
                 out: dict[str, npt.NDArray[Any]], progress: Progress | None) -> None:
    prefix = 0
    while prefix < len(program.ops) and isinstance(program.ops[prefix], QuilGate):
        prefix += 1
    values = _as_lists(memory)
    base = zero_state(len(program.qubits))
    apply_all(base, [_gate(program, op, values) for op in program.ops[:prefix]], progress)
    cache: dict[tuple[int, tuple[float, ...]], Gate] = {}
    last = time.monotonic()
    for shot in range(shots):
        psi = base.copy()
        mem = {name: v.copy() for name, v in memory.items()}
        _execute(program, prefix, psi, mem, rng, cache)
        for name, v in mem.items():
            out[name][shot] = v
        if progress is not None and time.monotonic() - last >= 1.0:
            last = time.monotonic()
            progress(f"Quil program: {shot + 1}/{shots} shots simulated")


def _execute(program: QuilProgram, pc: int, psi: State, mem: dict[str, npt.NDArray[Any]],
             rng: np.random.Generator, cache: dict[tuple[int, tuple[float, ...]], Gate]) -> None:
    ops = program.ops
    steps = 0
    while pc < len(ops):
        steps += 1
        if steps > MAX_STEPS_PER_SHOT:
            raise invalid_input(f"a shot ran more than {MAX_STEPS_PER_SHOT:,} instructions (an endless loop?)")
        op = ops[pc]
        pc += 1
        if isinstance(op, QuilGate):
            if op.constant is not None:
                key = (id(op), op.constant)
                gate = cache.get(key)
                if gate is None:
                    gate = cache[key] = _gate(program, op, None)
            else:
                gate = _gate(program, op, _as_lists(mem))
            apply_gate(psi, gate)
        elif isinstance(op, QuilMeasure):
            bit = _measure(psi, op.qubit, rng)
            if op.target is not None:
                mem[op.target[0]][op.target[1]] = bit
        elif isinstance(op, QuilReset):
            for q in range(len(program.qubits)) if op.qubit is None else (op.qubit,):
                if _measure(psi, q, rng):
                    apply_gate(psi, Gate((q,), np.array([[0, 1], [1, 0]], dtype=np.complex128)))
        elif isinstance(op, QuilClassical):
            _classical(program, op, mem)
        elif isinstance(op, QuilJump):
            if op.condition is None or bool(mem[op.condition[0]][op.condition[1]]) == op.when:
                pc = program.labels[op.label]
        elif isinstance(op, QuilHalt):
            return
        elif isinstance(op, QuilLabel):
            continue


def _read(mem: dict[str, npt.NDArray[Any]], operand: Any) -> float | int:
    if isinstance(operand, tuple):
        value = mem[operand[0]][operand[1]]
        return float(value) if mem[operand[0]].dtype == np.float64 else int(value)
    return operand


def _store(program: QuilProgram, mem: dict[str, npt.NDArray[Any]], ref: tuple[str, int], value: float | int,
           line: int) -> None:
    kind, _length = program.memory[ref[0]]
    if kind == "REAL":
        mem[ref[0]][ref[1]] = float(value)
        return
    if isinstance(value, float):
        if not value.is_integer():
            raise invalid_input(f"line {line}: {value} does not fit {ref[0]} ({kind}); use CONVERT")
        value = int(value)
    if kind == "BIT":
        value &= 1
    elif kind == "OCTET":
        value &= 0xFF
    else:
        value = (value + (1 << 63)) % (1 << 64) - (1 << 63)
    mem[ref[0]][ref[1]] = value


def _classical(program: QuilProgram, op: QuilClassical, mem: dict[str, npt.NDArray[Any]]) -> None:
    dest = op.operands[0]
    assert isinstance(dest, tuple)
    a = _read(mem, dest)
    if op.op in ("NEG", "NOT"):
        if op.op == "NEG":
            result: float | int = -a
        else:
            kind = program.memory[dest[0]][0]
            if kind == "REAL":
                raise invalid_input(f"line {op.line}: NOT needs an integer or bit region")
            result = 1 - int(a) if kind == "BIT" else ~int(a)
        _store(program, mem, dest, result, op.line)
        return
    if op.op in ("EQ", "GT", "GE", "LT", "LE"):
        x, y = _read(mem, op.operands[1]), _read(mem, op.operands[2])
        holds = {"EQ": x == y, "GT": x > y, "GE": x >= y, "LT": x < y, "LE": x <= y}[op.op]
        _store(program, mem, dest, int(holds), op.line)
        return
    b = _read(mem, op.operands[1])
    if op.op == "EXCHANGE":
        source = op.operands[1]
        assert isinstance(source, tuple)
        _store(program, mem, dest, b, op.line)
        _store(program, mem, source, a, op.line)
        return
    if op.op == "MOVE":
        result = b
    elif op.op == "CONVERT":
        kind = program.memory[dest[0]][0]
        result = float(b) if kind == "REAL" else math.trunc(b)
    elif op.op == "ADD":
        result = a + b
    elif op.op == "SUB":
        result = a - b
    elif op.op == "MUL":
        result = a * b
    elif op.op == "DIV":
        if b == 0:
            raise invalid_input(f"line {op.line}: division by zero")
        result = a / b if isinstance(a, float) or isinstance(b, float) else int(a / b)
    else:  # AND, IOR, XOR
        if isinstance(a, float) or isinstance(b, float):
            raise invalid_input(f"line {op.line}: {op.op} needs integer or bit operands")
        result = {"AND": a & b, "IOR": a | b, "XOR": a ^ b}[op.op]
    _store(program, mem, dest, result, op.line)


def _measure(psi: State, qubit: int, rng: np.random.Generator) -> int:
    from kuantum_solvers.circuits.qasm import _measure as measure

    return measure(psi, qubit, rng)
