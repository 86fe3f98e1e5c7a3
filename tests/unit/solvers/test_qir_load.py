"""The QIR loader on its own, on hand-written LLVM IR: what each call and instruction of the entry point becomes
(gates, measurements, records, classical values, branches), how the entry point is chosen, the base profile's
checks, the bounds, and the error that names each unsupported construct and where it is. test_qir.py runs Q#
programs compiled by the QDK end to end."""

from __future__ import annotations

import pytest
from kuantum_solvers.formats.circuits import qir_load
from kuantum_solvers.formats.circuits.model import MAX_QUBITS
from kuantum_solvers.formats.circuits.qir_load import (
    Branch,
    GateOp,
    Jump,
    MeasureOp,
    QirProgram,
    ReadOp,
    RecordOp,
    ResetOp,
    Ret,
    ValueOp,
    finite_angle,
    is_base_request,
    load_program,
    looks_like_qir,
    program_features,
    prune_static,
)
from kuantum_solvers.formats.errors import INVALID_INPUT_DATA, SolverError

DECLARATIONS = """
declare void @__quantum__rt__initialize(i8*)
declare void @__quantum__qis__h__body(%Qubit*)
declare void @__quantum__qis__x__body(%Qubit*)
declare void @__quantum__qis__s__adj(%Qubit*)
declare void @__quantum__qis__rz__body(double, %Qubit*)
declare void @__quantum__qis__cnot__body(%Qubit*, %Qubit*)
declare void @__quantum__qis__ccx__body(%Qubit*, %Qubit*, %Qubit*)
declare void @__quantum__qis__barrier__body()
declare void @__quantum__qis__mz__body(%Qubit*, %Result*)
declare void @__quantum__qis__m__body(%Qubit*, %Result*)
declare void @__quantum__qis__mresetz__body(%Qubit*, %Result*)
declare void @__quantum__qis__reset__body(%Qubit*)
declare i1 @__quantum__qis__read_result__body(%Result*)
declare i1 @__quantum__rt__read_result(%Result*)
declare void @__quantum__rt__tuple_record_output(i64, i8*)
declare void @__quantum__rt__array_record_output(i64, i8*)
declare void @__quantum__rt__result_record_output(%Result*, i8*)
declare void @__quantum__rt__bool_record_output(i1, i8*)
declare void @__quantum__rt__int_record_output(i64, i8*)
declare void @__quantum__rt__double_record_output(double, i8*)
declare void @__quantum__qis__frobnicate__body(%Qubit*)
"""


def q(n: int) -> str:
    return "%Qubit* null" if n == 0 else f"%Qubit* inttoptr (i64 {n} to %Qubit*)"


def r(n: int) -> str:
    return "%Result* null" if n == 0 else f"%Result* inttoptr (i64 {n} to %Result*)"


def module(body: str, attributes: str = '"entry_point" "qir_profiles"="adaptive_profile"', extra: str = "",
           name: str = "main") -> bytes:
    """An entry point `name` whose body is `body` (basic blocks; a bare list of instructions gets `entry:`)."""
    if not body.lstrip().split("\n")[0].rstrip().endswith(":"):
        body = "entry:\n" + body
    return (f"%Qubit = type opaque\n%Result = type opaque\n\ndefine void @{name}() #0 {{\n{body}\n}}\n{extra}\n"
            f"{DECLARATIONS}\nattributes #0 = {{ {attributes} }}\n").encode()


def load(body: str, **kwargs: str) -> QirProgram:
    return load_program(module(body, **kwargs))


def ops(body: str) -> list[object]:
    program = load(body + "\n  ret void")
    return program.blocks[program.first].ops


def refused(data: bytes, entry_point: str | None = None, capability: str | None = None) -> str:
    with pytest.raises(SolverError) as info:
        load_program(data, entry_point, capability)
    assert info.value.code == INVALID_INPUT_DATA
    return info.value.message


