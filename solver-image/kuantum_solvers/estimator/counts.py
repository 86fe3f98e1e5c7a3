"""Logical resource counts of a QIR program, exactly as the QDK's resource estimator counts a Q# program.

The rules are those of the estimator's `LogicalCounter` (microsoft/qdk,
source/resource_estimator/src/counts.rs), applied to the entry point's quantum instructions in order:
- `t`, `t__adj`: one T gate; `ccx`: one CCZ; `m`, `mz`, `mresetz`: one measurement;
- `rx`, `ry`, `rz` (and `rxx`, `ryy`, `rzz`, which the counter treats as CNOT·rz·CNOT): an angle within
  f64::EPSILON of a multiple k of π/4 is a Clifford (k even: free) or a T gate (k odd); any other angle is
  one rotation;
- `h`, `x`, `y`, `z`, `s`, `s__adj`, `sx`, `reset` are free; `cx`, `cy`, `cz`, `swap` cost nothing but
  align their qubits' layers;
- rotation depth: gates are scheduled in layers (a T or a rotation puts its qubit one layer further,
  a CCZ its three qubits one past the deepest of them, a two-qubit Clifford both to the deeper one);
  the depth is the number of layers holding at least one rotation;
- qubits: the module's `required_num_qubits` (what the program allocates), at least every qubit used;
  ccixCount is 0, as the counter reports it.
Programs must be straight-line (QIR base profile): measurement-dependent branches would need the
estimator's simulated measurement outcomes. Light: pyqir only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from kuantum_solvers.formats.circuits.qir_load import find_entry, load_module
from kuantum_solvers.formats.errors import invalid_input, invalid_params

F64_EPSILON = 2.220446049250313e-16
MAX_INSTRUCTIONS = 50_000_000
_PREFIX = "__quantum__qis__"
_FREE_1Q = {"h", "x", "y", "z", "s", "s__adj", "sx", "reset"}
_CLIFFORD_2Q = {"cx", "cnot", "cy", "cz", "swap"}
_ROTATIONS_1Q = {"rx", "ry", "rz"}
_ROTATIONS_2Q = {"rxx", "ryy", "rzz"}
_MEASURES = {"m", "mz", "mresetz"}
_IGNORED = {"__quantum__rt__initialize", "__quantum__qis__barrier__body", "__quantum__rt__read_result",
            "__quantum__qis__read_result__body", "__quantum__rt__tuple_record_output",
            "__quantum__rt__array_record_output", "__quantum__rt__result_record_output",
            "__quantum__rt__bool_record_output", "__quantum__rt__int_record_output",
            "__quantum__rt__double_record_output", "__quantum__rt__begin_parallel", "__quantum__rt__end_parallel"}


def _round_half_away(x: float) -> float:
    """Rust's f64::round (halves away from zero; Python's round() goes to even)."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


@dataclass
class Counter:
    """The estimator's LogicalCounter for a program whose qubits are all allocated at the start."""

    qubits: int
    max_layer: list[int] = field(default_factory=list)
    layers: list[list[int]] = field(default_factory=list)  # [t, r, ccz] per layer
    t_count: int = 0
    r_count: int = 0
    ccz_count: int = 0
    m_count: int = 0

    def __post_init__(self) -> None:
        self.max_layer = [0] * self.qubits

    def _level(self, q: int) -> int:
        while len(self.max_layer) <= q:  # as level_at: touching a qubit allocates it
            self.max_layer.append(0)
        return self.max_layer[q]

    def _put(self, level: int, kind: int) -> None:
        if level == len(self.layers):
            layer = [0, 0, 0]
            layer[kind] = 1
            self.layers.append(layer)
        else:
            self.layers[level][kind] += 1

    def t(self, q: int) -> None:
        self.t_count += 1
        level = self._level(q)
        self._put(level, 0)
        self.max_layer[q] += 1

    def rz(self, theta: float, q: int) -> None:
        multiple = _round_half_away(theta / (math.pi / 4.0))
        if abs(multiple * (math.pi / 4.0) - theta) <= F64_EPSILON:
            if int(multiple) % 8 % 2 == 1:
                self.t(q)
        else:
            self.r_count += 1
            level = self._level(q)
            self._put(level, 1)
            self.max_layer[q] += 1

    def ccz(self, q1: int, q2: int, q3: int) -> None:
        self.ccz_count += 1
        depth = max(self._level(q1), self._level(q2), self._level(q3))
        self._put(depth, 2)
        for q in (q1, q2, q3):
            self.max_layer[q] = depth + 1

    def clifford2(self, q1: int, q2: int) -> None:
        depth = max(self._level(q1), self._level(q2))
        self.max_layer[q1] = depth
        self.max_layer[q2] = depth

    def rzz(self, theta: float, q0: int, q1: int) -> None:
        self.clifford2(q1, q0)
        self.rz(theta, q0)
        self.clifford2(q1, q0)

    def counts(self) -> dict[str, int]:
        return {"numQubits": max(self.qubits, len(self.max_layer)), "tCount": self.t_count,
                "rotationCount": self.r_count, "rotationDepth": sum(1 for layer in self.layers if layer[1]),
                "cczCount": self.ccz_count, "ccixCount": 0, "measurementCount": self.m_count}


