"""Quil programs (`rigetti.quil.v1`) → a checked program the simulator runs.

The text is parsed by the `quil` package (quil-rs, the Quil reference parser maintained by Rigetti);
this module keeps what an ideal simulator needs and refuses, with the construct and its line, what
it cannot run: pulse-level Quil-T (DEFCAL, DEFFRAME, DEFWAVEFORM, PULSE, CAPTURE, ...), DEFCIRCUIT,
INCLUDE, LOAD/STORE, CALL, SHARING memory, FORKED gates, gates on more than two target qubits.

Supported: DECLARE (BIT, OCTET, INTEGER, REAL), the standard gates (I X Y Z H S T PHASE RX RY RZ CZ
CNOT CCNOT CPHASE CPHASE00 CPHASE01 CPHASE10 SWAP CSWAP ISWAP PSWAP XY), DEFGATE (matrix, with
parameters, or permutation), the CONTROLLED and DAGGER modifiers, parameters written as expressions
over memory (`RX(2*theta[0]) 0`, filled per run by `substitutions`), MEASURE (into BIT/INTEGER/OCTET or
discarded), RESET (one qubit or all), classical MOVE/ADD/SUB/MUL/DIV/NEG/NOT/AND/IOR/XOR/EXCHANGE/
CONVERT/EQ/GT/GE/LT/LE, LABEL/JUMP/JUMP-WHEN/JUMP-UNLESS, HALT; PRAGMA, NOP, WAIT, FENCE and DELAY
change nothing on an ideal simulator and are skipped.

Light: imports `quil` and numpy only (no numba); part of the engines all the same, since the operator does not
read Quil and the formats' dependencies are the operator's (formats/__init__.py). Works with
the quil releases pyquil pins (0.18+) and the current ones (0.37): both render instructions to the
same canonical text, which is what this module reads besides gates' expressions.
"""

from __future__ import annotations

import cmath
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from kuantum_solvers.formats.errors import invalid_input

PULSE_LEVEL = ("DEFCAL", "DEFFRAME", "DEFWAVEFORM", "PULSE", "NONBLOCKING", "CAPTURE", "RAW-CAPTURE",
               "SET-FREQUENCY", "SHIFT-FREQUENCY", "SET-PHASE", "SHIFT-PHASE", "SWAP-PHASES", "SET-SCALE")
_UNSUPPORTED = {"DEFCIRCUIT": "DEFCIRCUIT (circuit macros)", "INCLUDE": "INCLUDE", "LOAD": "LOAD",
                "STORE": "STORE", "CALL": "CALL (extern functions)"}
_SKIPPED = {"PRAGMA", "NOP", "WAIT", "FENCE", "DELAY"}
_DEFINITIONS = {"DECLARE", "DEFGATE"}
_BINARY = {"MOVE", "ADD", "SUB", "MUL", "DIV", "AND", "IOR", "XOR", "EXCHANGE", "CONVERT"}
_UNARY = {"NEG", "NOT"}
_COMPARE = {"EQ", "GT", "GE", "LT", "LE"}
MEMORY_TYPES = ("BIT", "OCTET", "INTEGER", "REAL")
MAX_INSTRUCTIONS = 1_000_000

Matrix = npt.NDArray[np.complex128]


# --- standard gates: (parameters, built-in controls, target qubits, matrix builder) ----------------
# Matrices are Quil's: the first target qubit is the most significant bit of the row/column index.

def _m(rows: list[list[complex]]) -> Matrix:
    return np.array(rows, dtype=np.complex128)


def _diag(*d: complex) -> Matrix:
    return np.diag(np.array(d, dtype=np.complex128))


_S2 = 1 / math.sqrt(2)
_X = _m([[0, 1], [1, 0]])
_SWAP = _m([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])


def _rx(t: float) -> Matrix:
    c, s = math.cos(t / 2), math.sin(t / 2)
    return _m([[c, -1j * s], [-1j * s, c]])


def _ry(t: float) -> Matrix:
    c, s = math.cos(t / 2), math.sin(t / 2)
    return _m([[c, -s], [s, c]])


