"""Run QIR programs (`qir.v1`) on the statevector simulator; results in Azure's QIR output formats.

Two executions, chosen per program:
- static (base profile, every measurement terminal): the gates run once on one statevector and
  all shots are sampled from it — the cost of one shot, whatever the shot count;
- dynamic (adaptive profile: mid-circuit measurement, reset, branches on results): the unitary
  prefix runs once, then each shot interprets the blocks on its own copy of the state.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from kuantum_solvers.circuits.qasm import _measure
from kuantum_solvers.circuits.statevector import (
    State,
    apply_all,
    apply_gate,
    check_memory,
    sample_basis_states,
    zero_state,
)
from kuantum_solvers.formats.circuits.model import Gate
from kuantum_solvers.formats.circuits.qelib1 import QELIB1
from kuantum_solvers.formats.circuits.qir_load import (
    Branch,
    GateOp,
    Jump,
    MeasureOp,
    QirProgram,
    ReadOp,
    RecordOp,
    ResetOp,
    ValueOp,
    finite_angle,
    load_program,
    prune_static,
)
from kuantum_solvers.formats.errors import invalid_input, invalid_params
from kuantum_solvers.formats.results import V2, build_outcome, format_results

Progress = Callable[[str], None]
MAX_RESULT_ITEMS = 1 << 27  # shots x recorded values: the size of the output's Shots list
MAX_STEPS_PER_SHOT = 1_000_000  # adaptive programs may loop; a shot that runs longer is refused


def gate_of(op: GateOp, angles: tuple[float, ...] | None = None) -> Gate:
    """The simulator's gate for a QIR gate, built from the shared qelib1 table."""
    n_params, n_controls, n_targets, build = QELIB1[op.name]
    args = angles if angles is not None else tuple(finite_angle(a, f"gate {op.name!r}") for a in op.args)
    if len(args) != n_params or len(op.qubits) != n_controls + n_targets:
        raise invalid_input(f"gate {op.name!r} takes {n_params} angle(s) and {n_controls + n_targets} qubit(s), "
                            f"got {len(args)} and {len(op.qubits)}")
    return Gate(tuple(op.qubits[n_controls:]), build(*args), tuple(op.qubits[:n_controls]))


def run_qir(data: bytes, params: dict[str, Any], output_format: str | None = None,
            progress: Progress | None = None) -> dict[str, Any]:
    """The program's results; a batch (`items`, one entry point per circuit, as azure-quantum's qiskit backends
    submit every QIR job) runs every item with the job's shots and reports one result entry per item, in order."""
    items = params.get("items")
    if not items:
        return _run_entry(data, params, output_format, progress)
    fmt = output_format or V2
    if fmt != V2 and len(items) > 1:
        raise invalid_params(f"a batch of {len(items)} items reports its results in {V2!r}, not {fmt!r}")
    seed = params.get("seed")
    results = []
    for k, item in enumerate(items):
        one = {**params, "items": None, "entryPoint": item.get("entryPoint") or params.get("entryPoint"),
               "arguments": item.get("arguments") or []}
        if seed is not None:  # items of one seeded job differ from each other, and each is reproducible
            one["seed"] = (int(seed) + k) % 2**32
        if progress is not None and len(items) > 1:
            progress(f"QIR batch: item {k + 1} of {len(items)} ({one['entryPoint'] or 'the only entry point'})")
        results.append(_run_entry(data, one, fmt, progress))
    if fmt != V2:
        return results[0]
    return {"DataFormat": V2, "Results": [entry for r in results for entry in r["Results"]]}


def _run_entry(data: bytes, params: dict[str, Any], output_format: str | None,
               progress: Progress | None) -> dict[str, Any]:
    arguments = params.get("arguments")
    if arguments:
        raise invalid_params("inputParams.arguments must be empty: QIR entry points take no arguments "
                             "(compile the values into the program, e.g. qsharp.compile(\"Main(3)\"))")
    capability = params.get("targetCapability") or params.get("target_profile")
    program = load_program(data, params.get("entryPoint"), capability)
    shots = int(params.get("shots") or 100)
    seed = params.get("seed")
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    ops = program.linear_ops()
    records = sum(1 for b in program.blocks.values() for op in b.ops if isinstance(op, RecordOp))
    if shots * max(records, 1) > MAX_RESULT_ITEMS:
        raise invalid_input(f"{shots} shots of {records} output records would make {shots * records:,} "
                            f"values; at most {MAX_RESULT_ITEMS:,}")
    rng = np.random.default_rng(seed)
    static = ops is not None and _static_ops(ops)
    if progress is not None:
        kind = "static: one simulation, sampled" if static else "dynamic: simulated shot by shot"
        progress(f"QIR entry point {program.entry} ({program.profile or 'no profile attribute'}), "
                 f"{program.qubits} qubits, {shots} shots, seed {seed}, {kind}")
    if static:
        assert ops is not None
        outcomes, index = _run_static(program, _static_ops(ops) or [], shots, rng, progress)
    else:
        outcomes, index = _run_dynamic(program, shots, rng, progress)
    return format_results(outcomes, index, output_format or V2)


