"""QIR (`qir.v1`) on the simulator: Q# programs compiled by the QDK, checked against their exact
distributions (chi-square on the sampled shots), the result formats the azure-quantum SDK reads,
and the errors for bad input."""

from __future__ import annotations

import json
import math
import re
from itertools import product
from typing import Any

import numpy as np
import pytest
import qdk  # noqa: F401 - a test dependency (make venv installs it): a missing QDK fails, never skips
from kuantum_solvers.circuits.qir import _run_dynamic, apply_small, run_qir
from kuantum_solvers.formats.circuits.qir_load import GateOp, MeasureOp, load_program, looks_like_qir, prune_static
from kuantum_solvers.formats.errors import INVALID_INPUT_DATA, INVALID_PARAMETERS, SolverError
from kuantum_solvers.formats.results import V1, V2

BELL = """
operation Main() : (Result, Result) {
    use (a, b) = (Qubit(), Qubit());
    H(a); CNOT(a, b);
    let r = (M(a), M(b));
    ResetAll([a, b]);
    r
}"""

GHZ = """
operation Main() : Result[] {
    use qs = Qubit[5];
    H(qs[0]);
    for i in 1..4 { CNOT(qs[0], qs[i]); }
    let r = MeasureEachZ(qs);
    ResetAll(qs);
    r
}"""

# Balanced oracle f(x) = x0 xor x2 on 3 input bits: the input register reads 101 with certainty.
DEUTSCH_JOZSA = """
operation Main() : Result[] {
    use (xs, y) = (Qubit[3], Qubit());
    X(y); H(y);
    ApplyToEach(H, xs);
    CNOT(xs[0], y); CNOT(xs[2], y);
    ApplyToEach(H, xs);
    let r = MeasureEachZ(xs);
    ResetAll(xs + [y]);
    r
}"""

ANGLES = [0.0, 0.4, 1.1, 1.9, 2.6]
SWEEP = """
operation Main() : Result[] {
    let angles = [0.0, 0.4, 1.1, 1.9, 2.6];
    use qs = Qubit[5];
    for i in 0..4 { Ry(angles[i], qs[i]); Rz(0.3 * Std.Convert.IntAsDouble(i), qs[i]); }
    let r = MeasureEachZ(qs);
    ResetAll(qs);
    r
}"""

# Adaptive profile: the two measurements steer corrections on Bob's qubit; undoing Ry(1.1)
# afterwards leaves |0>, so r is always 0 while m1, m2 are uniform.
TELEPORT = """
operation Main() : (Result, Result[]) {
    use (msg, a, b) = (Qubit(), Qubit(), Qubit());
    Ry(1.1, msg);
    H(a); CNOT(a, b);
    CNOT(msg, a); H(msg);
    let m1 = M(msg); let m2 = M(a);
    if m2 == One { X(b); }
    if m1 == One { Z(b); }
    Ry(-1.1, b);
    let r = M(b);
    ResetAll([msg, a, b]);
    (r, [m1, m2])
}"""


def compile_qsharp(source: str, profile: str = "Base", entry: str = "Main()") -> bytes:
    from qdk import qsharp

    qsharp.init(target_profile=getattr(qsharp.TargetProfile, profile))
    qsharp.eval(source)
    return str(qsharp.compile(entry)).encode()


def histogram(out: dict[str, Any]) -> dict[str, int]:
    assert out["DataFormat"] == V2
    return {h["Display"]: h["Count"] for h in out["Results"][0]["Histogram"]}


def chi_square_ok(counts: dict[str, int], exact: dict[str, float], shots: int) -> None:
    """Sampled counts match the exact distribution: nothing outside its support, chi-square p > 1e-4."""
    from scipy.stats import chisquare

    assert set(counts) <= {k for k, p in exact.items() if p > 1e-12}, (counts, exact)
    keys = [k for k, p in exact.items() if p > 1e-12]
    observed = np.array([counts.get(k, 0) for k in keys], dtype=float)
    expected = np.array([exact[k] * shots for k in keys])
    assert observed.sum() == shots
    if len(keys) > 1:
        assert chisquare(observed, expected * shots / expected.sum()).pvalue > 1e-4