def _rz(t: float) -> Matrix:
    return _diag(cmath.exp(-0.5j * t), cmath.exp(0.5j * t))


def _phase(t: float) -> Matrix:
    return _diag(1, cmath.exp(1j * t))


def _pswap(t: float) -> Matrix:
    e = cmath.exp(1j * t)
    return _m([[1, 0, 0, 0], [0, 0, e, 0], [0, e, 0, 0], [0, 0, 0, 1]])


def _xy(t: float) -> Matrix:
    c, s = math.cos(t / 2), 1j * math.sin(t / 2)
    return _m([[1, 0, 0, 0], [0, c, s, 0], [0, s, c, 0], [0, 0, 0, 1]])


STANDARD_GATES: dict[str, tuple[int, int, int, Any]] = {
    "I": (0, 0, 1, lambda: _diag(1, 1)),
    "X": (0, 0, 1, lambda: _X),
    "Y": (0, 0, 1, lambda: _m([[0, -1j], [1j, 0]])),
    "Z": (0, 0, 1, lambda: _diag(1, -1)),
    "H": (0, 0, 1, lambda: _m([[_S2, _S2], [_S2, -_S2]])),
    "S": (0, 0, 1, lambda: _diag(1, 1j)),
    "T": (0, 0, 1, lambda: _diag(1, cmath.exp(0.25j * math.pi))),
    "PHASE": (1, 0, 1, _phase),
    "RX": (1, 0, 1, _rx),
    "RY": (1, 0, 1, _ry),
    "RZ": (1, 0, 1, _rz),
    "CZ": (0, 1, 1, lambda: _diag(1, -1)),
    "CNOT": (0, 1, 1, lambda: _X),
    "CCNOT": (0, 2, 1, lambda: _X),
    "CPHASE": (1, 1, 1, _phase),
    "CPHASE00": (1, 0, 2, lambda t: _diag(cmath.exp(1j * t), 1, 1, 1)),
    "CPHASE01": (1, 0, 2, lambda t: _diag(1, cmath.exp(1j * t), 1, 1)),
    "CPHASE10": (1, 0, 2, lambda t: _diag(1, 1, cmath.exp(1j * t), 1)),
    "SWAP": (0, 0, 2, lambda: _SWAP),
    "CSWAP": (0, 1, 2, lambda: _SWAP),
    "ISWAP": (0, 0, 2, lambda: _m([[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]])),
    "PSWAP": (1, 0, 2, _pswap),
    "XY": (1, 0, 2, _xy),
}


# --- the program ---------------------------------------------------------------------------------

MemRef = tuple[str, int]
Operand = MemRef | int | float  # a memory reference or a literal


@dataclass
class QuilGate:
    name: str
    params: tuple[Any, ...]  # quil Expression objects
    qubits: tuple[int, ...]  # dense simulator indices: modifier controls, built-in controls, targets
    controls: int  # CONTROLLED modifiers + the gate's own controls (CNOT, CCNOT, CZ, CSWAP, CPHASE)
    dagger: bool
    line: int
    uses_memory: bool  # parameters read memory: evaluated per run (or per shot when memory changes)
    constant: tuple[float, ...] | None = None  # parameter values when they read no memory


@dataclass
class QuilMeasure:
    qubit: int
    target: MemRef | None
    line: int


@dataclass
class QuilReset:
    qubit: int | None  # None: every qubit
    line: int


@dataclass
class QuilClassical:
    op: str
    operands: tuple[Operand, ...]
    line: int


@dataclass
class QuilJump:
    label: str
    condition: MemRef | None  # None: unconditional
    when: bool  # JUMP-WHEN (True) or JUMP-UNLESS (False)
    line: int


@dataclass
class QuilLabel:
    name: str


@dataclass
class QuilHalt:
    line: int


@dataclass
class GateDef:
    params: tuple[str, ...]
    kind: str  # matrix | permutation
    entries: list[list[Any]] | list[int]
    qubits: int