# --- static programs ------------------------------------------------------------------------------


def _static_ops(ops: list[Any]) -> list[Any] | None:
    """The ops with no-op resets dropped, when every measurement is terminal; else None."""
    used_later: list[set[int]] = [set() for _ in ops]
    touched: set[int] = set()
    for k in range(len(ops) - 1, -1, -1):
        used_later[k] = set(touched)
        op = ops[k]
        if isinstance(op, GateOp):
            touched.update(op.qubits)
        elif isinstance(op, MeasureOp | ResetOp):
            touched.add(op.qubit)
    out: list[Any] = []
    measured: set[int] = set()
    results: set[int] = set()
    touched_before: set[int] = set()
    for k, op in enumerate(ops):
        if isinstance(op, ResetOp):
            # a reset nothing uses afterwards, or of a qubit still in |0>, changes no outcome
            # (resetting = measuring a qubit; that leaves the other qubits' statistics alone)
            if op.qubit in touched_before and op.qubit in used_later[k]:
                return None
            continue
        if isinstance(op, GateOp):
            if measured.intersection(op.qubits):
                return None
            touched_before.update(op.qubits)
        elif isinstance(op, MeasureOp):
            if op.qubit in measured or op.result in results:
                return None
            if op.reset and op.qubit in used_later[k]:
                return None
            measured.add(op.qubit)
            results.add(op.result)
            touched_before.add(op.qubit)
        elif isinstance(op, RecordOp) and op.kind == "result" and op.value not in results:
            if any(isinstance(o, MeasureOp) and o.result == op.value for o in ops[k:]):
                return None  # recorded before it is measured: the recorded value is the old one
        out.append(op)
    return out


def _run_static(program: QirProgram, ops: list[Any], shots: int, rng: np.random.Generator,
                progress: Progress | None) -> tuple[list[Any], list[int]]:
    ops = prune_static(ops)
    qubits = 1 + max((q for op in ops if isinstance(op, GateOp) for q in op.qubits), default=0)
    qubits = max(qubits, 1 + max((op.qubit for op in ops if isinstance(op, MeasureOp)), default=0))
    check_memory(qubits, extra_factor=1.0)
    gates = [gate_of(op) for op in ops if isinstance(op, GateOp)]
    qubit_of = {op.result: op.qubit for op in ops if isinstance(op, MeasureOp)}
    records = [op for op in ops if isinstance(op, RecordOp)]
    recorded = sorted({int(r.value) for r in records if r.kind == "result" and r.value in qubit_of})
    if progress is not None and qubits != program.qubits:
        progress(f"QIR: {qubits} of the program's {program.qubits} qubits affect its results; simulating those")
    psi = zero_state(qubits)
    apply_all(psi, gates, progress)
    samples = sample_basis_states(psi, shots, rng)
    del psi
    bits = np.empty((shots, len(recorded)), dtype=np.uint8)
    for j, r in enumerate(recorded):
        bits[:, j] = (samples >> qubit_of[r]) & 1
    rows, index = _unique_rows(bits)
    position = {r: j for j, r in enumerate(recorded)}
    outcomes = []
    for row in rows:
        resolved = [(rec.kind, int(row[position[rec.value]]) if rec.kind == "result" and rec.value in position
                     else (0 if rec.kind == "result" else rec.value)) for rec in records]
        outcomes.append(build_outcome(resolved))
    return outcomes, index.tolist()


