"""Rigetti targets: Quil on the statevector simulator, results in rigetti.quil-results.v1."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kuantum_solvers.cli import main
from kuantum_solvers.formats.errors import INVALID_INPUT_DATA, INVALID_PARAMETERS, SolverError
from kuantum_solvers.formats.targets import validate_params
from kuantum_solvers.rigetti.run import run_rigetti
from scipy.stats import chisquare

QVM = "rigetti.sim.qvm"
CEPHEUS = "rigetti.qpu.cepheus-1-108q"


def run(src: str, params: dict[str, Any], target: str = QVM) -> dict[str, Any]:
    return run_rigetti(target, "rigetti.quil.v1", src.encode(), validate_params(target, params))


def chi2_ok(counts: Counter[Any], probs: dict[Any, float], shots: int) -> None:
    assert set(counts) <= {k for k, p in probs.items() if p > 0}, (counts, probs)
    keys = [k for k, p in probs.items() if p > 0]
    if len(keys) == 1:
        assert counts[keys[0]] == shots
        return
    observed = [counts.get(k, 0) for k in keys]
    expected = [probs[k] * shots for k in keys]
    assert chisquare(observed, expected).pvalue > 1e-3, (observed, expected)


def rows(result: dict[str, Any], register: str = "ro") -> Counter[tuple[int, ...]]:
    return Counter(tuple(r) for r in result[register])


def test_bell_shape_and_distribution() -> None:
    out = run("DECLARE ro BIT[2]\nH 0\nCNOT 0 1\nMEASURE 0 ro[0]\nMEASURE 1 ro[1]\n", {"shots": 2000, "seed": 7})
    assert set(out) == {"ro"} and len(out["ro"]) == 2000 and all(len(r) == 2 for r in out["ro"])
    assert all(isinstance(v, int) for r in out["ro"] for v in r)
    chi2_ok(rows(out), {(0, 0): 0.5, (1, 1): 0.5}, 2000)


def test_count_alias_seed_reproducible() -> None:
    src = "DECLARE ro BIT[1]\nRX(pi/3) 0\nMEASURE 0 ro[0]\n"
    a, b = run(src, {"count": 500, "seed": 3}), run(src, {"shots": 500, "seed": 3})
    assert a == b
    p1 = math.sin(math.pi / 6) ** 2
    chi2_ok(rows(a), {(0,): 1 - p1, (1,): p1}, 500)


def test_parametric_gates_and_modifiers_exact() -> None:
    # RY(θ) then CONTROLLED RX and DAGGER-ed DEFGATE: compare with the numpy state built by hand.
    src = """DECLARE ro BIT[3]
DEFGATE MYRX(%a):
    cos(%a/2), -i*sin(%a/2)
    -i*sin(%a/2), cos(%a/2)
RY(0.9) 0
CONTROLLED RX(1.3) 0 1
DAGGER MYRX(-0.4) 2
CPHASE(0.7) 1 2
XY(0.5) 0 2
MEASURE 0 ro[0]
MEASURE 1 ro[1]
MEASURE 2 ro[2]
"""
    shots = 20000
    out = run(src, {"shots": shots, "seed": 11})

    def rx(t: float) -> np.ndarray:
        return np.array([[math.cos(t / 2), -1j * math.sin(t / 2)], [-1j * math.sin(t / 2), math.cos(t / 2)]])

    ry = np.array([[math.cos(0.45), -math.sin(0.45)], [math.sin(0.45), math.cos(0.45)]])
    psi = np.zeros((2, 2, 2), dtype=complex)  # axes: q0, q1, q2
    psi[0, 0, 0] = 1
    psi = np.einsum("ab,bcd->acd", ry, psi)
    psi[1] = np.einsum("ab,bd->ad", rx(1.3), psi[1])
    psi = np.einsum("ab,cdb->cda", rx(-0.4).conj().T, psi)
    psi[:, 1, 1] *= np.exp(0.7j)
    c, s = math.cos(0.25), 1j * math.sin(0.25)
    a01, a10 = psi[0, :, 1].copy(), psi[1, :, 0].copy()  # XY on (q0, q2): |01>, |10> mix
    psi[0, :, 1], psi[1, :, 0] = c * a01 + s * a10, s * a01 + c * a10
    probs = {(i, j, k): abs(psi[i, j, k]) ** 2 for i in (0, 1) for j in (0, 1) for k in (0, 1)}
    chi2_ok(rows(out), probs, shots)


def test_substitutions_one_run_per_row_in_order() -> None:
    # The SDK's InputParams docstring example: 2 rows x count 2 → 4 readout vectors.
    src = """DECLARE ro BIT[3]
DECLARE theta REAL[2]
DECLARE beta REAL[1]
RX(theta[0]) 0
RX(theta[1]) 1
RX(beta) 2
MEASURE 0 ro[0]
MEASURE 1 ro[1]
MEASURE 2 ro[2]
"""
    subs = {"theta": [[0.0, math.pi], [math.pi, 0.0]], "beta": [[2 * math.pi], [2 * math.pi]]}
    out = run(src, {"count": 2, "skipQuilc": True, "substitutions": subs, "seed": 1})
    assert out["ro"] == [[0, 1, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0]]
    assert out["theta"] == [[0.0, math.pi], [0.0, math.pi], [math.pi, 0.0], [math.pi, 0.0]]
    assert all(isinstance(v, float) for r in out["beta"] for v in r)


def test_mid_circuit_measurement_reset_and_control_flow() -> None:
    src = """DECLARE ro BIT[2]