def test_gates_by_their_qelib1_names_angles_first_then_qubits() -> None:
    assert ops(f"""
  call void @__quantum__rt__initialize(i8* null)
  call void @__quantum__qis__h__body({q(0)})
  call void @__quantum__qis__s__adj({q(2)})
  call void @__quantum__qis__rz__body(double 5.000000e-01, {q(1)})
  call void @__quantum__qis__cnot__body({q(0)}, {q(1)})
  call void @__quantum__qis__ccx__body({q(2)}, {q(0)}, {q(1)})
  call void @__quantum__qis__barrier__body()""") == [
        GateOp("h", (), (0,)), GateOp("sdg", (), (2,)), GateOp("rz", (0.5,), (1,)), GateOp("cx", (), (0, 1)),
        GateOp("ccx", (), (2, 0, 1))]


def test_measurements_resets_and_reads() -> None:
    assert ops(f"""
  call void @__quantum__qis__mz__body({q(1)}, {r(2)})
  call void @__quantum__qis__m__body({q(0)}, {r(0)})
  call void @__quantum__qis__mresetz__body({q(2)}, {r(1)})
  call void @__quantum__qis__reset__body({q(1)})
  %a = call i1 @__quantum__qis__read_result__body({r(2)})
  %b = call i1 @__quantum__rt__read_result({r(0)})""") == [
        MeasureOp(1, 2), MeasureOp(0, 0), MeasureOp(2, 1, reset=True), ResetOp(1), ReadOp("a", 2), ReadOp("b", 0)]


def test_records_keep_their_kind_value_and_label() -> None:
    extra = '@label = internal constant [4 x i8] c"r0a\\00"'
    label = "i8* getelementptr inbounds ([4 x i8], [4 x i8]* @label, i64 0, i64 0)"
    program = load_program(module(f"""
  call void @__quantum__rt__tuple_record_output(i64 3, {label})
  call void @__quantum__rt__array_record_output(i64 0, i8* null)
  call void @__quantum__rt__result_record_output({r(4)}, i8* null)
  call void @__quantum__rt__bool_record_output(i1 true, i8* null)
  call void @__quantum__rt__bool_record_output(i1 false, i8* null)
  call void @__quantum__rt__int_record_output(i64 -7, i8* null)
  call void @__quantum__rt__double_record_output(double 2.500000e-01, i8* null)
  ret void""", extra=extra))
    records = program.blocks["entry"].ops
    assert records == [RecordOp("tuple", 3, "r0a"), RecordOp("array", 0, None), RecordOp("result", 4, None),
                       RecordOp("bool", True, None), RecordOp("bool", False, None), RecordOp("int", -7, None),
                       RecordOp("double", 0.25, None)]
    assert [type(rec.value) for rec in records[3:]] == [bool, bool, int, float]  # type: ignore[attr-defined]
    assert program.results == 5 and program.qubits == 0


def test_integer_constants_are_signed_by_their_width() -> None:
    """pyqir gives a constant's bits (`i64 -7` as 2**64 - 7): a negative output or operand must stay negative."""
    assert ops("""
  call void @__quantum__rt__int_record_output(i64 -7, i8* null)
  call void @__quantum__rt__int_record_output(i64 9223372036854775807, i8* null)
  call void @__quantum__rt__int_record_output(i64 -9223372036854775808, i8* null)
  %a = add i8 -1, 127
  %b = add i32 -2147483648, 0
  %c = select i1 true, i64 -1, i64 1""") == [
        RecordOp("int", -7, None), RecordOp("int", 2**63 - 1, None), RecordOp("int", -(2**63), None),
        ValueOp("a", "ADD", (-1, 127), None, 8), ValueOp("b", "ADD", (-(2**31), 0), None, 32),
        ValueOp("c", "SELECT", (True, -1, 1), None, 64)]


def test_a_constants_bits_beyond_its_width_are_not_part_of_its_value() -> None:
    """Only the type's width counts: a narrow constant handed over sign-extended to 64 bits reads as itself."""
    assert qir_load._signed(2**64 - 1, 8) == -1
    assert qir_load._signed(2**8 + 5, 8) == 5
    assert qir_load._signed(2**64 - 2, 1) is False