def _unique_rows(bits: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    if bits.shape[1] == 0:
        return np.zeros((1, 0), dtype=np.uint8), np.zeros(bits.shape[0], dtype=np.int64)
    if bits.shape[1] <= 63:  # pack: unique on integers is much faster than on rows
        weights = (np.uint64(1) << np.arange(bits.shape[1], dtype=np.uint64))
        codes = (bits.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
        _values, first, index = np.unique(codes, return_index=True, return_inverse=True)
        return bits[first], index.reshape(-1).astype(np.int64)
    rows, index = np.unique(bits, axis=0, return_inverse=True)
    return rows, index.reshape(-1).astype(np.int64)


# --- dynamic programs -----------------------------------------------------------------------------


def _unsigned(v: int, width: int) -> int:
    return int(v) & ((1 << width) - 1)


def _wrap(v: int, width: int) -> int | bool:
    if width == 1:
        return bool(int(v) & 1)
    v = _unsigned(v, width)
    return v - (1 << width) if v >> (width - 1) else v


_ICMP = {
    "EQ": lambda a, b: a == b, "NE": lambda a, b: a != b,
    "SGT": lambda a, b: a > b, "SGE": lambda a, b: a >= b, "SLT": lambda a, b: a < b, "SLE": lambda a, b: a <= b,
}
_FCMP = {"EQ": lambda a, b: a == b, "NE": lambda a, b: a != b, "GT": lambda a, b: a > b,
         "GE": lambda a, b: a >= b, "LT": lambda a, b: a < b, "LE": lambda a, b: a <= b}


class _Shot:
    def __init__(self, program: QirProgram, psi: State, rng: np.random.Generator) -> None:
        self.program = program
        self.psi = psi
        self.rng = rng
        self.results = [0] * max(program.results, 1)
        self.env: dict[str, Any] = {}
        self.records: list[tuple[str, Any]] = []

    def value(self, operand: Any) -> Any:
        if isinstance(operand, tuple):
            try:
                return self.env[operand[1]]
            except KeyError:
                raise invalid_input(f"value %{operand[1]} is used before it is defined") from None
        return operand

    def compute(self, op: ValueOp) -> Any:
        vals = [self.value(o) for o in op.operands]
        name = op.op
        try:
            if name == "ICMP":
                a, b = (int(v) for v in vals)
                pred = op.predicate or "EQ"
                if pred.startswith("U"):
                    a, b, pred = _unsigned(a, 64), _unsigned(b, 64), "S" + pred[1:]
                return bool(_ICMP[pred](a, b))
            if name == "FCMP":
                pred = (op.predicate or "OEQ")
                x, y = float(vals[0]), float(vals[1])
                if pred in ("TRUE", "FALSE"):
                    return pred == "TRUE"
                if pred in ("ORD", "UNO"):
                    return (pred == "UNO") == (math.isnan(x) or math.isnan(y))
                if math.isnan(x) or math.isnan(y):
                    return pred.startswith("U")
                return bool(_FCMP[pred[1:]](x, y))
            if name == "SELECT":
                return vals[1] if vals[0] else vals[2]
            if name in ("FADD", "FSUB", "FMUL", "FDIV"):
                x, y = float(vals[0]), float(vals[1])
                return {"FADD": x + y, "FSUB": x - y, "FMUL": x * y}[name] if name != "FDIV" else x / y
            if name == "FNEG":
                return -float(vals[0])
            if name in ("SI_TO_FP", "UI_TO_FP"):
                return float(int(vals[0]))
            if name in ("FP_TO_SI", "FP_TO_UI"):
                return _wrap(int(float(vals[0])), op.width)
            if name == "ZEXT":  # integers are kept signed: the operand's own bits, read unsigned, are the value
                return _wrap(_unsigned(int(vals[0]), op.source_width or op.width), op.width)
            if name == "TRUNC":
                return _wrap(int(vals[0]), op.width)
            if name == "SEXT":
                return _wrap(-1 if vals[0] is True else int(vals[0]), op.width)
            a, b = int(vals[0]), int(vals[1])
            w = op.width
            ints: dict[str, Callable[[], int]] = {
                "ADD": lambda: a + b, "SUB": lambda: a - b, "MUL": lambda: a * b,
                "AND": lambda: a & b, "OR": lambda: a | b, "XOR": lambda: a ^ b,
                "SHL": lambda: a << (b % w), "LSHR": lambda: _unsigned(a, w) >> (b % w), "ASHR": lambda: a >> (b % w),
                "SDIV": lambda: int(a / b), "SREM": lambda: int(math.fmod(a, b)),
                "UDIV": lambda: _unsigned(a, w) // _unsigned(b, w), "UREM": lambda: _unsigned(a, w) % _unsigned(b, w),
            }
            return _wrap(ints[name](), w)
        except ZeroDivisionError:
            raise invalid_input(f"%{op.dest}: division by zero") from None
        except (ValueError, OverflowError) as exc:
            raise invalid_input(f"%{op.dest}: {exc}") from exc

    def gate(self, op: GateOp) -> None:
        if all(not isinstance(a, tuple) for a in op.args):
            _apply(self.psi, _cached_gate(op))
            return
        angles = tuple(finite_angle(self.value(a), f"gate {op.name!r}") for a in op.args)
        _apply(self.psi, gate_of(op, angles))

    def measure(self, qubit: int) -> int:
        return _measure(self.psi, qubit, self.rng)

    def reset(self, qubit: int) -> None:
        if self.measure(qubit):
            _apply(self.psi, _x(qubit))

    def run(self, start: str, skip: int) -> None:
        blocks = self.program.blocks
        name, previous, steps = start, "", 0
        while True:
            block = blocks[name]
            if block.phis:
                incoming = []
                for dest, choices in block.phis:
                    if previous not in choices:
                        raise invalid_input(f"phi %{dest} in block {name!r} has no value for predecessor "
                                            f"{previous or '(entry)'!r}")
                    incoming.append((dest, self.value(choices[previous])))
                self.env.update(incoming)
            ops = block.ops[skip:] if skip else block.ops
            skip = 0
            steps += len(ops) + 1
            if steps > MAX_STEPS_PER_SHOT:
                raise invalid_input(f"a shot ran more than {MAX_STEPS_PER_SHOT:,} instructions "
                                    "(does the program loop forever?)")
            for op in ops:
                if isinstance(op, GateOp):
                    self.gate(op)
                elif isinstance(op, MeasureOp):
                    self.results[op.result] = self.measure(op.qubit)
                    if op.reset and self.results[op.result]:
                        _apply(self.psi, _x(op.qubit))
                elif isinstance(op, ResetOp):
                    self.reset(op.qubit)
                elif isinstance(op, ReadOp):
                    self.env[op.dest] = bool(self.results[op.result])
                elif isinstance(op, ValueOp):
                    self.env[op.dest] = self.compute(op)
                elif isinstance(op, RecordOp):
                    v = self.results[op.value] if op.kind == "result" else self.value(op.value)
                    self.records.append((op.kind, v))
            term = block.term
            if isinstance(term, Jump):
                previous, name = name, term.target
            elif isinstance(term, Branch):
                previous, name = name, term.if_true if self.value(term.cond) else term.if_false
            else:
                return


SMALL_STATE_QUBITS = 12  # below this, numpy per gate beats waking numba's thread pool per gate


def apply_small(psi: State, gate: Gate) -> None:
    """A gate on a small state with numpy: shot-by-shot programs apply thousands of gates to states
    of a few qubits, where the parallel kernels' per-call thread start-up dominates (milliseconds
    per gate on a loaded node, against microseconds here)."""
    n = psi.shape[0].bit_length() - 1
    view = psi.reshape((2,) * n)  # axis a holds qubit n-1-a
    index: list[Any] = [slice(None)] * n
    for c in gate.controls:
        index[n - 1 - c] = 1
    sub = view[tuple(index)]  # a view: the amplitudes where every control is 1
    remaining = [a for a in range(n) if not isinstance(index[a], int)]
    k = len(gate.targets)
    # matrix rows are little-endian in target order: reshaped, axis j is target k-1-j
    axes = [remaining.index(n - 1 - gate.targets[k - 1 - j]) for j in range(k)]
    m = gate.matrix.reshape((2,) * (2 * k))
    out = np.tensordot(m, sub, axes=(list(range(k, 2 * k)), axes))
    sub[...] = np.moveaxis(out, list(range(k)), axes)


def _apply(psi: State, gate: Gate) -> None:
    if psi.shape[0] <= 1 << SMALL_STATE_QUBITS:
        apply_small(psi, gate)
    else:
        apply_gate(psi, gate)


_GATES: dict[int, Gate] = {}
_X: dict[int, Gate] = {}


def _cached_gate(op: GateOp) -> Gate:
    key = id(op)
    gate = _GATES.get(key)
    if gate is None:
        gate = _GATES[key] = gate_of(op)
    return gate


def _x(qubit: int) -> Gate:
    gate = _X.get(qubit)
    if gate is None:
        gate = _X[qubit] = gate_of(GateOp("x", (), (qubit,)))
    return gate


def _run_dynamic(program: QirProgram, shots: int, rng: np.random.Generator,
                 progress: Progress | None) -> tuple[list[Any], list[int]]:
    check_memory(max(program.qubits, 1), extra_factor=1.0)
    _GATES.clear()
    first = program.blocks[program.first]
    prefix = 0  # leading gates with constant angles run once, before the shots
    while (prefix < len(first.ops) and not first.phis and isinstance(first.ops[prefix], GateOp)
           and all(not isinstance(a, tuple) for a in first.ops[prefix].args)):
        prefix += 1
    base = zero_state(max(program.qubits, 1))
    apply_all(base, [gate_of(op) for op in first.ops[:prefix]], progress)
    outcomes: list[Any] = []
    known: dict[str, int] = {}
    index: list[int] = []
    last = time.monotonic()
    try:
        for shot in range(shots):
            run = _Shot(program, base.copy(), rng)
            run.run(program.first, prefix)
            outcome = build_outcome(run.records)
            key = repr(outcome)
            k = known.get(key)
            if k is None:
                k = known[key] = len(outcomes)
                outcomes.append(outcome)
            index.append(k)
            if progress is not None and time.monotonic() - last >= 1.0:
                last = time.monotonic()
                progress(f"QIR: {shot + 1}/{shots} shots simulated")
    finally:
        _GATES.clear()
    return outcomes, index
