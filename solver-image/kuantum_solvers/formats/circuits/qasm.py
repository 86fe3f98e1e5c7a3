"""OpenQASM 2.0 programs (`honeywell.openqasm.v1` / `quantinuum.openqasm.v1`) → Program.

Parsing is done by the `openqasm3` package (its grammar accepts OpenQASM 2.0 programs); this
module only interprets the syntax tree: registers, qelib1 gates, user gate definitions,
measure, reset, barrier and `if (creg == n)`. The simulator runs the Program (circuits/qasm.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kuantum_solvers.formats.circuits.model import MAX_QUBITS, Gate
from kuantum_solvers.formats.circuits.qelib1 import QELIB1
from kuantum_solvers.formats.errors import invalid_input
from kuantum_solvers.formats.numbers import finite_float, show

_INCLUDES = {"qelib1.inc", "stdgates.inc"}
MAX_OPERATIONS = 2_000_000
_FUNCS: dict[str, Callable[[float], float]] = {
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "exp": math.exp, "ln": math.log, "sqrt": math.sqrt,
    "asin": math.asin, "acos": math.acos, "atan": math.atan, "arcsin": math.asin, "arccos": math.acos,
    "arctan": math.atan,
}
_CONSTS = {"pi": math.pi, "π": math.pi, "tau": math.tau, "τ": math.tau, "euler": math.e, "ℇ": math.e}


@dataclass
class Measure:
    qubit: int
    clbit: int


@dataclass
class Reset:
    qubit: int


@dataclass
class IfEq:
    """QASM2 `if (creg == value) op;`"""

    creg: str
    value: int
    body: list[Any]


@dataclass
class GateDef:
    params: list[str]
    qubits: list[str]
    body: list[Any]


@dataclass
class Program:
    qubits: int = 0
    clbits: int = 0
    qregs: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (offset, size)
    cregs: dict[str, tuple[int, int]] = field(default_factory=dict)
    ops: list[Any] = field(default_factory=list)  # Gate | Measure | Reset | IfEq


class Builder:
    """The syntax tree → a Program (the operator's translations subclass it to see where each gate comes from)."""

    def __init__(self) -> None:
        self.prog = Program()
        self.defs: dict[str, GateDef] = {}
        self.emitted = 0  # operations after expanding gate definitions and register broadcasts
        self.costs: dict[str, int] = {}  # operations one call of a defined gate expands to

    def emit(self, out: list[Any], op: Any, node: Any) -> None:
        """Gate definitions calling each other twice per level expand exponentially: bound the total."""
        self.emitted += 1
        if self.emitted > MAX_OPERATIONS:
            raise invalid_input(f"line {line_of(node)}: the program expands to more than {MAX_OPERATIONS:,} "
                                "operations (gate definitions nest or repeat too much)")
        out.append(op)

    # --- expressions -------------------------------------------------------------------------
    def expr(self, node: Any, env: dict[str, float]) -> float:
        """A finite value: `1e400`, `exp(1000)` or `2**10000` are errors here, not NaN gates later."""
        value = finite_float(self._expr(node, env))
        if value is None:
            raise invalid_input(f"line {line_of(node)}: expression is not a finite number")
        return value

    def _expr(self, node: Any, env: dict[str, float]) -> float:
        from openqasm3 import ast

        if isinstance(node, ast.IntegerLiteral | ast.FloatLiteral):
            value = finite_float(node.value)
            return math.inf if value is None else value  # reported by expr()
        if isinstance(node, ast.Identifier):
            if node.name in env:
                return env[node.name]
            if node.name in _CONSTS:
                return _CONSTS[node.name]
            raise invalid_input(f"line {line_of(node)}: unknown identifier {node.name!r} in expression")
        if isinstance(node, ast.UnaryExpression):
            value = self.expr(node.expression, env)
            if node.op.name == "-":
                return -value
            raise invalid_input(f"line {line_of(node)}: unsupported operator {node.op.name!r}")
        if isinstance(node, ast.BinaryExpression):
            a, b = self.expr(node.lhs, env), self.expr(node.rhs, env)
            op = node.op.name
            try:
                if op == "+":
                    return a + b
                if op == "-":
                    return a - b
                if op == "*":
                    return a * b
                if op == "/":
                    return a / b
                if op in ("^", "**"):  # QASM2 '^' is exponentiation
                    result = a**b
                    if isinstance(result, complex):  # (-8) ** 0.5
                        raise invalid_input(f"line {line_of(node)}: {a!r} ** {b!r} is not a real number")
                    return float(result)
            except (ZeroDivisionError, OverflowError) as exc:
                raise invalid_input(f"line {line_of(node)}: {exc}") from exc
            raise invalid_input(f"line {line_of(node)}: unsupported operator {op!r} in expression")
        if isinstance(node, ast.FunctionCall) and node.name.name in _FUNCS:
            if len(node.arguments) != 1:
                raise invalid_input(f"line {line_of(node)}: {node.name.name}() takes one argument")
            try:
                return _FUNCS[node.name.name](self.expr(node.arguments[0], env))
            except (ValueError, OverflowError) as exc:
                raise invalid_input(f"line {line_of(node)}: {node.name.name}(): {exc}") from exc
        raise invalid_input(f"line {line_of(node)}: unsupported expression {type(node).__name__}")

    def integer(self, node: Any, what: str) -> int:
        value = self.expr(node, {})
        if not value.is_integer():
            raise invalid_input(f"line {line_of(node)}: {what} must be an integer, got {value!r}")
        return int(value)

    # --- declarations ---------------------------------------------------------------------------
    def declare(self, node: Any, quantum: bool) -> None:
        from openqasm3 import ast

        ident = node.qubit if quantum else node.identifier
        size_node = node.size if quantum else getattr(node.type, "size", None)
        size = 1 if size_node is None else self.integer(size_node, "register size")
        if quantum is False and not isinstance(node.type, ast.BitType):
            raise invalid_input(f"line {line_of(node)}: only bit registers (creg) are supported")
        if size < 1:
            raise invalid_input(f"line {line_of(node)}: register {ident.name!r} must have size >= 1")
        regs = self.prog.qregs if quantum else self.prog.cregs
        if ident.name in self.prog.qregs or ident.name in self.prog.cregs:
            raise invalid_input(f"line {line_of(node)}: register {ident.name!r} declared twice")
        if quantum:
            regs[ident.name] = (self.prog.qubits, size)
            self.prog.qubits += size
            if self.prog.qubits > MAX_QUBITS:
                raise invalid_input(f"program declares {self.prog.qubits} qubits; at most {MAX_QUBITS} supported")
        else:
            regs[ident.name] = (self.prog.clbits, size)
            self.prog.clbits += size

    def operand(self, node: Any, regs: dict[str, tuple[int, int]], kind: str) -> list[int]:
        """Absolute bit indices of `q` (whole register) or `q[i]`."""
        from openqasm3 import ast

        if isinstance(node, ast.Identifier):
            name, index = node.name, None
        elif isinstance(node, ast.IndexedIdentifier):
            name = node.name.name
            indices: Any = node.indices
            # q[0] only: not q[0][1], q[0, 1], q[0:1] (a range) or q[{0, 1}] (a set, not a list of indices)
            if len(indices) != 1 or not isinstance(indices[0], list) or len(indices[0]) != 1:
                raise invalid_input(f"line {line_of(node)}: only single indices like {name}[0] are supported")
            index = self.integer(indices[0][0], "index")
        else:
            raise invalid_input(f"line {line_of(node)}: unsupported {kind} operand")
        if name not in regs:
            raise invalid_input(f"line {line_of(node)}: unknown {kind} register {name!r}")
        offset, size = regs[name]
        if index is None:
            return list(range(offset, offset + size))
        if not 0 <= index < size:
            raise invalid_input(f"line {line_of(node)}: index {show(index)} out of range for {name}[{size}]")
        return [offset + index]

    # --- statements ----------------------------------------------------------------------------
    def statement(self, node: Any, out: list[Any]) -> None:
        from openqasm3 import ast

        if isinstance(node, ast.Include):
            if node.filename not in _INCLUDES:
                raise invalid_input(f"line {line_of(node)}: cannot include {node.filename!r} (only qelib1.inc)")
        elif isinstance(node, ast.QubitDeclaration):
            self.declare(node, quantum=True)
        elif isinstance(node, ast.ClassicalDeclaration):
            self.declare(node, quantum=False)
        elif isinstance(node, ast.QuantumGateDefinition):
            self.defs[node.name.name] = GateDef([a.name for a in node.arguments], [q.name for q in node.qubits],
                                                node.body)
            # Known before expanding anything, so `g{i} = g{i-1}; g{i-1}` x 40 fails at once, not after minutes.
            self.costs[node.name.name] = sum(self.costs.get(stmt.name.name, 1) for stmt in node.body
                                             if isinstance(stmt, ast.QuantumGate))
        elif isinstance(node, ast.QuantumGate):
            args = [self.expr(a, {}) for a in node.arguments]
            if node.modifiers:
                raise invalid_input(f"line {line_of(node)}: gate modifiers are not OpenQASM 2.0")
            operands = [self.operand(q, self.prog.qregs, "qubit") for q in node.qubits]
            for qubits in _broadcast(operands, node):
                self.apply(node.name.name, args, qubits, out, node, depth=0)
        elif isinstance(node, ast.QuantumMeasurementStatement):
            if node.target is None:
                raise invalid_input(f"line {line_of(node)}: measure needs a target: measure q -> c")
            qs = self.operand(node.measure.qubit, self.prog.qregs, "qubit")
            cs = self.operand(node.target, self.prog.cregs, "classical")
            if len(qs) != len(cs):
                raise invalid_input(f"line {line_of(node)}: measure of {len(qs)} qubits into {len(cs)} bits")
            for q, c in zip(qs, cs, strict=True):
                self.emit(out, Measure(q, c), node)
        elif isinstance(node, ast.QuantumReset):
            for q in self.operand(node.qubits, self.prog.qregs, "qubit"):
                self.emit(out, Reset(q), node)
        elif isinstance(node, ast.QuantumBarrier):
            pass
        elif isinstance(node, ast.BranchingStatement):
            self.emit(out, self.branch(node), node)
        else:
            raise invalid_input(f"line {line_of(node)}: unsupported statement {type(node).__name__}")

    def branch(self, node: Any) -> IfEq:
        from openqasm3 import ast

        cond = node.condition
        if (not isinstance(cond, ast.BinaryExpression) or cond.op.name != "=="
                or not isinstance(cond.lhs, ast.Identifier) or cond.lhs.name not in self.prog.cregs):
            raise invalid_input(f"line {line_of(node)}: only 'if (creg == integer)' conditions are supported")
        if node.else_block:
            raise invalid_input(f"line {line_of(node)}: 'else' is not OpenQASM 2.0")
        body: list[Any] = []
        for stmt in node.if_block:
            self.statement(stmt, body)
        return IfEq(cond.lhs.name, self.integer(cond.rhs, "condition value"), body)

    def apply(self, name: str, args: list[float], qubits: list[int], out: list[Any], node: Any, depth: int) -> None:
        if depth > 64:
            raise invalid_input(f"line {line_of(node)}: gate definitions nest too deeply (recursive gate {name!r}?)")
        if len(set(qubits)) != len(qubits):
            raise invalid_input(f"line {line_of(node)}: gate {name!r} uses a qubit twice")
        if name in self.defs:
            if self.emitted + self.costs.get(name, 0) > MAX_OPERATIONS:
                raise invalid_input(f"line {line_of(node)}: gate {name!r} expands to {self.costs[name]:,} operations; "
                                    f"a program may have at most {MAX_OPERATIONS:,}")
            d = self.defs[name]
            _arity(name, args, qubits, len(d.params), len(d.qubits), node)
            env = dict(zip(d.params, args, strict=True))
            qmap = dict(zip(d.qubits, qubits, strict=True))
            for stmt in d.body:
                self.apply_in_def(stmt, env, qmap, out, depth + 1)
            return
        if name not in QELIB1:
            raise invalid_input(f"line {line_of(node)}: unknown gate {name!r}")
        n_params, n_controls, n_targets, build = QELIB1[name]
        _arity(name, args, qubits, n_params, n_controls + n_targets, node)
        self.emit(out, Gate(tuple(qubits[n_controls:]), build(*args), tuple(qubits[:n_controls])), node)

    def apply_in_def(self, stmt: Any, env: dict[str, float], qmap: dict[str, int], out: list[Any],
                     depth: int) -> None:
        from openqasm3 import ast

        if isinstance(stmt, ast.QuantumBarrier):
            return
        if not isinstance(stmt, ast.QuantumGate):
            raise invalid_input(f"line {line_of(stmt)}: only gates are allowed inside gate definitions")
        args = [self.expr(a, env) for a in stmt.arguments]
        qubits = []
        for q in stmt.qubits:
            if not isinstance(q, ast.Identifier) or q.name not in qmap:
                raise invalid_input(f"line {line_of(stmt)}: unknown qubit argument in gate body")
            qubits.append(qmap[q.name])
        self.apply(stmt.name.name, args, qubits, out, stmt, depth)


def line_of(node: Any) -> str:
    """The source line of a syntax-tree node, for messages."""
    span = getattr(node, "span", None)
    return str(span.start_line) if span is not None else "?"


def _arity(name: str, args: list[float], qubits: list[int], n_params: int, n_qubits: int, node: Any) -> None:
    if len(args) != n_params:
        raise invalid_input(f"line {line_of(node)}: gate {name!r} takes {n_params} parameters, got {len(args)}")
    if len(qubits) != n_qubits:
        raise invalid_input(f"line {line_of(node)}: gate {name!r} acts on {n_qubits} qubits, got {len(qubits)}")


def _broadcast(operands: list[list[int]], node: Any) -> list[list[int]]:
    """QASM2: whole-register operands apply the gate element-wise (registers of equal size)."""
    sizes = {len(o) for o in operands if len(o) > 1}
    if len(sizes) > 1:
        raise invalid_input(f"line {line_of(node)}: register operands have different sizes {sorted(sizes)}")
    count = sizes.pop() if sizes else 1
    return [[o[i] if len(o) > 1 else o[0] for o in operands] for i in range(count)]


def parse_program(text: str) -> Program:
    from kuantum_solvers.formats.circuits.qasm_syntax import parse_tree

    tree = parse_tree(text)
    if tree.version is None or not str(tree.version).startswith("2"):
        raise invalid_input(f"expected an 'OPENQASM 2.0;' program, got version {tree.version!r}")
    builder = Builder()
    for stmt in tree.statements:
        builder.statement(stmt, builder.prog.ops)
    if builder.prog.qubits == 0:
        raise invalid_input("program declares no qubits (qreg)")
    return builder.prog