def test_a_negative_element_count_is_refused() -> None:
    assert refused(module("  call void @__quantum__rt__array_record_output(i64 -1, i8* null)\n  ret void")) == (
        "block 'entry', instruction 1: __quantum__rt__array_record_output needs a constant element count")


def test_a_record_call_without_a_label_argument_has_none() -> None:
    data = module(f"  call void @rec({r(1)})\n  ret void", extra="declare void @rec(%Result*)")
    data = data.replace(b"@rec", b"@__quantum__rt__result_record_output_1")
    text = data.decode().replace("declare void @__quantum__rt__result_record_output(%Result*, i8*)\n", "")
    text = text.replace("__quantum__rt__result_record_output_1", "__quantum__rt__result_record_output")
    program = load_program(text.encode())
    assert program.blocks["entry"].ops == [RecordOp("result", 1, None)]


def test_the_largest_result_id_allowed() -> None:
    assert load(f"  call void @__quantum__qis__mz__body({q(0)}, {r((1 << 20) - 1)})\n  ret void").results == 1 << 20


def test_the_counts_of_qubits_and_results_are_one_past_the_highest_id() -> None:
    program = load(f"  call void @__quantum__qis__mz__body({q(4)}, {r(6)})\n  ret void")
    assert (program.qubits, program.results) == (5, 7)
    empty = load("  ret void")
    assert (empty.qubits, empty.results) == (0, 0)


def test_classical_instructions_phis_and_branches() -> None:
    program = load(f"""entry:
  call void @__quantum__qis__mz__body({q(0)}, {r(0)})
  %m = call i1 @__quantum__qis__read_result__body({r(0)})
  br i1 %m, label %then, label %done
then:
  %n = add i64 2, 3
  %c = icmp sgt i64 %n, 4
  %f = fmul double 1.500000e+00, 2.000000e+00
  %t = trunc i64 %n to i8
  %z = zext i8 %t to i32
  call void @__quantum__qis__x__body({q(1)})
  br label %done
done:
  %p = phi i64 [ 0, %entry ], [ %n, %then ]
  ret void""")
    assert program.first == "entry" and list(program.blocks) == ["entry", "then", "done"]
    assert program.blocks["entry"].term == Branch(("var", "m"), "then", "done")
    then = program.blocks["then"]
    assert then.ops == [ValueOp("n", "ADD", (2, 3), None, 64), ValueOp("c", "ICMP", (("var", "n"), 4), "SGT", 1),
                        ValueOp("f", "FMUL", (1.5, 2.0), None, 64), ValueOp("t", "TRUNC", (("var", "n"),), None, 8),
                        ValueOp("z", "ZEXT", (("var", "t"),), None, 32, 8), GateOp("x", (), (1,))]
    assert then.term == Jump("done")
    assert program.blocks["done"].phis == [("p", {"entry": 0, "then": ("var", "n")})]
    assert program.blocks["done"].term == Ret()
    assert program.linear_ops() is None


def test_float_comparisons_keep_their_predicate() -> None:
    program = load("  %c = fcmp olt double 1.000000e+00, 2.000000e+00\n  ret void")
    assert program.blocks["entry"].ops == [ValueOp("c", "FCMP", (1.0, 2.0), "OLT", 1)]


def test_a_straight_chain_of_blocks_is_linear() -> None:
    program = load(f"""entry:
  call void @__quantum__qis__h__body({q(0)})
  br label %next
next:
  call void @__quantum__qis__mz__body({q(0)}, {r(0)})
  ret void""", attributes='"entry_point" "qir_profiles"="base_profile"')
    assert program.profile == "base_profile"
    assert program.linear_ops() == [GateOp("h", (), (0,)), MeasureOp(0, 0)]
    assert program_features(program) is None


