"""Program translations for the remote providers, as Azure Quantum does them, and IonQ's result blob.

- `ionq_circuit_to_ionq`: Azure's `ionq.circuit.v1` blob -> the `input` object of IonQ's job API.
- `qasm_to_ionq`: OpenQASM 2 -> an IonQ "qis" JSON circuit (where every gate maps).
- `ionq_to_qasm`: an IonQ JSON circuit -> OpenQASM 2, so the Quantinuum path can take IonQ JSON.
- `ionq_histogram_output`: IonQ's probabilities -> Azure's `ionq.quantum-results.v1` blob.

Parsing and validation are the solver's formats (`kuantum_solvers.formats.circuits`): a program that the
local simulator refuses is refused here too, with the same message, before anything is submitted.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from kuantum_solvers.formats.circuits import qasm as solver_qasm
from kuantum_solvers.formats.circuits.ionq import ALIASES as IONQ_ALIASES  # the solver's IonQ wire-name aliases
from kuantum_solvers.formats.circuits.ionq import parse_circuit
from kuantum_solvers.formats.circuits.qelib1 import QELIB1
from kuantum_solvers.formats.errors import SolverError


class InvalidProgram(Exception):
    """The program cannot be run on (or translated for) the provider; the message says where and why."""


# The one gate-name table, OpenQASM 2 (qelib1) name -> IonQ "qis" name; the number of controls is
# qelib1's. qasm_to_ionq reads it left to right; ionq_to_qasm writes the first qelib1 name listed for
# an (IonQ name, control count) pair.
GATE_NAMES: tuple[tuple[str, str], ...] = (
    ("x", "x"), ("cx", "x"), ("CX", "x"), ("ccx", "x"), ("c3x", "x"), ("c4x", "x"),
    ("y", "y"), ("cy", "y"), ("z", "z"), ("cz", "z"), ("h", "h"), ("ch", "h"),
    ("s", "s"), ("sdg", "si"), ("t", "t"), ("tdg", "ti"),
    ("sx", "v"), ("csx", "v"), ("c3sqrtx", "v"), ("sxdg", "vi"),
    ("rx", "rx"), ("crx", "rx"), ("ry", "ry"), ("cry", "ry"), ("rz", "rz"), ("crz", "rz"),
    ("swap", "swap"), ("cswap", "swap"),
    ("rxx", "xx"), ("ryy", "yy"), ("rzz", "zz"),
    ("u1", "rz_phase"), ("cu1", "rz_phase"), ("p", "rz_phase"), ("cp", "rz_phase"),  # phase: see _translate
)
TO_IONQ: dict[str, str] = dict(GATE_NAMES)
TO_QASM: dict[tuple[str, int], str] = {}
for _qasm_name, _ionq_name in GATE_NAMES:
    TO_QASM.setdefault((_ionq_name, QELIB1[_qasm_name][1]), _qasm_name)
_TWO_TARGET = {"swap", "xx", "yy", "zz"}
# IonQ names the solver's alias table does not cover.
_MORE_ALIASES = {"not": "x", "cnot": "x", "rxx": "xx", "ryy": "yy", "rzz": "zz", "i": "id"}


def _invalid(exc: SolverError) -> InvalidProgram:
    return InvalidProgram(exc.message)


# --- IonQ JSON --------------------------------------------------------------------------------------


def _for_solver(document: dict[str, Any]) -> dict[str, Any]:
    """The solver reads "zz" as the native gate only; IonQ's qis set also has it (as qiskit-ionq sends
    RZZ), so a qis "zz" is shown to the solver by its other name."""
    if document.get("gateset", "qis") != "qis" or not isinstance(document.get("circuit"), list):
        return document
    ops = [dict(op, gate="rzz") if isinstance(op, dict) and str(op.get("gate", "")).lower() == "zz" else op
           for op in document["circuit"]]
    return dict(document, circuit=ops)


def _ionq_document(document: Any) -> dict[str, Any]:
    """The circuit object (unwrapping an IonQ API envelope), validated by the solver's parser."""
    if isinstance(document, (bytes, str)):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise InvalidProgram(f"the circuit is not valid JSON: {exc}") from exc
    if isinstance(document, dict) and isinstance(document.get("input"), dict):
        document = document["input"]
    if not isinstance(document, dict):
        raise InvalidProgram("circuit input must be a JSON object with 'qubits' and 'circuit'")
    try:
        parse_circuit(_for_solver(document))
    except SolverError as exc:
        raise _invalid(exc) from exc
    return document