def sdk_get_results(out: dict[str, Any]) -> dict[str, float]:
    """What azure-quantum's Job.get_results() computes from a v2 blob (job/job.py), restated."""
    result = out["Results"][0]
    total = len(result["Shots"])
    return {h["Display"]: h["Count"] / total for h in result["Histogram"]}


def test_bell_base_profile_v2_and_sdk_view() -> None:
    data = compile_qsharp(BELL)
    assert looks_like_qir(data)
    out = run_qir(data, {"shots": 4000, "seed": 11, "entryPoint": "ENTRYPOINT__main", "arguments": []})
    counts = histogram(out)
    chi_square_ok(counts, {"(0, 0)": 0.5, "(1, 1)": 0.5}, 4000)
    hist = out["Results"][0]["Histogram"]
    assert hist[0]["Outcome"] == {"Item1": 0, "Item2": 0}
    assert len(out["Results"][0]["Shots"]) == 4000
    assert out["Results"][0]["Shots"][0] in ({"Item1": 0, "Item2": 0}, {"Item1": 1, "Item2": 1})
    probs = sdk_get_results(out)
    assert set(probs) == {"(0, 0)", "(1, 1)"} and math.isclose(sum(probs.values()), 1.0)
    json.dumps(out, allow_nan=False)


def test_seeded_shots_repeat_and_v1_format() -> None:
    data = compile_qsharp(BELL)
    a = run_qir(data, {"shots": 200, "seed": 5})
    assert a == run_qir(data, {"shots": 200, "seed": 5})
    assert a != run_qir(data, {"shots": 200, "seed": 6})
    v1 = run_qir(data, {"shots": 200, "seed": 5}, V1)
    labels, probs = v1["Histogram"][::2], v1["Histogram"][1::2]
    assert labels == ["(0, 0)", "(1, 1)"] and math.isclose(sum(probs), 1.0)
    assert dict(zip(labels, probs, strict=True)) == sdk_get_results(a)


def test_bitcode_input() -> None:
    import pyqir

    text = compile_qsharp(GHZ).decode()
    bitcode = pyqir.Module.from_ir(pyqir.Context(), text).bitcode
    assert looks_like_qir(bitcode)
    counts = histogram(run_qir(bitcode, {"shots": 3000, "seed": 3}))
    chi_square_ok(counts, {"[0, 0, 0, 0, 0]": 0.5, "[1, 1, 1, 1, 1]": 0.5}, 3000)


def test_deutsch_jozsa_balanced() -> None:
    counts = histogram(run_qir(compile_qsharp(DEUTSCH_JOZSA), {"shots": 500, "seed": 1}))
    assert counts == {"[1, 0, 1]": 500}


def test_rotation_sweep_matches_exact_product_distribution() -> None:
    shots = 20_000
    counts = histogram(run_qir(compile_qsharp(SWEEP), {"shots": shots, "seed": 2}))
    p1 = [math.sin(a / 2) ** 2 for a in ANGLES]
    exact = {}
    for bits in product((0, 1), repeat=len(ANGLES)):
        exact[repr(list(bits))] = math.prod(p if b else 1 - p for b, p in zip(bits, p1, strict=True))
    chi_square_ok(counts, exact, shots)


def test_teleportation_adaptive_profile() -> None:
    data = compile_qsharp(TELEPORT, "Adaptive_RI")
    shots = 2000
    counts = histogram(run_qir(data, {"shots": shots, "seed": 4, "target_profile": "Adaptive_RI"}))
    exact = {f"(0, [{a}, {b}])": 0.25 for a in (0, 1) for b in (0, 1)}
    chi_square_ok(counts, exact, shots)


def test_adaptive_program_refused_when_job_asks_for_base() -> None:
    data = compile_qsharp(TELEPORT, "Adaptive_RI")
    with pytest.raises(SolverError) as err:
        run_qir(data, {"shots": 10, "targetCapability": "BasicExecution"})
    assert err.value.code == INVALID_INPUT_DATA
    assert "base profile" in err.value.message and "measurement result" in err.value.message