@pytest.mark.parametrize(("body", "feature"), [
    (f"  call void @__quantum__qis__mz__body({q(0)}, {r(0)})\n  %m = call i1 @__quantum__rt__read_result({r(0)})\n"
     "  ret void", "block 'entry' reads a measurement result (classical feedback)"),
    ("  %n = mul i64 2, 3\n  ret void", "block 'entry' computes with classical values (mul)"),
    ("entry:\n  br i1 true, label %a, label %b\na:\n  br label %b\nb:\n  ret void",
     "block 'entry' branches conditionally"),
    ("entry:\n  br label %a\na:\n  %p = phi i64 [ 1, %entry ]\n  ret void", "block 'a' has phi nodes"),
    ("entry:\n  br label %a\na:\n  br label %entry2\nentry2:\n  br label %a", "control flow loops back"),
])
def test_the_base_profile_refuses_each_adaptive_feature_by_name(body: str, feature: str) -> None:
    assert refused(module(body, attributes='"entry_point" "qir_profiles"="base_profile"')) == (
        f"{feature}, which the QIR base profile does not allow (the module declares qir_profiles=base_profile); "
        "compile for the adaptive profile")
    assert refused(module(body), capability="BasicExecution") == (
        f"{feature}, which the QIR base profile does not allow (the job asks for the base profile); compile for "
        "the adaptive profile")
    assert load_program(module(body), capability="AdaptiveExecution").profile == "adaptive_profile"


@pytest.mark.parametrize(("capability", "base"), [
    ("base", True), ("Base_Profile", True), ("basic-execution", True), ("QIR_Base", True), (None, False),
    ("", False), ("adaptive", False), ("AdaptiveExecution", False), ("basically", False)])
def test_base_requests(capability: str | None, base: bool) -> None:
    assert is_base_request(capability) is base


def test_a_module_without_a_profile_says_none() -> None:
    assert load("  ret void", attributes='"entry_point"').profile == ""
    assert load("  ret void", attributes='"entry_point" "qir_profiles"=""').profile == ""


def test_the_entry_point_is_chosen_by_name_among_several() -> None:
    second = 'define void @other() #0 {\nentry:\n  call void @__quantum__qis__x__body(%Qubit* null)\n  ret void\n}\n'
    data = module("  ret void", extra=second)
    assert refused(data) == ("the module has 2 entry points (main, other); choose one with "
                             "inputParams.entryPoint")
    assert refused(data, entry_point="") == refused(data)
    assert load_program(data, entry_point="other").entry == "other"
    assert load_program(data, entry_point="other").blocks["entry"].ops == [GateOp("x", (), (0,))]
    assert load_program(data, entry_point="main").blocks["entry"].ops == []
    assert refused(data, entry_point="third") == "entry point 'third' not found; the module's entry points: main, other"
    single = module("  ret void")
    assert load_program(single).entry == load_program(single, entry_point="").entry == "main"


def test_an_entry_point_with_parameters_is_refused() -> None:
    data = module("  ret void").replace(b"define void @main()", b"define void @main(i64 %n)")
    assert refused(data) == ("entry point 'main' takes parameters; QIR entry points take none "
                             "(inputParams.arguments must be compiled into the program)")


def test_a_module_without_an_entry_point_is_refused() -> None:
    data = module("  ret void", attributes='"qir_profiles"="base_profile"')
    assert refused(data) == 'the QIR module has no entry point (a function with the "entry_point" attribute)'