def ionq_circuit_to_ionq(document: Any) -> dict[str, Any]:
    """Azure's `ionq.circuit.v1` blob -> the `input` object IonQ's POST /jobs takes."""
    doc = _ionq_document(document)
    return {"gateset": doc.get("gateset", "qis"), "qubits": doc["qubits"], "circuit": json.loads(json.dumps(
        doc["circuit"]))}


def ionq_histogram_output(probabilities: dict[str, float]) -> bytes:
    """Azure's `ionq.quantum-results.v1`: {"histogram": {"<decimal state>": probability}}, qubit 0 = LSB."""
    histogram: dict[str, float] = {}
    for key, value in sorted(probabilities.items(), key=lambda kv: _state(kv[0])):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"probability of state {key!r} is not a non-negative number: {value!r}")
        histogram[str(_state(key))] = float(value)
    return json.dumps({"histogram": histogram}, separators=(",", ":")).encode()


def _state(key: Any) -> int:
    if not isinstance(key, str) or not key.isdigit():
        raise ValueError(f"result key {key!r} is not a decimal basis state")
    return int(key)


# --- OpenQASM 2 -> IonQ -----------------------------------------------------------------------------


@dataclass
class _Named:
    """A qelib1 gate as written (name kept), with the line of the statement that applied it."""

    name: str
    args: list[float]
    qubits: list[int]
    line: str
    inside: str | None  # the user-defined gate it came from, if any


class _Recorder(solver_qasm.Builder):
    """The solver's OpenQASM interpreter, recording gates by name instead of as matrices."""

    def __init__(self) -> None:
        super().__init__()
        self._site: tuple[str, str | None] = ("?", None)

    def apply(self, name: str, args: list[float], qubits: list[int], out: list[Any], node: Any, depth: int) -> None:
        if depth == 0:
            self._site = (solver_qasm.line_of(node), name if name in self.defs else None)
        if name in self.defs:
            super().apply(name, args, qubits, out, node, depth)
            return
        out.append(_Named(name, args, qubits, *self._site))


def check_qasm(text: str) -> None:
    """Raises InvalidProgram (line, column, token) unless the solver's OpenQASM parser accepts the program: a
    provider that takes OpenQASM as it is gets nothing it would refuse later, after a queue wait."""
    try:
        solver_qasm.parse_program(text)
    except SolverError as exc:
        raise _invalid(exc) from exc


def _parse_named(text: str) -> tuple[solver_qasm.Program, list[Any]]:
    """Validates with the solver's parser (its messages), then re-reads the program keeping gate names."""
    import openqasm3

    try:
        program = solver_qasm.parse_program(text)
    except SolverError as exc:
        raise _invalid(exc) from exc
    recorder = _Recorder()
    for stmt in openqasm3.parse(text).statements:  # already known to parse
        recorder.statement(stmt, recorder.prog.ops)
    return program, recorder.prog.ops


def _where(op: _Named) -> str:
    return f"line {op.line}" + (f" (in gate {op.inside!r})" if op.inside else "")


