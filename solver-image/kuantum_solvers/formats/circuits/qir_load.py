"""QIR (`qir.v1`: LLVM bitcode, or LLVM IR text) → a small program of blocks the simulator runs.

pyqir (the QIR Alliance's LLVM bindings) parses the module; this module walks the entry point's
basic blocks once and keeps only what the simulator needs: gates by their OpenQASM 2 (qelib1)
name — the one gate vocabulary the simulator and the hardware translations share — measurements,
resets, output records and, for adaptive-profile programs, the classical instructions between
them (read_result, branches, phi, integer and float arithmetic). `prune_static` drops the gates that cannot
change a measured outcome, for the simulator and the hardware translations alike.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from kuantum_solvers.formats.circuits.model import MAX_QUBITS
from kuantum_solvers.formats.circuits.qelib1 import QELIB1
from kuantum_solvers.formats.errors import invalid_input

BITCODE_MAGIC = b"BC\xc0\xde"
MAX_INSTRUCTIONS = 2_000_000

# QIR quantum instruction set (`__quantum__qis__<name>__body` / `__adj`) → qelib1 gate name.
# Argument order matches qelib1: angles first, then controls, then targets.
QIS_GATES: dict[str, str] = {
    "h": "h", "x": "x", "y": "y", "z": "z", "s": "s", "s__adj": "sdg", "t": "t", "t__adj": "tdg",
    "sx": "sx", "rx": "rx", "ry": "ry", "rz": "rz",
    "cx": "cx", "cnot": "cx", "cy": "cy", "cz": "cz", "ccx": "ccx", "swap": "swap",
    "rxx": "rxx", "ryy": "ryy", "rzz": "rzz",
}
_IGNORED = {"__quantum__rt__initialize", "__quantum__qis__barrier__body"}
_RECORDS = {"__quantum__rt__tuple_record_output": "tuple", "__quantum__rt__array_record_output": "array",
            "__quantum__rt__result_record_output": "result", "__quantum__rt__bool_record_output": "bool",
            "__quantum__rt__int_record_output": "int", "__quantum__rt__double_record_output": "double"}
_READS = {"__quantum__rt__read_result", "__quantum__qis__read_result__body"}
_MEASURES = {"__quantum__qis__m__body": False, "__quantum__qis__mz__body": False,
             "__quantum__qis__mresetz__body": True}
# Classical instructions the adaptive profile allows, by pyqir opcode name.
ARITHMETIC = {"ADD", "SUB", "MUL", "SDIV", "UDIV", "SREM", "UREM", "AND", "OR", "XOR", "SHL", "LSHR", "ASHR",
              "FADD", "FSUB", "FMUL", "FDIV", "ZEXT", "SEXT", "TRUNC", "SI_TO_FP", "UI_TO_FP", "FP_TO_SI",
              "FP_TO_UI", "FNEG", "ICMP", "FCMP", "SELECT"}

# An unnamed block is known by the number LLVM prints for it (`2:`, `br label %2`; pyqir names it ""): the label
# at the head of its text, and the destinations in a branch's or a phi's text.
_BLOCK_LABEL = re.compile(r"\s*([-\w.$]+):")
_BRANCH_LABELS = re.compile(r"label %([-\w.$]+)")
_PHI_LABELS = re.compile(r"\[[^\]]*,\s*%([-\w.$]+)\s*\]")

# An operand: a constant (int/float/bool) or ("var", name) naming an earlier instruction's value.
Operand = Any


@dataclass
class GateOp:
    name: str  # qelib1 name
    args: tuple[Operand, ...]  # angles (constants, or variables in adaptive programs)
    qubits: tuple[int, ...]


@dataclass
class MeasureOp:
    qubit: int
    result: int
    reset: bool = False  # mresetz


@dataclass
class ResetOp:
    qubit: int


@dataclass
class ReadOp:
    dest: str
    result: int


@dataclass
class RecordOp:
    kind: str  # tuple | array | result | bool | int | double
    value: Operand  # element count, result id, or the recorded value
    label: str | None


@dataclass
class ValueOp:
    """A classical instruction: dest = op(operands); `predicate` for comparisons, `width` for casts."""

    dest: str
    op: str
    operands: tuple[Operand, ...]
    predicate: str | None = None
    width: int = 64
    source_width: int | None = None  # a zext's operand width: its bits are read unsigned, from that width


@dataclass
class Jump:
    target: str


@dataclass
class Branch:
    cond: Operand
    if_true: str
    if_false: str


@dataclass
class Ret:
    pass


@dataclass
class Block:
    name: str
    phis: list[tuple[str, dict[str, Operand]]] = field(default_factory=list)  # dest, {pred block: value}
    ops: list[Any] = field(default_factory=list)
    term: Jump | Branch | Ret = field(default_factory=Ret)


@dataclass
class QirProgram:
    entry: str
    profile: str  # "base_profile", "adaptive_profile", or "" when the module does not say
    qubits: int
    results: int
    blocks: dict[str, Block]
    first: str

    def linear_ops(self) -> list[Any] | None:
        """The ops in execution order when control flow is a straight chain (base profile); else None."""
        ops: list[Any] = []
        name: str | None = self.first
        seen: set[str] = set()
        while name is not None:
            if name in seen:
                return None
            seen.add(name)
            block = self.blocks[name]
            if block.phis or any(isinstance(op, ReadOp | ValueOp) for op in block.ops):
                return None
            ops.extend(block.ops)
            if isinstance(block.term, Branch):
                return None
            name = block.term.target if isinstance(block.term, Jump) else None
        return ops


def looks_like_qir(data: bytes) -> bool:
    """Bitcode magic, or LLVM IR text (a module starts with comments, types, globals or functions)."""
    if data.startswith(BITCODE_MAGIC):
        return True
    head = data.lstrip()[:4096]
    return head.startswith((b"; ModuleID", b"%", b"@", b"define ", b"declare ", b"source_filename", b"target ")) \
        and b"define " in data and not head.startswith(b"OPENQASM")


def load_module(data: bytes) -> Any:
    """Parse bitcode or LLVM IR text with pyqir; InvalidInputData naming the parser's complaint."""
    import pyqir

    context = pyqir.Context()
    try:
        if data.startswith(BITCODE_MAGIC):
            return pyqir.Module.from_bitcode(context, data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid_input("input is neither LLVM bitcode (no 'BC' magic) nor UTF-8 LLVM IR text") from None
        return pyqir.Module.from_ir(context, text, "program")
    except (ValueError, RuntimeError, OSError) as exc:
        kind = "bitcode" if data.startswith(BITCODE_MAGIC) else "LLVM IR text"
        raise invalid_input(f"invalid QIR {kind}: {str(exc).strip()[:500]}") from exc


def _signed(bits: int, width: int) -> Operand:
    """An integer constant's value: an i1 is a bool; wider ones are two's complement, read as signed (pyqir gives
    the bit pattern: `i64 -7` as 2**64 - 7), as the interpreter keeps every integer (circuits/qir.py)."""
    bits &= (1 << width) - 1
    if width == 1:
        return bool(bits)
    return bits - (1 << width) if bits >> (width - 1) else bits


def _profile_of(function: Any) -> str:
    """The entry point's `qir_profiles` attribute; "" when it has none (pyqir raises KeyError then)."""
    try:
        attr = function.attributes.func["qir_profiles"]
    except KeyError:
        return ""
    return str(attr.string_value) if attr is not None and attr.string_value else ""


def entry_points(module: Any) -> list[Any]:
    import pyqir

    return [f for f in module.functions if pyqir.is_entry_point(f)]


def find_entry(module: Any, name: str | None) -> Any:
    points = entry_points(module)
    if not points:
        raise invalid_input("the QIR module has no entry point (a function with the \"entry_point\" attribute)")
    if name is None or name == "":
        if len(points) > 1:
            raise invalid_input(f"the module has {len(points)} entry points "
                                f"({', '.join(f.name for f in points)}); choose one with inputParams.entryPoint")
        return points[0]
    for f in points:
        if f.name == name:
            return f
    raise invalid_input(f"entry point {name!r} not found; the module's entry points: "
                        f"{', '.join(f.name for f in points)}")


class _Walker:
    def __init__(self, function: Any) -> None:
        self.max_qubits = MAX_QUBITS
        self.function = function
        self.qubits = 0
        self.results = 0
        self.count = 0

    def key(self, value: Any) -> str:
        name = str(value.name)
        return name if name else str(value).strip()

    def operand(self, value: Any, where: str) -> Operand:
        import pyqir

        if isinstance(value, pyqir.IntConstant):
            return _signed(int(value.value), value.type.width)
        if isinstance(value, pyqir.FloatConstant):
            return float(value.value)
        if isinstance(value, pyqir.Instruction):
            return ("var", self.key(value))
        raise invalid_input(f"{where}: unsupported operand {str(value).strip()[:80]!r}")

    def qubit(self, value: Any, where: str) -> int:
        import pyqir

        q = pyqir.ptr_id(value)
        if q is None:
            raise invalid_input(f"{where}: qubits must be static (inttoptr constants); dynamic qubit "
                                "allocation is not supported")
        if q >= self.max_qubits:
            raise invalid_input(f"{where}: qubit {q} is beyond the simulator's {self.max_qubits} qubits")
        self.qubits = max(self.qubits, q + 1)
        return int(q)

    def result(self, value: Any, where: str) -> int:
        import pyqir

        r = pyqir.ptr_id(value)
        if r is None:
            raise invalid_input(f"{where}: results must be static (inttoptr constants); dynamic result "
                                "allocation is not supported")
        if r >= 1 << 20:
            raise invalid_input(f"{where}: result id {r} is too large")
        self.results = max(self.results, r + 1)
        return int(r)

    def call(self, inst: Any, where: str) -> Any:
        import pyqir

        name = str(inst.callee.name)
        args = list(inst.args)
        if name in _IGNORED:
            return None
        if name.startswith("__quantum__qis__") and (name.endswith("__body") or name.endswith("__adj")):
            base = name[len("__quantum__qis__"):]
            base = base[:-len("__body")] if base.endswith("__body") else base
            if base in QIS_GATES:
                angles = tuple(self.operand(a, where) for a in args if not isinstance(a.type, pyqir.PointerType))
                qubits = tuple(self.qubit(a, where) for a in args if isinstance(a.type, pyqir.PointerType))
                if len(set(qubits)) != len(qubits):
                    raise invalid_input(f"{where}: gate {base!r} uses a qubit twice")
                return GateOp(QIS_GATES[base], angles, qubits)
        if name in _MEASURES:
            if len(args) != 2:
                raise invalid_input(f"{where}: {name} takes a qubit and a result")
            return MeasureOp(self.qubit(args[0], where), self.result(args[1], where), _MEASURES[name])
        if name == "__quantum__qis__reset__body":
            return ResetOp(self.qubit(args[0], where))
        if name in _READS:
            return ReadOp(self.key(inst), self.result(args[0], where))
        if name in _RECORDS:
            kind = _RECORDS[name]
            label = None
            if len(args) > 1:
                raw = pyqir.extract_byte_string(args[1])
                label = raw.rstrip(b"\0").decode("utf-8", "replace") if raw else None
            if kind == "result":
                return RecordOp(kind, self.result(args[0], where), label)
            value = self.operand(args[0], where)
            if kind in ("tuple", "array") and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise invalid_input(f"{where}: {name} needs a constant element count")
            return RecordOp(kind, value, label)
        known = ", ".join(sorted(QIS_GATES))
        raise invalid_input(f"{where}: unsupported QIR function {name!r} (gates supported: {known}; "
                            "also m, mz, mresetz, reset, read_result and the *_record_output functions)")

    def instruction(self, inst: Any, block: Block, where: str) -> None:
        import pyqir

        self.count += 1
        if self.count > MAX_INSTRUCTIONS:
            raise invalid_input(f"the entry point has more than {MAX_INSTRUCTIONS:,} instructions")
        op = inst.opcode.name if hasattr(inst.opcode, "name") else str(inst.opcode).split(".")[-1]
        if op == "CALL":
            result = self.call(inst, where)
            if result is not None:
                block.ops.append(result)
        elif op == "PHI":
            names = [str(b.name) for _, b in inst.incoming]
            if not all(names):  # printed only when a block is unnamed: the text costs more than the names
                names = [name or printed for name, printed in zip(names, _PHI_LABELS.findall(str(inst)), strict=True)]
            incoming = {name: self.operand(v, where) for name, (v, _) in zip(names, inst.incoming, strict=True)}
            block.phis.append((self.key(inst), incoming))
        elif op == "BR":
            ops = list(inst.operands)
            # Operand order: condition, false destination, true destination; the text names the true one first.
            names = [str(o.name) for o in reversed(ops[1:] if len(ops) > 1 else ops)]
            if not all(names):  # printed only when a block is unnamed: the text costs more than the names
                names = [name or printed for name, printed in zip(names, _BRANCH_LABELS.findall(str(inst)),
                                                                  strict=True)]
            block.term = Jump(names[0]) if len(ops) == 1 else Branch(self.operand(ops[0], where), *names)
        elif op == "RET":
            block.term = Ret()
        elif op in ARITHMETIC:
            predicate = None
            if isinstance(inst, pyqir.ICmp | pyqir.FCmp):
                predicate = str(inst.predicate).split(".")[-1]
            width = getattr(inst.type, "width", 64) if isinstance(inst.type, pyqir.IntType) else 64
            source = inst.operands[0].type if op == "ZEXT" else None
            source_width = int(source.width) if isinstance(source, pyqir.IntType) else None
            block.ops.append(ValueOp(self.key(inst), op, tuple(self.operand(o, where) for o in inst.operands),
                                     predicate, int(width), source_width))
        else:
            raise invalid_input(f"{where}: unsupported instruction {op.lower()!r} "
                                f"({str(inst).strip()[:100]!r}); QIR base and adaptive profiles only")

    def walk(self) -> dict[str, Block]:
        blocks: dict[str, Block] = {}
        for b in self.function.basic_blocks:
            name = block_name(b)
            block = Block(name)
            for k, inst in enumerate(b.instructions):
                self.instruction(inst, block, f"block {name!r}, instruction {k + 1}")
            blocks[name] = block
        return blocks


def block_name(block: Any) -> str:
    """A block's name, or for an unnamed one the number LLVM gives it (an unnamed entry block is 0: entry points
    take no parameters)."""
    name = str(block.name)
    if name:
        return name
    label = _BLOCK_LABEL.match(str(block).lstrip("\n").split("\n", 1)[0])
    return label[1] if label else "0"


def load_program(data: bytes, entry_point: str | None = None, capability: str | None = None) -> QirProgram:
    """Parse and check a QIR program. `capability` (Azure's targetCapability / target_profile: base,
    adaptive...) is what the submitter asked for: a base request refuses adaptive features."""
    module = load_module(data)
    function = find_entry(module, entry_point)
    if not function.basic_blocks:
        raise invalid_input(f"entry point {function.name!r} has no body")
    if list(function.params):
        raise invalid_input(f"entry point {function.name!r} takes parameters; QIR entry points take none "
                            "(inputParams.arguments must be compiled into the program)")
    walker = _Walker(function)
    blocks = walker.walk()
    first = block_name(function.basic_blocks[0])
    profile = _profile_of(function)
    program = QirProgram(str(function.name), profile, walker.qubits, walker.results, blocks, first)
    for block in blocks.values():
        for target in _successors(block.term):
            if target not in blocks:
                raise invalid_input(f"block {block.name!r} branches to unknown block {target!r}")
    _check_profile(program, capability)
    return program


def _successors(term: Jump | Branch | Ret) -> list[str]:
    if isinstance(term, Jump):
        return [term.target]
    if isinstance(term, Branch):
        return [term.if_true, term.if_false]
    return []


def is_base_request(capability: str | None) -> bool:
    text = (capability or "").replace("_", "").replace("-", "").lower()
    return text in ("base", "baseprofile", "basicexecution", "qirbase")


def _check_profile(program: QirProgram, capability: str | None) -> None:
    """A base-profile program (or job) may not branch on measurements, read results or compute."""
    base = is_base_request(capability) or program.profile == "base_profile"
    if not base:
        return
    why = program_features(program)
    if why:
        who = "the job asks for the base profile" if is_base_request(capability) else \
            "the module declares qir_profiles=base_profile"
        raise invalid_input(f"{why}, which the QIR base profile does not allow ({who}); compile for the "
                            "adaptive profile")


def program_features(program: QirProgram) -> str | None:
    """What the program uses beyond the base profile, in words; None when it is base-profile."""
    if program.linear_ops() is not None:
        return None
    for block in program.blocks.values():
        for op in block.ops:
            if isinstance(op, ReadOp):
                return f"block {block.name!r} reads a measurement result (classical feedback)"
            if isinstance(op, ValueOp):
                return f"block {block.name!r} computes with classical values ({op.op.lower()})"
        if block.phis:
            return f"block {block.name!r} has phi nodes"
        if isinstance(block.term, Branch):
            return f"block {block.name!r} branches conditionally"
    return "control flow loops back"


def finite_angle(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid_input(f"{where}: gate angle {value!r} is not a finite number")
    return float(value)


def prune_static(ops: list[Any]) -> list[Any]:
    """Drop gates that cannot change any measured outcome, then number the remaining qubits 0..k-1.

    Walking backwards, a qubit is live when it is measured later or a later kept gate uses it. A gate
    whose targets are all dead, and whose controls no later kept gate uses (they are only measured
    in Z, which commutes with the control), changes no outcome's probability. The QDK's base profile
    makes such gates itself: it copies each measured qubit onto a fresh one with CNOT instead of
    resetting it, doubling the qubit count of a Q# program for nothing a simulator needs."""
    live: set[int] = set()
    gated: set[int] = set()  # qubits a later kept gate acts on
    kept: list[Any] = []
    for op in reversed(ops):
        if isinstance(op, GateOp):
            n_controls = QELIB1[op.name][1]
            controls, targets = op.qubits[:n_controls], op.qubits[n_controls:]
            if not live.intersection(targets) and not gated.intersection(controls):
                continue
            live.update(op.qubits)
            gated.update(op.qubits)
        elif isinstance(op, MeasureOp):
            live.add(op.qubit)
        kept.append(op)
    kept.reverse()
    used = sorted({q for op in kept if isinstance(op, GateOp) for q in op.qubits}
                  | {op.qubit for op in kept if isinstance(op, MeasureOp)})
    index = {q: i for i, q in enumerate(used)}
    out: list[Any] = []
    for op in kept:
        if isinstance(op, GateOp):
            out.append(GateOp(op.name, op.args, tuple(index[q] for q in op.qubits)))
        elif isinstance(op, MeasureOp):
            out.append(MeasureOp(index[op.qubit], op.result, op.reset))
        elif isinstance(op, ResetOp):
            if op.qubit in index:  # a reset of a qubit nothing else uses is dropped with it
                out.append(ResetOp(index[op.qubit]))
        else:
            out.append(op)
    return out