DECLARE n INTEGER
DECLARE x REAL
H 0
MEASURE 0 ro[0]
JUMP-UNLESS @skip ro[0]
X 1
ADD n 5
MOVE x 0.5
LABEL @skip
MEASURE 1 ro[1]
RESET 0
MEASURE 0
"""
    out = run(src, {"shots": 3000, "seed": 5})
    counted = rows(out)
    chi2_ok(counted, {(0, 0): 0.5, (1, 1): 0.5}, 3000)
    assert [r[0] for r in out["n"]] == [5 * r[0] for r in out["ro"]]
    assert [r[0] for r in out["x"]] == [0.5 * r[0] for r in out["ro"]]


def test_gate_parameters_from_memory_changed_during_a_shot() -> None:
    src = "DECLARE ro BIT\nDECLARE t REAL\nMOVE t 3.141592653589793\nRX(t) 0\nMEASURE 0 ro\n"
    assert rows(run(src, {"shots": 50, "seed": 2})) == Counter({(1,): 50})


def test_cli_end_to_end(tmp_path: Path) -> None:
    src = tmp_path / "in.quil"
    src.write_text("DECLARE ro BIT[2]\nX 0\nMEASURE 0 ro[0]\nMEASURE 1 ro[1]\n")
    out = tmp_path / "out.json"
    rc = main(["--target", CEPHEUS, "--input", str(src), "--output", str(out), "--params",
               json.dumps({"count": 3})])
    assert rc == 0
    assert json.loads(out.read_text()) == {"ro": [[1, 0], [1, 0], [1, 0]]}


@pytest.mark.parametrize(("src", "fragment"), [
    ("DEFCAL RX(pi/2) 0:\n    NOP\nH 0\n", "line 1: DEFCAL is pulse-level Quil"),
    ("H 0\n\nDEFFRAME 0 \"rf\":\n    SAMPLE-RATE: 1.0\n", "line 3: DEFFRAME is pulse-level"),
    ("DECLARE ro BIT\nH 0\nPULSE 0 \"rf\" flat(duration: 1e-6, iq: 1)\n", "line 3: PULSE is pulse-level"),
    ("DECLARE ro BIT\nH 0\nCAPTURE 0 \"ro_rx\" boxcar_kernel(duration: 1e-6) ro\n", "line 3: CAPTURE"),
    ("H 0\nFOO 1\n", "line 2: unknown gate 'FOO'"),
    ("DECLARE ro BIT\nMEASURE 0 ro[3]\n", "ro[3] is beyond ro's 1 element(s)"),
    ("H 0 1\n", "needs 1 qubit(s), got 2"),
    ("DEFGATE G:\n    1, 1\n    0, 1\nG 0\n", "not unitary"),
    ("H 0\nJUMP @nowhere\n", "undefined label @nowhere"),
    ("H 0 (\n", "Quil syntax error"),
])
def test_invalid_input(src: str, fragment: str) -> None:
    with pytest.raises(SolverError) as info:
        run(src, {})
    assert info.value.code == INVALID_INPUT_DATA
    assert fragment in info.value.message


def test_a_program_of_exactly_the_instruction_limit_runs_and_one_more_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from kuantum_solvers.rigetti import quil
    assert quil.MAX_INSTRUCTIONS == 1_000_000  # the limit the error message names
    monkeypatch.setattr(quil, "MAX_INSTRUCTIONS", 3)  # DECLARE is no instruction of the body
    assert run("DECLARE ro BIT\nX 0\nI 0\nMEASURE 0 ro\n", {}) == {"ro": [[1]]}
    with pytest.raises(SolverError, match="the program has more than 3 instructions"):
        run("DECLARE ro BIT\nX 0\nI 0\nI 0\nMEASURE 0 ro\n", {})


def test_qpu_qubit_indices_are_physical() -> None:
    with pytest.raises(SolverError, match="qubit 200 is beyond this target's qubits 0-107"):
        run("X 200\n", {}, CEPHEUS)
    assert run("DECLARE ro BIT\nX 107\nMEASURE 107 ro\n", {}, CEPHEUS) == {"ro": [[1]]}


@pytest.mark.parametrize(("params", "fragment"), [
    ({"substitutions": {"theta": [[0.1], [0.2, 0.3]]}}, "has 2 value(s); theta is REAL[1]"),
    ({"substitutions": {"theta": [[0.1]], "beta": [[1.0], [2.0]]}}, "same number of rows"),
    ({"substitutions": {"nope": [[1.0]]}}, "declares no memory region 'nope'"),
    ({"substitutions": [1]}, "must be an object"),
    ({"skipQuilc": "yes"}, "'skipQuilc' must be true or false"),
    ({"shots": 0}, "'shots'=0 is out of range"),
])
def test_invalid_params(params: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SolverError) as info:
        run("DECLARE theta REAL[1]\nDECLARE ro BIT\nRX(theta) 0\nMEASURE 0 ro\n", params)
    assert info.value.code == INVALID_PARAMETERS
    assert fragment in info.value.message


def test_sdk_result_class_reads_our_output() -> None:
    from azure.quantum.target.rigetti.result import create_readout

    out = run("DECLARE ro BIT[2]\nDECLARE t REAL\nX 1\nMEASURE 0 ro[0]\nMEASURE 1 ro[1]\n", {"shots": 4})
    parsed = json.loads(json.dumps(out))
    assert {k: create_readout(v) for k, v in parsed.items()} == {"ro": [[0, 1]] * 4, "t": [[0.0]] * 4}


def test_qir_input_runs_like_kuantum_simulator() -> None:
    from .test_qir import BELL, compile_qsharp

    params = validate_params(QVM, {"shots": 400, "seed": 1})
    out = run_rigetti(QVM, "rigetti.qir.v1", compile_qsharp(BELL), params)
    assert out["DataFormat"] == "microsoft.quantum-results.v2"
    assert sum(h["Count"] for h in out["Results"][0]["Histogram"]) == 400