@dataclass
class QuilProgram:
    qubits: list[int]  # the program's qubit indices; simulator qubit k is qubits[k]
    memory: dict[str, tuple[str, int]]  # region -> (type, length), in declaration order
    ops: list[Any]
    gate_defs: dict[str, GateDef] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)  # label -> index into ops

    @property
    def straight(self) -> bool:
        """No classical control flow or arithmetic: only gates, measurements, resets (and a final HALT)."""
        return not any(isinstance(op, QuilClassical | QuilJump | QuilLabel) for op in self.ops)


def _strip_comment(line: str) -> str:
    quoted = False
    for k, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            return line[:k]
    return line


def _statements(text: str) -> tuple[list[int], list[str]]:
    """Line numbers of the top-level statements (the program's body, in order) and the regions in
    declaration order. Refuses pulse-level Quil and other constructs we cannot run, with their line."""
    lines: list[int] = []
    declared: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw)
        if not line.strip():
            continue
        indented = line[0] in " \t"
        for statement in line.split(";"):
            words = statement.split()
            if not words:
                continue
            word = words[0].upper()
            if word in PULSE_LEVEL:
                raise invalid_input(f"line {number}: {word} is pulse-level Quil (Quil-T), which the simulator "
                                    "cannot run; send gate-level Quil")
            if indented:
                continue  # the body of a DEFGATE (matrix rows)
            if word in _UNSUPPORTED:
                raise invalid_input(f"line {number}: {_UNSUPPORTED[word]} is not supported by the simulator")
            if word == "DECLARE" and len(words) > 1:
                declared.append(words[1])
            if word not in _DEFINITIONS:
                lines.append(number)
    return lines, declared


def _payload(instruction: Any) -> Any:
    """The variant's data: `._0` in current quil releases, `.inner()` in older ones."""
    try:
        return instruction._0
    except AttributeError:
        pass
    try:
        return instruction.inner()
    except Exception:  # unit variants (HALT, NOP, WAIT) carry no data
        return None


def _spec(spec: Any) -> tuple[str, Any]:
    if hasattr(spec, "is_matrix"):  # quil < 0.20
        if spec.is_matrix():
            return "matrix", spec.to_matrix()
        if spec.is_permutation():
            return "permutation", spec.to_permutation()
        return "other", None
    kind = type(spec).__name__.lower()
    return kind, getattr(spec, "_0", None)


def _type_name(value: Any) -> str:
    return str(value).rsplit(".", 1)[-1].upper()


_REF = re.compile(r"^([A-Za-z_][A-Za-z0-9_\-]*)\[(\d+)\]$")