@pytest.mark.parametrize(("body", "message"), [
    (f"  call void @__quantum__qis__cnot__body({q(1)}, {q(1)})", "block 'entry', instruction 1: gate 'cnot' uses "
                                                                 "a qubit twice"),
    (f"  call void @__quantum__qis__h__body({q(MAX_QUBITS)})",
     f"block 'entry', instruction 1: qubit {MAX_QUBITS} is beyond the simulator's {MAX_QUBITS} qubits"),
    (f"  call void @__quantum__qis__h__body({q(0)})\n  call void @__quantum__qis__mz__body({q(0)}, {r(1 << 20)})",
     "block 'entry', instruction 2: result id 1048576 is too large"),
    ("  %p = inttoptr i64 3 to %Qubit*\n  call void @__quantum__qis__h__body(%Qubit* %p)",
     "block 'entry', instruction 1: unsupported instruction 'int_to_ptr'"),
    (f"  call void @__quantum__qis__frobnicate__body({q(0)})",
     "block 'entry', instruction 1: unsupported QIR function '__quantum__qis__frobnicate__body' (gates supported: "),
    (f"  call void @__quantum__qis__h__body({q(0)})\n  call void @__quantum__rt__array_record_output(i64 -1, i8* null)",
     "block 'entry', instruction 2: __quantum__rt__array_record_output needs a constant element count"),
    (f"  call void @__quantum__qis__h__body({q(0)})\n  call void @__quantum__qis__mz__body({q(0)})",
     "block 'entry', instruction 2: __quantum__qis__mz__body takes a qubit and a result"),
    (f"  call void @__quantum__qis__h__body({q(0)})\n  call void @__quantum__qis__mz__body({q(0)}, {r(0)}, {r(1)})",
     "block 'entry', instruction 2: __quantum__qis__mz__body takes a qubit and a result"),
    ("  call void @__quantum__rt__tuple_record_output(i64 %n, i8* null)",
     "block 'entry', instruction 1: __quantum__rt__tuple_record_output needs a constant element count"),
])
def test_unsupported_calls_and_instructions_name_where_they_are(body: str, message: str) -> None:
    if "%n" in body:
        body = "  %n = add i64 1, 1\n" + body.replace("instruction 1", "instruction 2")
        message = message.replace("instruction 1", "instruction 2")
    assert refused(module(body + "\n  ret void")).startswith(message)


def test_the_unsupported_instructions_text_is_clipped() -> None:
    name = "g" * 120
    extra = f'@{name} = internal constant [3 x i8] c"ab\\00"'
    body = f"  %p = getelementptr inbounds [3 x i8], [3 x i8]* @{name}, i64 0, i64 0\n  ret void"
    message = refused(module(body, extra=extra))
    prefix, suffix = "block 'entry', instruction 1: unsupported instruction 'get_element_ptr' (", \
        "); QIR base and adaptive profiles only"
    assert message.startswith(prefix) and message.endswith(suffix)
    quoted = message[len(prefix):-len(suffix)]
    assert quoted.startswith("'%p = getelementptr inbounds") and len(quoted) == 100 + 2


def test_the_instruction_bound_counts_each_instruction(monkeypatch: pytest.MonkeyPatch) -> None:
    assert qir_load.MAX_INSTRUCTIONS == 2_000_000  # the bound the error message names
    monkeypatch.setattr(qir_load, "MAX_INSTRUCTIONS", 3)
    two_gates = f"  call void @__quantum__qis__h__body({q(0)})\n  call void @__quantum__qis__x__body({q(0)})\n"
    assert len(load(two_gates + "  ret void").blocks["entry"].ops) == 2
    assert refused(module(two_gates + f"  call void @__quantum__qis__h__body({q(0)})\n  ret void")) == (
        "the entry point has more than 3 instructions")


@pytest.mark.parametrize(("data", "message"), [
    (b"BC\xc0\xde\x00\x01garbage", "invalid QIR bitcode: "),
    (b"define i64 @f( {", "invalid QIR LLVM IR text: "),
    (b"\xff\xfe\x00binary", "input is neither LLVM bitcode (no 'BC' magic) nor UTF-8 LLVM IR text"),
])
def test_what_is_not_a_module_is_named(data: bytes, message: str) -> None:
    assert refused(data).startswith(message)