def _labels(program: solver_qasm.Program, ops: list[Any]) -> tuple[dict[int, int], int]:
    """IonQ measures every qubit once, at the end, and reports states over qubits. So that the state's
    bit i is classical bit i, the qubit measured into clbit i becomes IonQ qubit i; unmeasured qubits
    come after the classical bits. Returns (qubit -> IonQ qubit, IonQ qubit count)."""
    measured: dict[int, int] = {}
    for op in ops:
        if isinstance(op, solver_qasm.Reset | solver_qasm.IfEq):
            kind = "reset" if isinstance(op, solver_qasm.Reset) else "if (...)"
            raise InvalidProgram(f"'{kind}' cannot run on IonQ: its circuits have no mid-circuit operations")
        if isinstance(op, solver_qasm.Measure):
            if op.qubit in measured:
                raise InvalidProgram(f"qubit {op.qubit} is measured twice; IonQ measures each qubit once, at the end")
            if op.clbit in measured.values():
                raise InvalidProgram(f"classical bit {op.clbit} is written by two measurements")
            measured[op.qubit] = op.clbit
        elif isinstance(op, _Named) and measured.keys() & set(op.qubits):
            raise InvalidProgram(f"{_where(op)}: gate {op.name!r} acts on a qubit after it was measured; "
                                 "IonQ measures every qubit once, at the end")
    if not measured:  # no measure statement: IonQ's own convention, every qubit in order
        return {q: q for q in range(program.qubits)}, program.qubits
    labels = dict(measured)
    following = program.clbits
    for q in range(program.qubits):
        if q not in labels:
            labels[q] = following
            following += 1
    return labels, max(following, max(labels.values()) + 1)


def _gate(name: str, targets: list[int], controls: list[int], rotation: float | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"gate": name, "targets": targets}
    if controls:
        op["controls"] = controls
    if rotation is not None:
        op["rotation"] = rotation
    return op


def _translate(op: _Named, label: dict[int, int]) -> list[dict[str, Any]]:
    qubits = [label[q] for q in op.qubits]
    args = op.args
    if op.name in ("id", "u0"):
        return []
    if op.name in ("u3", "u", "U", "u2"):  # U(θ, φ, λ) = Rz(φ)·Ry(θ)·Rz(λ) up to a global phase
        theta, phi, lam = (math.pi / 2, *args) if op.name == "u2" else args
        return [_gate("rz", qubits, [], lam), _gate("ry", qubits, [], theta), _gate("rz", qubits, [], phi)]
    ionq = TO_IONQ.get(op.name)
    if ionq is None:
        names = ", ".join(sorted({n for n, _ in GATE_NAMES if n != "CX"} | {"u", "u2", "u3", "id"}))
        raise InvalidProgram(f"{_where(op)}: gate {op.name!r} has no IonQ equivalent (gates that translate: "
                             f"{names})")
    n_controls = QELIB1[op.name][1]
    controls, targets = qubits[:n_controls], qubits[n_controls:]
    rotation = args[0] if args else None
    if ionq == "rz_phase":  # P(λ) = Rz(λ) up to a global phase; under a control that phase is Rz(λ/2) there
        return ([_gate("rz", controls, [], args[0] / 2)] if controls else []) + [
            _gate("rz", targets, controls, args[0])]
    return [_gate(ionq, targets, controls, rotation)]


def qasm_to_ionq(text: str) -> tuple[dict[str, Any], dict[str, int]]:
    """OpenQASM 2 -> (IonQ "qis" JSON circuit, classical registers name -> width).

    State bit i of IonQ's results is classical bit i (registers in declaration order); qubits that are
    never measured follow the classical bits. Raises InvalidProgram naming the gate and line that do
    not translate, or for mid-circuit measurement, reset and conditionals.
    """
    program, ops = _parse_named(text)
    label, n = _labels(program, ops)
    circuit: list[dict[str, Any]] = []
    for op in ops:
        if isinstance(op, _Named):
            circuit.extend(_translate(op, label))
    document = {"gateset": "qis", "qubits": n, "circuit": circuit}
    try:
        parse_circuit(_for_solver(document))
    except SolverError as exc:  # a translation bug, not the user's: say so
        raise InvalidProgram(f"translated circuit was refused: {exc.message}") from exc
    registers = {name: size for name, (_offset, size) in program.cregs.items()}
    return document, registers


# --- IonQ -> OpenQASM 2 -----------------------------------------------------------------------------


def _num(value: float) -> str:
    return repr(float(value))


