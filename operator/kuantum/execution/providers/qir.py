"""QIR (`qir.v1`) for the hardware providers, as Azure Quantum translates Q# jobs, and results back.

- `qir_to_ionq`: base-profile QIR -> the `input` object of IonQ's job API (an IonQ "qis" circuit).
- `qir_to_qasm`: QIR -> OpenQASM 2 for Quantinuum; mid-circuit measurement and reset translate, and
  so does the adaptive profile's simple feedback (`if (result) { gates }`), one 1-bit register per
  QIR result (`r0`, `r1`, ...), since OpenQASM 2 conditions compare whole registers.
- `ionq_output` / `quantinuum_output`: the provider's results -> `microsoft.quantum-results.v2`
  (or `.v1`), the format a QIR job's output blob has on Azure.

Parsing, validation and the gate vocabulary are the solver's (`kuantum_solvers.formats.circuits.qir_load`,
qelib1 names); IonQ names come from `remote.circuits`' table. Every function takes the program
bytes, so mapping results back needs nothing stored besides the job's input.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from kuantum_solvers.formats.circuits.qir_load import (
    Branch,
    GateOp,
    Jump,
    MeasureOp,
    QirProgram,
    ReadOp,
    RecordOp,
    ResetOp,
    finite_angle,
    load_program,
    prune_static,
)
from kuantum_solvers.formats.errors import SolverError
from kuantum_solvers.formats.results import V2, build_outcome, format_results, from_counts

from .circuits import InvalidProgram, _line, _Named, _translate, ionq_circuit_to_ionq

_FEEDBACK = ("mid-circuit measurement with classical feedback (an adaptive-profile program) cannot run on "
             "IonQ: its circuits measure every qubit once, at the end; compile for the base profile")


@dataclass
class Layout:
    """How outcomes are rebuilt from per-result bits: the output records and the result count."""

    records: list[RecordOp]
    results: int

    def outcome(self, bit: Any) -> Any:
        """`bit(r)` -> 0/1 of result r; returns the shot's outcome value."""
        resolved = [(rec.kind, bit(int(rec.value)) if rec.kind == "result" else rec.value)
                    for rec in self.records]
        return build_outcome(resolved)


def _load(data: bytes, params: dict[str, Any] | None) -> QirProgram:
    params = params or {}
    if params.get("arguments"):
        raise InvalidProgram("inputParams.arguments must be empty: QIR entry points take no arguments")
    try:
        return load_program(data, params.get("entryPoint"),
                            params.get("targetCapability") or params.get("target_profile"))
    except SolverError as exc:
        raise InvalidProgram(exc.message) from exc


def _angles(op: GateOp) -> list[float]:
    try:
        return [finite_angle(a, f"gate {op.name!r}") for a in op.args]
    except SolverError as exc:
        raise InvalidProgram(exc.message) from exc


def _records(program: QirProgram) -> list[RecordOp]:
    return [op for name in _order(program) for op in program.blocks[name].ops if isinstance(op, RecordOp)]


def _order(program: QirProgram) -> list[str]:
    """Blocks in layout order (the module's order), which is execution order for the programs translated."""
    return list(program.blocks)


# --- IonQ ---------------------------------------------------------------------------------------------


def _ionq_ops(program: QirProgram) -> list[Any]:
    ops = program.linear_ops()
    if ops is None:
        raise InvalidProgram(_FEEDBACK)
    ops = prune_static([op for k, op in enumerate(ops) if not (isinstance(op, ResetOp) and _dead_reset(k, ops))])
    measured: set[int] = set()
    for op in ops:
        if isinstance(op, ResetOp):
            raise InvalidProgram("a reset of a qubit that is used again cannot run on IonQ: its circuits have no "
                                 "mid-circuit operations")
        if isinstance(op, MeasureOp):
            if op.qubit in measured:
                raise InvalidProgram(f"qubit {op.qubit} is measured twice; IonQ measures each qubit once, at the end")
            measured.add(op.qubit)
        elif isinstance(op, GateOp) and measured.intersection(op.qubits):
            raise InvalidProgram(f"gate {op.name!r} acts on a qubit after it was measured; IonQ measures every "
                                 "qubit once, at the end")
    return ops