class _Reader:
    def __init__(self, text: str, max_qubit: int, max_qubits: int) -> None:
        import quil.program

        self.lines, declared_order = _statements(text)
        try:
            self.program = quil.program.Program.parse(text)
        except Exception as exc:  # quil raises its own ProgramError/ParseError types
            message = str(exc).strip().splitlines()
            raise invalid_input(f"Quil syntax error: {' '.join(message)[:600]}") from None
        self.max_qubit = max_qubit
        self.max_qubits = max_qubits
        self.memory: dict[str, tuple[str, int]] = {}
        decls = self.program.declarations
        for name in [*declared_order, *sorted(set(decls) - set(declared_order))]:
            if name not in decls or name in self.memory:
                continue
            d = decls[name]
            if d.sharing is not None:
                raise invalid_input(f"DECLARE {name} ... SHARING (memory aliasing) is not supported")
            kind = _type_name(d.size.data_type)
            if kind not in MEMORY_TYPES:
                raise invalid_input(f"DECLARE {name}: unknown type {kind}")
            self.memory[name] = (kind, int(d.size.length))
        self.zero_memory = {name: [0.0] * length for name, (_kind, length) in self.memory.items()}
        self.gate_defs: dict[str, GateDef] = {}
        for name, definition in self.program.gate_definitions.items():
            self.gate_defs[str(name)] = self._gate_def(str(name), definition)
        self.qubit_map: dict[int, int] = {}

    def _gate_def(self, name: str, definition: Any) -> GateDef:
        kind, value = _spec(definition.specification)
        params = tuple(str(p) for p in definition.parameters)
        if kind == "matrix":
            rows = [list(r) for r in value]
            size = len(rows)
            if size < 2 or size & (size - 1) or any(len(r) != size for r in rows):
                raise invalid_input(f"DEFGATE {name}: the matrix must be square with a power-of-two size")
            qubits = size.bit_length() - 1
            entries: list[list[Any]] | list[int] = rows
        elif kind == "permutation":
            perm = [int(v) for v in value]
            size = len(perm)
            if size < 2 or size & (size - 1) or sorted(perm) != list(range(size)):
                raise invalid_input(f"DEFGATE {name} AS PERMUTATION: not a permutation of 0..2^n-1")
            qubits = size.bit_length() - 1
            entries = perm
        else:
            raise invalid_input(f"DEFGATE {name}: only matrix and permutation definitions are supported "
                                f"(not {kind})")
        if qubits > 2:
            raise invalid_input(f"DEFGATE {name}: gates on {qubits} qubits are not supported (at most 2; "
                                "use CONTROLLED for more qubits)")
        definition_ = GateDef(params, kind, entries, qubits)
        if not params:  # check unitarity once
            definition_matrix(name, definition_, ())
        return definition_

    def line(self, k: int) -> int:
        return self.lines[k] if len(self.lines) == self.count else 0

    def where(self, k: int) -> str:
        line = self.line(k)
        return f"line {line}" if line else f"instruction {k + 1}"

    def qubit(self, text: str, where: str) -> int:
        try:
            index = int(text)
        except ValueError:
            raise invalid_input(f"{where}: qubit {text!r} is not a fixed qubit index (placeholders and "
                                "variables must be resolved before submission)") from None
        if index < 0 or index > self.max_qubit:
            raise invalid_input(f"{where}: qubit {index} is beyond this target's qubits 0-{self.max_qubit}")
        if index not in self.qubit_map:
            if len(self.qubit_map) >= self.max_qubits:
                raise invalid_input(f"{where}: the program uses more than {self.max_qubits} qubits, this "
                                    "target's limit")
            self.qubit_map[index] = len(self.qubit_map)
        return self.qubit_map[index]

    def ref(self, text: str, where: str, *, kinds: tuple[str, ...] = MEMORY_TYPES) -> MemRef:
        m = _REF.match(text)
        if m is None:
            raise invalid_input(f"{where}: expected a memory reference, got {text!r}")
        name, index = m.group(1), int(m.group(2))
        if name not in self.memory:
            raise invalid_input(f"{where}: memory region {name!r} is not declared")
        kind, length = self.memory[name]
        if index >= length:
            raise invalid_input(f"{where}: {name}[{index}] is beyond {name}'s {length} element(s)")
        if kind not in kinds:
            raise invalid_input(f"{where}: {name} is {kind}; expected {' or '.join(kinds)}")
        return name, index

    def operand(self, text: str, where: str) -> Operand:
        if _REF.match(text):
            return self.ref(text, where)
        try:
            return int(text)
        except ValueError:
            pass
        try:
            value = float(text)
        except ValueError:
            raise invalid_input(f"{where}: expected a memory reference or a number, got {text!r}") from None
        if not math.isfinite(value):
            raise invalid_input(f"{where}: {text!r} is not a finite number")
        return value

    def gate(self, payload: Any, text: str, where: str, line: int) -> QuilGate:
        name = str(payload.name)
        modifiers = [_type_name(m) for m in payload.modifiers]
        if "FORKED" in modifiers:
            raise invalid_input(f"{where}: the FORKED modifier is not supported")
        controls = modifiers.count("CONTROLLED")
        dagger = modifiers.count("DAGGER") % 2 == 1
        params = tuple(payload.parameters)
        qubits = tuple(self.qubit(q.to_quil(), where) for q in payload.qubits)
        if name in self.gate_defs:
            definition = self.gate_defs[name]
            n_params, own_controls, targets = len(definition.params), 0, definition.qubits
        elif name in STANDARD_GATES:
            n_params, own_controls, targets, _ = STANDARD_GATES[name]
        else:
            raise invalid_input(f"{where}: unknown gate {name!r} (not a standard Quil gate and no DEFGATE)")
        if len(params) != n_params:
            raise invalid_input(f"{where}: {name} takes {n_params} parameter(s), got {len(params)}")
        if len(qubits) != controls + own_controls + targets:
            raise invalid_input(f"{where}: {text.strip()!r} needs {controls + own_controls + targets} qubit(s), "
                                f"got {len(qubits)}")
        if len(set(qubits)) != len(qubits):
            raise invalid_input(f"{where}: {text.strip()!r} uses a qubit twice")
        constant: tuple[float, ...] | None = None
        uses_memory = False
        try:
            constant = tuple(evaluate(p, {}, where, memory_needed=True) for p in params)
        except MemoryNeeded:
            uses_memory = True
            tuple(evaluate(p, self.zero_memory, where) for p in params)  # names and indices exist
        gate = QuilGate(name, params, qubits, controls + own_controls, dagger, line, uses_memory, constant)
        if constant is not None:
            gate_matrix(self.gate_defs, gate, constant)  # unitarity and arity checked now
        return gate

    def read(self) -> QuilProgram:
        body = list(self.program.body_instructions)
        self.count = len(body)
        if self.count > MAX_INSTRUCTIONS:
            raise invalid_input(f"the program has more than {MAX_INSTRUCTIONS:,} instructions")
        ops: list[Any] = []
        labels: dict[str, int] = {}
        for k, instruction in enumerate(body):
            where = self.where(k)
            line = self.line(k)
            try:
                text = str(instruction.to_quil())
            except Exception as exc:
                raise invalid_input(f"{where}: cannot be run ({str(exc).strip()[:200]}); placeholders must be "
                                    "resolved before submission") from None
            payload = _payload(instruction)
            if type(payload).__name__ == "Gate":
                ops.append(self.gate(payload, text, where, line))
                continue
            words = text.split()
            word = words[0].upper() if words else ""
            args = words[1:]
            if word in PULSE_LEVEL or word in ("DEFCAL", "DEFFRAME", "DEFWAVEFORM"):
                raise invalid_input(f"{where}: {word} is pulse-level Quil (Quil-T), which the simulator cannot run")
            if word == "MEASURE":
                if len(args) not in (1, 2) or "!" in text:
                    raise invalid_input(f"{where}: {text!r}: named or malformed MEASURE is not supported")
                target = self.ref(args[1], where, kinds=("BIT", "INTEGER", "OCTET")) if len(args) == 2 else None
                ops.append(QuilMeasure(self.qubit(args[0], where), target, line))
            elif word == "RESET":
                ops.append(QuilReset(self.qubit(args[0], where) if args else None, line))
            elif word in _BINARY:
                self._arity(word, args, 2, where)
                dest = self.ref(args[0], where)
                source = self.ref(args[1], where) if word == "EXCHANGE" else self.operand(args[1], where)
                ops.append(QuilClassical(word, (dest, source), line))
            elif word in _UNARY:
                self._arity(word, args, 1, where)
                ops.append(QuilClassical(word, (self.ref(args[0], where),), line))
            elif word in _COMPARE:
                self._arity(word, args, 3, where)
                dest = self.ref(args[0], where, kinds=("BIT", "INTEGER", "OCTET"))
                ops.append(QuilClassical(word, (dest, self.ref(args[1], where), self.operand(args[2], where)), line))
            elif word == "LABEL":
                self._arity(word, args, 1, where)
                if args[0] in labels:
                    raise invalid_input(f"{where}: label {args[0]} is defined twice")
                labels[args[0]] = len(ops)
                ops.append(QuilLabel(args[0]))
            elif word == "JUMP":
                self._arity(word, args, 1, where)
                ops.append(QuilJump(args[0], None, True, line))
            elif word in ("JUMP-WHEN", "JUMP-UNLESS"):
                self._arity(word, args, 2, where)
                ops.append(QuilJump(args[0], self.ref(args[1], where), word == "JUMP-WHEN", line))
            elif word == "HALT":
                ops.append(QuilHalt(line))
            elif word in _SKIPPED:
                continue
            elif word in _UNSUPPORTED:
                raise invalid_input(f"{where}: {_UNSUPPORTED[word]} is not supported by the simulator")
            else:
                raise invalid_input(f"{where}: {word or text!r} is not supported by the simulator")
        for op in ops:
            if isinstance(op, QuilJump) and op.label not in labels:
                raise invalid_input(f"line {op.line}: jump to undefined label {op.label}")
        qubits = sorted(self.qubit_map, key=self.qubit_map.__getitem__)
        return QuilProgram(qubits, self.memory, ops, self.gate_defs, labels)

    @staticmethod
    def _arity(word: str, args: list[str], n: int, where: str) -> None:
        if len(args) != n:
            raise invalid_input(f"{where}: {word} takes {n} operand(s), got {len(args)}")