def _line(name: str, params: list[float], qubits: list[int]) -> str:
    args = f"({','.join(_num(p) for p in params)})" if params else ""
    return f"{name}{args} {','.join(f'q[{q}]' for q in qubits)};"


def _qubit_list(op: dict[str, Any], single: str, multi: str) -> list[int]:
    out = [op[single]] if single in op else []
    return out + list(op.get(multi, []))


def _native_to_qasm(op: dict[str, Any], name: str, targets: list[int]) -> list[str]:
    tau = 2 * math.pi
    if name == "gpi":  # GPI(φ) = U(π, 2πφ, π - 2πφ) exactly
        a = tau * float(op["phase"])
        return [_line("u3", [math.pi, a, math.pi - a], targets)]
    if name == "gpi2":  # GPI2(φ) = U(π/2, 2πφ - π/2, π/2 - 2πφ) exactly
        a = tau * float(op["phase"])
        return [_line("u3", [math.pi / 2, a - math.pi / 2, math.pi / 2 - a], targets)]
    if name == "zz":  # ZZ(θ) = exp(-iπθ Z⊗Z) = RZZ(2πθ)
        return [_line("rzz", [tau * float(op["angle"])], targets)]
    # MS(φ0, φ1, θ) = Rz(a)·RXX(2πθ)·Rz(-a) on both targets, a = 2πφ. The solver's matrix (qiskit-ionq's
    # MSGate, read little-endian) turns the first target by φ1 and the second by φ0: follow it exactly.
    a0, a1 = tau * float(op["phases"][0]), tau * float(op["phases"][1])
    angle = tau * float(op.get("angle", 0.25))
    q0, q1 = targets
    return [_line("rz", [-a1], [q0]), _line("rz", [-a0], [q1]), _line("rxx", [angle], [q0, q1]),
            _line("rz", [a1], [q0]), _line("rz", [a0], [q1])]


def _qis_to_qasm(op: dict[str, Any], k: int, targets: list[int], controls: list[int]) -> list[str]:
    raw = str(op["gate"]).lower()
    name = _MORE_ALIASES.get(raw, IONQ_ALIASES.get(raw, raw))
    rotation = [float(op["rotation"])] if name in ("rx", "ry", "rz", "xx", "yy", "zz", "rz_phase") else []
    if name == "id":
        return [_line("id", [], [t]) for t in targets]
    if name in _TWO_TARGET:
        qasm = TO_QASM.get((name, len(controls)))
        if qasm is None:
            raise InvalidProgram(f"gate {k}: {raw!r} with {len(controls)} control(s) has no OpenQASM 2 "
                                 "(qelib1) equivalent")
        return [_line(qasm, rotation, controls + targets)]
    qasm = TO_QASM.get((name, len(controls)))
    if qasm is None:
        raise InvalidProgram(f"gate {k}: {raw!r} with {len(controls)} control(s) has no OpenQASM 2 "
                             "(qelib1) equivalent")
    return [_line(qasm, rotation, [*controls, t]) for t in targets]


def ionq_to_qasm(document: Any) -> str:
    """An IonQ JSON circuit (qis or native gate set) -> OpenQASM 2 measuring every qubit, q[i] -> c[i]."""
    doc = _ionq_document(document)
    n = doc["qubits"]
    native = doc.get("gateset", "qis") == "native"
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{n}];", f"creg c[{n}];"]
    for k, op in enumerate(doc["circuit"]):
        targets = _qubit_list(op, "target", "targets")
        controls = _qubit_list(op, "control", "controls")
        if native:
            lines.extend(_native_to_qasm(op, str(op["gate"]).lower(), targets))
        else:
            lines.extend(_qis_to_qasm(op, k, targets, controls))
    lines.append("measure q -> c;")
    text = "\n".join(lines) + "\n"
    try:
        solver_qasm.parse_program(text)
    except SolverError as exc:  # a translation bug, not the user's: say so
        raise InvalidProgram(f"translated program was refused: {exc.message}") from exc
    return text