def _dead_reset(k: int, ops: list[Any]) -> bool:
    """Resets after a qubit's last use (Q#'s ResetAll at the end) change no outcome."""
    qubit = ops[k].qubit
    for op in ops[k + 1:]:
        if isinstance(op, GateOp) and qubit in op.qubits:
            return False
        if isinstance(op, MeasureOp | ResetOp) and op.qubit == qubit:
            return False
    return True


def qir_to_ionq(data: bytes, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Base-profile QIR -> IonQ's job `input` ({"gateset": "qis", "qubits", "circuit"}).

    IonQ reports states over its qubits: the qubit measured into result r becomes IonQ qubit r, so
    state bit r is result r; qubits never measured follow. Raises InvalidProgram for feedback,
    mid-circuit resets and gates after measurement."""
    program = _load(data, params)
    ops = _ionq_ops(program)
    results = max([op.result + 1 for op in ops if isinstance(op, MeasureOp)], default=0)
    label = {op.qubit: op.result for op in ops if isinstance(op, MeasureOp)}
    following = results
    for q in sorted({q for op in ops if isinstance(op, GateOp) for q in op.qubits}):
        if q not in label:
            label[q] = following
            following += 1
    circuit: list[dict[str, Any]] = []
    for k, op in enumerate(ops):
        if isinstance(op, GateOp):
            circuit.extend(_translate(_Named(op.name, _angles(op), list(op.qubits), f"instruction {k + 1}", None),
                                      label))
    document = {"gateset": "qis", "qubits": max(following, 1), "circuit": circuit}
    return ionq_circuit_to_ionq(document)  # validated by the solver's IonQ parser


def _shot_counts(probabilities: dict[str, float], shots: int) -> list[tuple[int, int]]:
    """IonQ's probabilities -> integer counts summing to `shots` (largest remainder)."""
    states = []
    for key, value in probabilities.items():
        if not isinstance(key, str) or not key.isdigit():
            raise ValueError(f"result key {key!r} is not a decimal basis state")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"probability of state {key!r} is not a non-negative number: {value!r}")
        states.append((int(key), float(value)))
    total = sum(p for _, p in states) or 1.0
    exact = [(s, p / total * shots) for s, p in states]
    counts = {s: math.floor(x) for s, x in exact}
    left = shots - sum(counts.values())
    for s, _x in sorted(exact, key=lambda sx: sx[1] - math.floor(sx[1]), reverse=True)[:max(left, 0)]:
        counts[s] += 1
    return sorted((s, n) for s, n in counts.items() if n)


def ionq_output(data: bytes, params: dict[str, Any] | None, probabilities: dict[str, float], shots: int,
                output_format: str = V2) -> bytes:
    """IonQ's result probabilities for the circuit `qir_to_ionq` made -> the QIR job's output blob.
    Counts are probability x shots (rounded to sum to `shots`); Shots lists them in histogram order."""
    program = _load(data, params)
    layout = Layout(_records(program), program.results)
    merged: dict[str, tuple[Any, int]] = {}
    for state, n in _shot_counts(probabilities, shots):
        outcome = layout.outcome(lambda r, state=state: (state >> r) & 1)
        key = repr(outcome)
        merged[key] = (outcome, merged.get(key, (outcome, 0))[1] + n)
    return _dump(from_counts(list(merged.values()), output_format))


# --- Quantinuum (OpenQASM 2) --------------------------------------------------------------------------


def _gate_line(op: GateOp) -> str:
    return _line(op.name, _angles(op), list(op.qubits))


def _block_lines(program: QirProgram, name: str, condition: str | None = None) -> list[str]:
    lines = []
    prefix = f"if ({condition}==1) " if condition else ""
    for op in program.blocks[name].ops:
        if isinstance(op, GateOp):
            lines.append(prefix + _gate_line(op))
        elif condition is not None and not isinstance(op, RecordOp):
            raise InvalidProgram(f"block {name!r}: only gates can be conditioned on a result in OpenQASM 2")
        elif isinstance(op, MeasureOp):
            lines.append(f"measure q[{op.qubit}] -> r{op.result}[0];")
            if op.reset:
                lines.append(f"reset q[{op.qubit}];")
        elif isinstance(op, ResetOp):
            lines.append(f"reset q[{op.qubit}];")
    return lines