def _qubit(value: Any, where: str) -> int:
    import pyqir

    q = pyqir.ptr_id(value)
    if q is None:
        raise invalid_input(f"{where}: qubits must be static (inttoptr constants); dynamic allocation is not "
                            "supported")
    return int(q)


def _angle(value: Any, where: str) -> float:
    import pyqir

    if isinstance(value, pyqir.FloatConstant):
        return float(value.value)
    raise invalid_input(f"{where}: rotation angles must be constants (base profile QIR); got "
                        f"{str(value).strip()[:80]!r}")


def _required_qubits(function: Any) -> int:
    attr = function.attributes.func["required_num_qubits"]
    try:
        return int(attr.string_value) if attr is not None and attr.string_value else 0
    except ValueError:
        return 0


def logical_counts(data: bytes, entry_point: str | None = None) -> dict[str, int]:
    """numQubits, tCount, rotationCount, rotationDepth, cczCount, ccixCount, measurementCount."""
    module = load_module(data)
    function = find_entry(module, entry_point)
    blocks = {str(b.name): b for b in function.basic_blocks}
    if not blocks:
        raise invalid_input(f"entry point {function.name!r} has no body")
    counter = Counter(_required_qubits(function))
    block: Any = function.basic_blocks[0]
    seen: set[str] = set()
    steps = 0
    while block is not None:
        name = str(block.name)
        if name in seen:
            raise invalid_input(f"block {name!r} is reached twice: loops cannot be estimated from QIR")
        seen.add(name)
        following = None
        for k, inst in enumerate(block.instructions):
            steps += 1
            if steps > MAX_INSTRUCTIONS:
                raise invalid_input(f"the entry point has more than {MAX_INSTRUCTIONS:,} instructions")
            where = f"block {name!r}, instruction {k + 1}"
            op = inst.opcode.name if hasattr(inst.opcode, "name") else str(inst.opcode).split(".")[-1]
            if op == "CALL":
                _call(counter, inst, where)
            elif op == "BR":
                operands = list(inst.operands)
                if len(operands) != 1:
                    raise invalid_input(f"{where}: a conditional branch (measurement-dependent control flow) "
                                        "cannot be estimated from QIR; compile for the base profile")
                following = blocks.get(str(operands[0].name))
            elif op == "RET":
                following = None
            else:
                raise invalid_input(f"{where}: unsupported instruction {op.lower()!r}; the estimator takes "
                                    "base-profile QIR")
        block = following
    return counter.counts()


def _call(counter: Counter, inst: Any, where: str) -> None:
    import pyqir

    name = str(inst.callee.name)
    if name in _IGNORED:
        return
    args = list(inst.args)
    if not name.startswith(_PREFIX):
        raise invalid_input(f"{where}: unsupported function {name!r}")
    base = name[len(_PREFIX):]
    base = base[:-len("__body")] if base.endswith("__body") else base
    qubits = [_qubit(a, where) for a in args if isinstance(a.type, pyqir.PointerType)]
    if base in ("t", "t__adj"):
        counter.t(qubits[0])
    elif base in _FREE_1Q:
        counter._level(qubits[0])
    elif base in _CLIFFORD_2Q:
        counter.clifford2(qubits[0], qubits[1])
    elif base in _ROTATIONS_1Q:
        counter.rz(_angle(args[0], where), qubits[0])
    elif base in _ROTATIONS_2Q:
        counter.rzz(_angle(args[0], where), qubits[0], qubits[1])
    elif base == "ccx":
        counter.ccz(qubits[0], qubits[1], qubits[2])
    elif base in _MEASURES:
        counter._level(qubits[0])
        counter.m_count += 1
    else:
        raise invalid_input(f"{where}: unsupported QIR function {name!r} for resource estimation")


def entry_point_of(params: dict[str, Any]) -> str | None:
    if params.get("arguments"):
        raise invalid_params("inputParams.arguments must be empty: QIR entry points take no arguments")
    entry = params.get("entryPoint")
    return str(entry) if entry else None