@pytest.mark.parametrize(("data", "qir"), [
    (b"BC\xc0\xde....", True),
    (b"; ModuleID = 'x'\ndefine void @f() {}", True),
    (b"  \n%Qubit = type opaque\ndefine void @f() {}", True),
    (b"@0 = constant i8 0\ndefine void @f() {}", True),
    (b"define void @f() {}", True),
    (b"declare void @g()\ndefine void @f() {}", True),
    (b"source_filename = \"x\"\ndefine void @f() {}", True),
    (b"target triple = \"x\"\ndefine void @f() {}", True),
    (b"declare void @g()\n", False),  # nothing to run
    (b"OPENQASM 2.0;\ndefine ", False),
    (b"qreg q[1];", False),
    (b'{"qubits": 1}', False),
])
def test_what_looks_like_qir(data: bytes, qir: bool) -> None:
    assert looks_like_qir(data) is qir


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "1", None, ("var", "x")])
def test_a_gate_angle_must_be_a_finite_number(value: object) -> None:
    with pytest.raises(SolverError, match=r"where: gate angle .* is not a finite number"):
        finite_angle(value, "where")


def test_finite_angles_are_floats() -> None:
    assert finite_angle(1, "w") == 1.0 and isinstance(finite_angle(1, "w"), float)
    assert finite_angle(-0.5, "w") == -0.5


def test_pruning_keeps_what_can_change_a_measured_outcome_and_renumbers_qubits() -> None:
    program = [GateOp("h", (), (3,)), GateOp("cx", (), (3, 7)), GateOp("x", (), (5,)), ResetOp(5),
               GateOp("cx", (), (3, 9)), MeasureOp(3, 0), ResetOp(3), RecordOp("result", 0, None)]
    assert prune_static(program) == [GateOp("h", (), (0,)), MeasureOp(0, 0), ResetOp(0),
                                     RecordOp("result", 0, None)]
    kept = [GateOp("h", (), (2,)), GateOp("cx", (), (2, 4)), MeasureOp(4, 1), MeasureOp(2, 0)]
    assert prune_static(kept) == [GateOp("h", (), (0,)), GateOp("cx", (), (0, 1)), MeasureOp(1, 1),
                                  MeasureOp(0, 0)]
    # A control a later kept gate uses is live: the gate on it stays.
    chained = [GateOp("rz", (0.3,), (1,)), GateOp("cx", (), (1, 0)), MeasureOp(0, 0)]
    assert prune_static(chained) == chained
    mresetz = [GateOp("x", (), (6,)), MeasureOp(6, 2, reset=True)]
    assert prune_static(mresetz) == [GateOp("x", (), (0,)), MeasureOp(0, 2, reset=True)]


def test_unnamed_blocks_are_known_by_the_numbers_llvm_gives_them() -> None:
    """pyqir names every unnamed block "": the blocks of such a program overwrote each other, and a program of
    numbered blocks lost all but its last block's gates."""
    linear = load_program(module(f"""
  call void @__quantum__qis__h__body({q(0)})
  br label %1
1:
  call void @__quantum__qis__x__body({q(1)})
  br label %2
2:
  call void @__quantum__qis__mz__body({q(0)}, {r(0)})
  ret void""".replace("entry:\n", ""), attributes='"entry_point" "qir_profiles"="base_profile"').replace(
        b"{\nentry:\n", b"{\n"))
    assert linear.first == "0" and list(linear.blocks) == ["0", "1", "2"]
    assert linear.linear_ops() == [GateOp("h", (), (0,)), GateOp("x", (), (1,)), MeasureOp(0, 0)]
    adaptive = load_program(module(f"""
  call void @__quantum__qis__mz__body({q(0)}, {r(0)})
  %1 = call i1 @__quantum__qis__read_result__body({r(0)})
  br i1 %1, label %2, label %3
2:
  br label %3
3:
  %4 = phi i64 [ 5, %2 ], [ -5, %0 ]
  ret void""").replace(b"{\nentry:\n", b"{\n"))
    assert list(adaptive.blocks) == ["0", "2", "3"]
    (read,) = [op for op in adaptive.blocks["0"].ops if isinstance(op, ReadOp)]
    assert adaptive.blocks["0"].term == Branch(("var", read.dest), "2", "3")
    assert adaptive.blocks["2"].term == Jump("3")
    assert adaptive.blocks["3"].phis == [(adaptive.blocks["3"].phis[0][0], {"2": 5, "0": -5})]