def qir_to_qasm(data: bytes, params: dict[str, Any] | None = None) -> str:
    """QIR -> OpenQASM 2 with one 1-bit register per result (`r<k>`, Quantinuum returns each).

    Control flow translates when it is a chain of blocks where a block may end in
    `br (read_result r), then, next` with `then` holding only gates and jumping to `next`; anything
    else (phi, arithmetic, loops) raises InvalidProgram."""
    program = _load(data, params)
    reads: dict[str, int] = {}
    lines: list[str] = []
    name: str | None = program.first
    seen: set[str] = set()
    while name is not None:
        if name in seen:
            raise InvalidProgram(f"block {name!r} is reached twice (a loop): OpenQASM 2 has no loops")
        seen.add(name)
        block = program.blocks[name]
        if block.phis:
            raise InvalidProgram(f"block {name!r} has phi nodes: OpenQASM 2 cannot hold classical values")
        for op in block.ops:
            if isinstance(op, ReadOp):
                reads[op.dest] = op.result
            elif not isinstance(op, GateOp | MeasureOp | ResetOp | RecordOp):
                raise InvalidProgram(f"block {name!r} computes with classical values, which OpenQASM 2 cannot "
                                     "express; only 'if (result) { gates }' feedback translates")
        lines.extend(_block_lines(program, name))
        term = block.term
        if isinstance(term, Jump):
            name = term.target
        elif isinstance(term, Branch):
            name = _if_then(program, term, reads, lines)
        else:
            name = None
    qubits = max(program.qubits, 1)
    header = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{qubits}];"]
    header += [f"creg r{k}[1];" for k in range(program.results)]
    return "\n".join(header + lines) + "\n"


def qir_to_quantinuum(data: bytes, params: dict[str, Any] | None = None) -> tuple[str, dict[str, int]]:
    """`qir_to_qasm` and its classical registers (name -> width), as `Program.registers` wants them."""
    text = qir_to_qasm(data, params)
    registers = {line[5:].split("[")[0]: 1 for line in text.splitlines() if line.startswith("creg r")}
    return text, registers


def _if_then(program: QirProgram, term: Branch, reads: dict[str, int], lines: list[str]) -> str:
    cond = term.cond
    if not (isinstance(cond, tuple) and cond[1] in reads):
        raise InvalidProgram("a branch whose condition is not a measurement result cannot be expressed in "
                             "OpenQASM 2")
    result = reads[cond[1]]
    for then, after, value in ((term.if_true, term.if_false, 1), (term.if_false, term.if_true, 0)):
        block = program.blocks[then]
        if isinstance(block.term, Jump) and block.term.target == after and not block.phis:
            if value == 0:
                raise InvalidProgram("feedback on a result being Zero has no OpenQASM 2 form here "
                                     "(compile 'if r == One' branches)")
            lines.extend(_block_lines(program, then, f"r{result}"))
            return after
    raise InvalidProgram("only 'if (result) { gates }' branches translate to OpenQASM 2; this program has "
                         "else-branches or nested control flow")


def quantinuum_output(data: bytes, params: dict[str, Any] | None, registers: dict[str, list[str]],
                      output_format: str = V2) -> bytes:
    """Quantinuum's per-shot registers ({"r0": ["0", "1", ...], ...}) -> the QIR job's output blob."""
    program = _load(data, params)
    layout = Layout(_records(program), program.results)
    columns = {k: registers.get(f"r{k}") for k in range(program.results)}
    lengths = {len(v) for v in columns.values() if v is not None}
    if len(lengths) > 1:
        raise ValueError(f"result registers have different shot counts {sorted(lengths)}")
    shots = lengths.pop() if lengths else 0
    outcomes: list[Any] = []
    known: dict[str, int] = {}
    index: list[int] = []
    for s in range(shots):
        def bit(r: int, s: int = s) -> int:
            column = columns.get(r)
            return int(column[s][-1]) if column else 0
        outcome = layout.outcome(bit)
        key = repr(outcome)
        if key not in known:
            known[key] = len(outcomes)
            outcomes.append(outcome)
        index.append(known[key])
    if not index:
        raise ValueError("the provider returned no shots")
    return _dump(format_results(outcomes, index, output_format))


def _dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