def parse_quil(text: str, *, max_qubit: int = 1 << 20, max_qubits: int = 40) -> QuilProgram:
    """Parse and check a Quil program. `max_qubit`: the highest qubit index the target has;
    `max_qubits`: how many distinct qubits it may use."""
    return _Reader(text, max_qubit, max_qubits).read()


class MemoryNeeded(Exception):
    """An expression reads memory that was not given."""


def evaluate(expression: Any, memory: dict[str, list[float]], where: str, *, memory_needed: bool = False) -> float:
    """A gate parameter's real value; InvalidInputData when it is complex or names unknown memory
    (MemoryNeeded instead, with `memory_needed`, when it cannot be evaluated without memory)."""
    try:
        value = complex(expression.evaluate({}, memory))
    except Exception as exc:
        if memory_needed:
            raise MemoryNeeded from None
        raise invalid_input(f"{where}: cannot evaluate the parameter {expression_text(expression)!r} "
                            f"({str(exc).strip()[:200]})") from None
    if abs(value.imag) > 1e-9 * max(1.0, abs(value.real)) or not math.isfinite(value.real):
        raise invalid_input(f"{where}: the parameter {expression_text(expression)!r} is {value}, "
                            "not a finite real number")
    return value.real


def expression_text(expression: Any) -> str:
    try:
        return str(expression.to_quil())
    except Exception:
        return str(expression)[:200]