def test_static_and_shot_by_shot_paths_agree() -> None:
    """The pruned single simulation and the per-shot interpreter sample the same distribution."""
    data = compile_qsharp(SWEEP)
    program = load_program(data)
    shots = 4000
    outcomes, index = _run_dynamic(program, shots, np.random.default_rng(9), None)
    dynamic: dict[str, int] = {}
    for k in index:
        dynamic[repr(outcomes[k])] = dynamic.get(repr(outcomes[k]), 0) + 1
    p1 = [math.sin(a / 2) ** 2 for a in ANGLES]
    exact = {repr(list(bits)): math.prod(p if b else 1 - p for b, p in zip(bits, p1, strict=True))
             for bits in product((0, 1), repeat=5)}
    chi_square_ok(dynamic, exact, shots)


def test_prune_drops_qdk_measurement_copies() -> None:
    """The QDK's base profile copies each measured qubit to a fresh one; those copies are not simulated."""
    program = load_program(compile_qsharp(GHZ))
    assert program.qubits == 10
    ops = prune_static(program.linear_ops() or [])
    qubits = {q for op in ops if isinstance(op, GateOp) for q in op.qubits}
    assert qubits == {0, 1, 2, 3, 4}
    assert sorted(op.qubit for op in ops if isinstance(op, MeasureOp)) == [0, 1, 2, 3, 4]


def test_twenty_qubit_program_runs_as_twenty_qubits() -> None:
    src = """
    operation Main() : Result[] {
        use qs = Qubit[20];
        for i in 0..19 { H(qs[i]); }
        for i in 0..18 { CNOT(qs[i], qs[i + 1]); }
        let r = MeasureEachZ(qs);
        ResetAll(qs);
        r
    }"""
    out = run_qir(compile_qsharp(src), {"shots": 1000, "seed": 1})
    assert sum(histogram(out).values()) == 1000


@pytest.mark.parametrize(("data", "params", "needle"), [
    (b"BC\xc0\xde\x00\x01garbage", {}, "invalid QIR bitcode"),
    (b"define i64 @f( {", {}, "invalid QIR LLVM IR text"),
    (b"define void @f() {\n  ret void\n}\n", {}, "no entry point"),
    (b"\xff\xfe\x00binary", {}, "neither LLVM bitcode"),
])
def test_bad_input_names_the_problem(data: bytes, params: dict[str, Any], needle: str) -> None:
    with pytest.raises(SolverError) as err:
        run_qir(data, params)
    assert err.value.code == INVALID_INPUT_DATA
    assert needle in err.value.message


def test_missing_entry_point_and_arguments() -> None:
    data = compile_qsharp(BELL)
    with pytest.raises(SolverError) as err:
        run_qir(data, {"entryPoint": "ENTRYPOINT__other"})
    assert err.value.code == INVALID_INPUT_DATA and "ENTRYPOINT__main" in err.value.message
    with pytest.raises(SolverError) as err:
        run_qir(data, {"arguments": [1]})
    assert err.value.code == INVALID_PARAMETERS


def test_unsupported_function_is_named() -> None:
    text = compile_qsharp(BELL).decode().replace("__quantum__qis__h__body", "__quantum__qis__frobnicate__body")
    with pytest.raises(SolverError) as err:
        run_qir(text.encode(), {})
    assert "__quantum__qis__frobnicate__body" in err.value.message


