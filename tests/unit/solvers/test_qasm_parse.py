"""The OpenQASM 2.0 reader on its own: the Program each construct becomes (registers, gates, broadcasts, user gate
definitions, measure, reset, if) and the specific error, with its line, that each unsupported or malformed one
gets. test_circuits.py runs programs against qiskit-aer; test_qasm_errors.py covers syntax errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from kuantum_solvers.formats.circuits import gates as g
from kuantum_solvers.formats.circuits import qasm
from kuantum_solvers.formats.circuits.model import MAX_QUBITS, Gate
from kuantum_solvers.formats.circuits.qasm import IfEq, Measure, Program, Reset, parse_program
from kuantum_solvers.formats.errors import INVALID_INPUT_DATA, SolverError

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
REGS = HEADER + "qreg q[2];\nqreg r[3];\ncreg c[2];\n"  # statements from line 6


def parse(body: str, head: str = REGS) -> Program:
    return parse_program(head + body)


def refused(body: str, head: str = REGS) -> str:
    with pytest.raises(SolverError) as info:
        parse_program(head + body)
    assert info.value.code == INVALID_INPUT_DATA
    return info.value.message


def gate(op: Any, targets: tuple[int, ...], matrix: Any, controls: tuple[int, ...] = ()) -> None:
    assert isinstance(op, Gate)
    assert (op.targets, op.controls) == (targets, controls)
    np.testing.assert_allclose(op.matrix, matrix, atol=1e-12)


def angle(expression: str) -> float:
    """The angle of `rz(expression)`, read back from its matrix (rz(t) = diag(e^-it/2, e^it/2))."""
    (op,) = parse(f"rz({expression}) q[0];\n").ops
    return float(np.angle(op.matrix[1, 1] / op.matrix[0, 0]))


def test_registers_are_laid_out_in_declaration_order() -> None:
    prog = parse("")
    assert (prog.qubits, prog.clbits) == (5, 2)
    assert prog.qregs == {"q": (0, 2), "r": (2, 3)} and prog.cregs == {"c": (0, 2)}
    assert parse("", HEADER + "creg a[1];\ncreg b[3];\nqreg q[1];\n").cregs == {"a": (0, 1), "b": (1, 3)}
    assert parse("", HEADER + "qreg q;\ncreg c;\n").qregs == {"q": (0, 1)}  # no size: one bit


def test_gates_address_absolute_qubits_controls_first() -> None:
    h, cx, ccx = parse("h q[1];\ncx q[0], r[2];\nccx r[0], r[1], q[1];\n").ops
    gate(h, (1,), g.H)
    gate(cx, (4,), g.X, (0,))
    gate(ccx, (1,), g.X, (2, 3))


def test_a_whole_register_broadcasts_and_a_single_qubit_is_repeated() -> None:
    ops = parse("h q;\ncx q, r[1];\n").ops
    assert [(op.targets, op.controls) for op in ops] == [((0,), ()), ((1,), ()), ((3,), (0,)), ((3,), (1,))]


def test_measure_reset_and_barrier() -> None:
    ops = parse("measure q -> c;\nmeasure r[2] -> c[0];\nreset r;\nbarrier q, r;\n").ops
    assert ops == [Measure(0, 0), Measure(1, 1), Measure(4, 0), Reset(2), Reset(3), Reset(4)]


def test_if_keeps_its_register_value_and_body() -> None:
    (op,) = parse("if (c == 2) x q[1];\n").ops
    assert isinstance(op, IfEq) and (op.creg, op.value) == ("c", 2)
    (body,) = op.body
    gate(body, (1,), g.X)


def test_user_gates_expand_with_their_parameters_and_qubits() -> None:
    ops = parse("gate g(a, b) x, y { rz(a/2) x; barrier x, y; cx x, y; ry(b) y; }\ng(pi, 0.5) r[2], q[0];\n").ops
    assert len(ops) == 3
    gate(ops[0], (4,), g.rz(math.pi / 2))
    gate(ops[1], (0,), g.X, (4,))
    gate(ops[2], (0,), g.ry(0.5))
    nested = parse("gate inner(t) a { rx(t) a; }\ngate outer(t) a, b { inner(t*2) b; inner(t) a; }\n"
                   "outer(0.25) q[0], q[1];\n").ops
    gate(nested[0], (1,), g.rx(0.5))
    gate(nested[1], (0,), g.rx(0.25))


@pytest.mark.parametrize(("expression", "value"), [
    ("pi/4", math.pi / 4), ("-pi/4", -math.pi / 4), ("0.5 + 0.25", 0.75), ("1 - 0.25", 0.75), ("0.5 * 1.5", 0.75),
    ("3/4", 0.75), ("2^-1", 0.5), ("2**-2", 0.25), ("sin(pi/6)", 0.5), ("cos(0) - 0.5", 0.5), ("tan(0)", 0.0),
    ("exp(0) / 2", 0.5), ("ln(1) + 0.5", 0.5), ("sqrt(0.25)", 0.5), ("asin(0.5)", math.asin(0.5)),
    ("acos(0.5)", math.acos(0.5)), ("atan(0.5)", math.atan(0.5)), ("arcsin(0.5)", math.asin(0.5)),
    ("arccos(0.5)", math.acos(0.5)), ("arctan(0.5)", math.atan(0.5)), ("tau/8", math.tau / 8),
    ("euler - 2", math.e - 2), ("π/4", math.pi / 4), ("τ/8", math.tau / 8), ("ℇ - 2", math.e - 2), ("1", 1.0),
])
def test_expressions(expression: str, value: float) -> None:
    assert angle(expression) == pytest.approx(value)


@pytest.mark.parametrize(("body", "message"), [
    ("rz(1/0) q[0];\n", "line 6: float division by zero"),
    ("rz((-8)^0.5) q[0];\n", "line 6: -8.0 ** 0.5 is not a real number"),
    ("rz(10.0^400) q[0];\n", "line 6: (34, 'Numerical result out of range')"),
    ("rz(sqrt(-1)) q[0];\n", "line 6: sqrt(): math domain error"),
    ("rz(exp(1000)) q[0];\n", "line 6: exp(): math range error"),
    ("rz(1e400) q[0];\n", "line 6: expression is not a finite number"),
    ("rz(sin(1, 2)) q[0];\n", "line 6: sin() takes one argument"),
    ("rz(foo) q[0];\n", "line 6: unknown identifier 'foo' in expression"),
    ("rz(~1) q[0];\n", "line 6: unsupported operator '~'"),
    ("rz(1 % 2) q[0];\n", "line 6: unsupported operator '%' in expression"),
    ("rz(f(1)) q[0];\n", "line 6: unsupported expression FunctionCall"),
    ("\nrz(true) q[0];\n", "line 7: unsupported expression BooleanLiteral"),
])
def test_bad_expressions_name_their_line(body: str, message: str) -> None:
    assert refused(body) == message


@pytest.mark.parametrize(("body", "message"), [
    ("qreg s[2.5];\n", "line 6: register size must be an integer, got 2.5"),
    ("qreg s[2-2];\n", "line 6: register 's' must have size >= 1"),  # a literal 0 is the parser's to refuse
    ("creg s[1-2];\n", "line 6: register 's' must have size >= 1"),
    ("creg q[1];\n", "line 6: register 'q' declared twice"),
    ("qreg c[1];\n", "line 6: register 'c' declared twice"),
    ("int[8] i;\n", "line 6: only bit registers (creg) are supported"),
    (f"qreg s[{MAX_QUBITS - 4}];\n", f"program declares {MAX_QUBITS + 1} qubits; at most {MAX_QUBITS} supported"),
    ('include "other.inc";\n', "line 6: cannot include 'other.inc' (only qelib1.inc)"),
    ("h q[0:1];\n", "line 6: unsupported expression RangeDefinition"),
    ("h q[0][1];\n", "line 6: only single indices like q[0] are supported"),
    ("h q[{0, 1}];\n", "line 6: only single indices like q[0] are supported"),
    ("h q[0, 1];\n", "line 6: only single indices like q[0] are supported"),
    ("h s[0];\n", "line 6: unknown qubit register 's'"),
    ("h c[0];\n", "line 6: unknown qubit register 'c'"),
    ("h q[2];\n", "line 6: index 2 out of range for q[2]"),
    ("h q[-1];\n", "line 6: index -1 out of range for q[2]"),
    ("h q[0.5];\n", "line 6: index must be an integer, got 0.5"),
    ("measure q[0] -> q[1];\n", "line 6: unknown classical register 'q'"),
    ("measure q[0];\n", "line 6: measure needs a target: measure q -> c"),
    ("measure r -> c;\n", "line 6: measure of 3 qubits into 2 bits"),
    ("ctrl @ x q[0], q[1];\n", "line 6: gate modifiers are not OpenQASM 2.0"),
    ("cx q, r;\n", "line 6: register operands have different sizes [2, 3]"),
    ("cx q[0], q[0];\n", "line 6: gate 'cx' uses a qubit twice"),
    ("foo q[0];\n", "line 6: unknown gate 'foo'"),
    ("rz q[0];\n", "line 6: gate 'rz' takes 1 parameters, got 0"),
    ("h(0.1) q[0];\n", "line 6: gate 'h' takes 0 parameters, got 1"),
    ("cx q[0];\n", "line 6: gate 'cx' acts on 2 qubits, got 1"),
    ("gate g(a) x { rz(a) x; }\ng q[0];\n", "line 7: gate 'g' takes 1 parameters, got 0"),
    ("gate g x, y { cx x, y; }\ng q[0];\n", "line 7: gate 'g' acts on 2 qubits, got 1"),
    ("gate g x { x y; }\ng q[0];\n", "line 6: unknown qubit argument in gate body"),
    ("gate g x { x x[0]; }\ng q[0];\n", "line 6: unknown qubit argument in gate body"),
    ("gate g x { gphase(pi); }\ng q[0];\n", "line 6: only gates are allowed inside gate definitions"),
    ("gate g x { g x; }\ng q[0];\n", "line 6: gate definitions nest too deeply (recursive gate 'g'?)"),
    ("if (c > 1) x q[0];\n", "line 6: only 'if (creg == integer)' conditions are supported"),
    ("if (c != 1) x q[0];\n", "line 6: only 'if (creg == integer)' conditions are supported"),
    ("if (c < 1) x q[0];\n", "line 6: only 'if (creg == integer)' conditions are supported"),
    ("if (d == 1) x q[0];\n", "line 6: only 'if (creg == integer)' conditions are supported"),
    ("if (1 == c) x q[0];\n", "line 6: only 'if (creg == integer)' conditions are supported"),
    ("if (c == 1.5) x q[0];\n", "line 6: condition value must be an integer, got 1.5"),
    ("if (c == 1) { x q[0]; } else { x q[1]; }\n", "line 6: 'else' is not OpenQASM 2.0"),
    ("for int i in [0:1] { x q[0]; }\n", "line 6: unsupported statement ForInLoop"),
])
def test_unsupported_or_malformed_statements_name_their_line(body: str, message: str) -> None:
    assert refused(body) == message


def test_the_width_limit_itself_is_allowed() -> None:
    assert parse(f"qreg s[{MAX_QUBITS - 5}];\n").qubits == MAX_QUBITS


def test_stdgates_may_be_included_too() -> None:
    assert parse("", 'OPENQASM 2.0;\ninclude "stdgates.inc";\nqreg q[1];\n').qubits == 1


@pytest.mark.parametrize(("text", "message"), [
    ('OPENQASM 3.0;\nqubit[1] q;\n', "expected an 'OPENQASM 2.0;' program, got version '3.0'"),
    ("qreg q[1];\n", "expected an 'OPENQASM 2.0;' program, got version None"),
    ("OPENQASM 2.0;\ncreg c[1];\n", "program declares no qubits (qreg)"),
])
def test_version_and_qubits_are_required(text: str, message: str) -> None:
    assert refused(text, head="") == message


def test_the_operation_bound_counts_every_expanded_operation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qasm, "MAX_OPERATIONS", 4)
    assert len(parse("h q;\nmeasure q -> c;\n").ops) == 4
    assert refused("h q;\nmeasure q -> c;\nreset q[0];\n") == (
        "line 8: the program expands to more than 4 operations (gate definitions nest or repeat too much)")
    assert refused("if (c == 1) x q[0];\nh q;\nh q;\n") == (
        "line 8: the program expands to more than 4 operations (gate definitions nest or repeat too much)")


def test_a_gate_that_expands_past_the_bound_is_refused_before_expanding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qasm, "MAX_OPERATIONS", 8)
    defs = "gate a x { x x; x x; }\ngate b x { a x; a x; }\ngate c2 x { b x; b x; }\n"
    assert len(parse(defs + "b q[0];\nb q[1];\n").ops) == 8
    assert refused(defs + "h q[0];\nc2 q[0];\n") == "line 10: gate 'c2' expands to 8 operations; a program may have " \
                                                   "at most 8"