def definition_matrix(name: str, definition: GateDef, args: tuple[float, ...]) -> Matrix:
    size = 1 << definition.qubits
    if definition.kind == "permutation":
        matrix = np.zeros((size, size), dtype=np.complex128)
        for col, row in enumerate(definition.entries):
            matrix[int(row), col] = 1.0  # type: ignore[call-overload]
        return matrix
    variables = {p: complex(a) for p, a in zip(definition.params, args, strict=True)}
    matrix = np.empty((size, size), dtype=np.complex128)
    rows: list[Any] = list(definition.entries)
    for r, row in enumerate(rows):
        for c, entry in enumerate(list(row)):
            try:
                matrix[r, c] = complex(entry.evaluate(variables, {}))
            except Exception as exc:
                raise invalid_input(f"DEFGATE {name}: entry ({r}, {c}) cannot be evaluated "
                                    f"({str(exc).strip()[:200]})") from None
    if not np.allclose(matrix.conj().T @ matrix, np.eye(size), atol=1e-8):
        raise invalid_input(f"DEFGATE {name}{args if args else ''}: the matrix is not unitary")
    return matrix


def gate_matrix(gate_defs: dict[str, GateDef], gate: QuilGate, args: tuple[float, ...]) -> Matrix:
    """The gate's target matrix (Quil order: first target qubit most significant), DAGGER applied."""
    if gate.name in gate_defs:
        matrix = definition_matrix(gate.name, gate_defs[gate.name], args)
    else:
        matrix = STANDARD_GATES[gate.name][3](*args)
    return matrix.conj().T if gate.dagger else matrix