def test_cli_contract(tmp_path: Any) -> None:
    from kuantum_solvers.cli import main

    program = tmp_path / "bell.ll"
    program.write_bytes(compile_qsharp(BELL))
    out = tmp_path / "out.json"
    rc = main(["--target", "kuantum.simulator", "--input", str(program), "--output", str(out),
               "--params", json.dumps({"shots": 100, "seed": 1, "entryPoint": "ENTRYPOINT__main"})])
    assert rc == 0 and json.loads(out.read_text())["DataFormat"] == V2
    out_v1 = tmp_path / "v1.json"
    rc = main(["--target", "kuantum.simulator", "--input", str(program), "--output", str(out_v1),
               "--input-format", "qir.v1", "--output-format", V1, "--params", '{"count": 100}'])
    assert rc == 0 and "Histogram" in json.loads(out_v1.read_text())
    bad = tmp_path / "bad.bc"
    bad.write_bytes(b"BC\xc0\xde not really")
    rc = main(["--target", "kuantum.simulator", "--input", str(bad), "--output", str(tmp_path / "x.json"),
               "--input-format", "qir.v1"])
    assert rc == 2 and not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("seed", range(4))
def test_small_state_gates_match_the_kernels(seed: int) -> None:
    """The numpy path for small states applies exactly what the numba kernels apply."""
    from kuantum_solvers.circuits.statevector import apply_gate
    from kuantum_solvers.formats.circuits import gates as g
    from kuantum_solvers.formats.circuits.model import Gate

    rng = np.random.default_rng(seed)
    n = 5
    psi = rng.normal(size=1 << n) + 1j * rng.normal(size=1 << n)
    psi /= np.linalg.norm(psi)
    ref = psi.copy()
    for _ in range(30):
        qubits = [int(q) for q in rng.permutation(n)[:4]]
        kind = int(rng.integers(4))
        if kind == 0:
            gate = Gate((qubits[0],), g.u3(*rng.uniform(0, 6, 3)))
        elif kind == 1:
            gate = Gate((qubits[0],), g.ry(float(rng.uniform(0, 6))), (qubits[1], qubits[2]))
        elif kind == 2:
            gate = Gate((qubits[0], qubits[1]), g.rxx(float(rng.uniform(0, 6))) @ np.kron(g.H, g.T))
        else:
            gate = Gate((qubits[1], qubits[0]), g.ms(0.1, 0.3), (qubits[2],))
        apply_small(psi, gate)
        apply_gate(ref, gate)
    np.testing.assert_allclose(psi, ref, atol=1e-12)


# ------------------------------------------------------------------------------ QIR batches (inputParams.items)
def qiskit_qir(circuit: Any) -> bytes:
    """A circuit compiled to QIR as azure-quantum's qiskit backends compile it (AzureQirBackend._get_qir_str)."""
    from qsharp import TargetProfile
    from qsharp.interop.qiskit import QSharpBackend

    backend = QSharpBackend(qiskit_pass_options={"supports_barrier": False}, target_profile=TargetProfile.Base,
                            skip_transpilation=True)
    return str(backend.qir(circuit)).encode()


def test_a_qiskit_batch_runs_every_item_and_reports_one_result_each() -> None:
    """The qiskit backend's job: `{"shots": N, "items": [{"entryPoint": "ENTRYPOINT__main", "arguments": []}]}`."""
    from kuantum_solvers.formats.targets import validate_params
    from qiskit import QuantumCircuit

    bell = QuantumCircuit(2, 2, name="bell")
    bell.h(0)
    bell.cx(0, 1)
    bell.measure([0, 1], [0, 1])
    data = qiskit_qir(bell)
    item = {"entryPoint": "ENTRYPOINT__main", "arguments": []}
    params = validate_params("kuantum.simulator", {"shots": 300, "seed": 3, "items": [item]})
    out = run_qir(data, params)
    assert out["DataFormat"] == V2 and len(out["Results"]) == 1 and len(out["Results"][0]["Shots"]) == 300
    assert {h["Display"] for h in out["Results"][0]["Histogram"]} == {"[0, 0]", "[1, 1]"}
    two = run_qir(data, validate_params("kuantum.simulator", {"shots": 50, "seed": 3, "items": [item, item]}))
    assert len(two["Results"]) == 2 and all(len(r["Shots"]) == 50 for r in two["Results"])
    assert two["Results"][0]["Shots"] != two["Results"][1]["Shots"]  # each item samples on its own


@pytest.mark.parametrize(("items", "needle"), [
    ([], "non-empty list"), ("x", "non-empty list"), ([{"entryPoint": 3}], "items[0].entryPoint"),
    ([{"entryPoint": "m", "shots": 5}], "unknown field"), ([{"arguments": "x"}], "items[0].arguments"),
])
def test_malformed_batches_are_invalid_parameters(items: Any, needle: str) -> None:
    from kuantum_solvers.formats.targets import validate_params

    with pytest.raises(SolverError, match=re.escape(needle)) as caught:
        validate_params("kuantum.simulator", {"shots": 5, "items": items})
    assert caught.value.code == INVALID_PARAMETERS


NEGATIVE = """
operation Main() : (Int, Bool) {
    use q = Qubit();
    X(q);
    let m = M(q);
    Reset(q);
    mutable k = -7;
    if m == One { set k = k - 2; }
    (k, k < -8)
}"""


def test_negative_integers_stay_negative() -> None:
    """The QDK writes `i64 -7`; pyqir reads its bits (2**64 - 7): the output must be -9, not 18446744073709551607."""
    data = compile_qsharp(NEGATIVE, "Adaptive_RI")
    assert histogram(run_qir(data, {"shots": 5, "target_profile": "Adaptive_RI"})) == {"(-9, True)": 5}


def test_zext_reads_its_operand_unsigned_from_its_own_width() -> None:
    ir = """%Qubit = type opaque
%Result = type opaque
define void @main() #0 {
entry:
  call void @__quantum__qis__mz__body(%Qubit* null, %Result* null)
  %m = call i1 @__quantum__qis__read_result__body(%Result* null)
  %b = select i1 %m, i8 -1, i8 1
  %z = zext i8 %b to i64
  %s = sext i8 %b to i64
  call void @__quantum__rt__tuple_record_output(i64 2, i8* null)
  call void @__quantum__rt__int_record_output(i64 %z, i8* null)
  call void @__quantum__rt__int_record_output(i64 %s, i8* null)
  ret void
}
declare void @__quantum__qis__mz__body(%Qubit*, %Result*)
declare i1 @__quantum__qis__read_result__body(%Result*)
declare void @__quantum__rt__tuple_record_output(i64, i8*)
declare void @__quantum__rt__int_record_output(i64, i8*)
attributes #0 = { "entry_point" "qir_profiles"="adaptive_profile" }
"""
    assert histogram(run_qir(ir.encode(), {"shots": 3})) == {"(1, 1)": 3}  # the qubit is |0>: m is false
    flipped = ir.replace("i8 -1, i8 1", "i8 1, i8 -1")
    assert histogram(run_qir(flipped.encode(), {"shots": 3})) == {"(255, -1)": 3}


def test_a_program_of_numbered_blocks_runs_every_block() -> None:
    """LLVM's own numbering (`br label %1`, `1:`): every block's gates run, and the branch and the phi follow the
    measurement."""
    ir = """%Qubit = type opaque
%Result = type opaque
define void @main() #0 {
  call void @__quantum__qis__x__body(%Qubit* null)
  br label %1
1:
  call void @__quantum__qis__mz__body(%Qubit* null, %Result* null)
  %2 = call i1 @__quantum__qis__read_result__body(%Result* null)
  br i1 %2, label %3, label %4
3:
  br label %4
4:
  %5 = phi i64 [ 7, %3 ], [ -7, %1 ]
  call void @__quantum__rt__int_record_output(i64 %5, i8* null)
  ret void
}
declare void @__quantum__qis__x__body(%Qubit*)
declare void @__quantum__qis__mz__body(%Qubit*, %Result*)
declare i1 @__quantum__qis__read_result__body(%Result*)
declare void @__quantum__rt__int_record_output(i64, i8*)
attributes #0 = { "entry_point" "qir_profiles"="adaptive_profile" }
"""
    assert histogram(run_qir(ir.encode(), {"shots": 4})) == {"7": 4}
    assert histogram(run_qir(ir.replace("call void @__quantum__qis__x__body(%Qubit* null)\n", "").encode(),
                             {"shots": 4})) == {"-7": 4}
