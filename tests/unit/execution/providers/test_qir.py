"""QIR -> IonQ JSON / OpenQASM 2 for the hardware backends, and their results back into
microsoft.quantum-results.v2: the translations are run on the solver's simulator and must give the
QIR program's exact distribution."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
import qdk  # noqa: F401 - a test dependency: a missing QDK fails, never skips
from kuantum.execution.providers.circuits import InvalidProgram, _for_solver
from kuantum.execution.providers.qir import ionq_output, qir_to_ionq, qir_to_qasm, qir_to_quantinuum, quantinuum_output
from kuantum.storage.blobs import blob_format
from kuantum_solvers.circuits.qasm import run_qasm
from kuantum_solvers.circuits.statevector import probabilities, simulate
from kuantum_solvers.formats.circuits.ionq import parse_circuit
from kuantum_solvers.formats.results import V1, V2

from tests.unit.solvers.test_qir import (
    ANGLES,
    BELL,
    DEUTSCH_JOZSA,
    GHZ,
    SWEEP,
    TELEPORT,
    chi_square_ok,
    compile_qsharp,
    histogram,
)


def ionq_probabilities(document: dict[str, Any]) -> dict[str, float]:
    """What IonQ's simulator returns: exact probabilities keyed by decimal state."""
    probs = probabilities(simulate(parse_circuit(_for_solver(document))))
    return {str(i): float(p) for i, p in enumerate(probs) if p > 1e-14}


def sweep_exact() -> dict[str, float]:
    from itertools import product

    p1 = [math.sin(a / 2) ** 2 for a in ANGLES]
    return {repr(list(bits)): math.prod(p if b else 1 - p for b, p in zip(bits, p1, strict=True))
            for bits in product((0, 1), repeat=len(ANGLES))}


@pytest.mark.parametrize(("source", "exact"), [
    (BELL, {"(0, 0)": 0.5, "(1, 1)": 0.5}),
    (GHZ, {"[0, 0, 0, 0, 0]": 0.5, "[1, 1, 1, 1, 1]": 0.5}),
    (DEUTSCH_JOZSA, {"[1, 0, 1]": 1.0}),
    (SWEEP, None),
])
def test_ionq_translation_gives_the_exact_distribution(source: str, exact: dict[str, float] | None) -> None:
    data = compile_qsharp(source)
    exact = exact or sweep_exact()
    document = qir_to_ionq(data, {"entryPoint": "ENTRYPOINT__main", "arguments": []})
    assert document["gateset"] == "qis"
    # the QDK's measurement copies are not sent: only the program's own qubits
    assert document["qubits"] <= 5
    shots = 100_000
    out = json.loads(ionq_output(data, {}, ionq_probabilities(document), shots))
    counts = histogram(out)
    assert sum(counts.values()) == shots and len(out["Results"][0]["Shots"]) == shots
    for key, p in exact.items():
        assert abs(counts.get(key, 0) / shots - p) <= 1.0 / shots + 1e-9, key


def test_ionq_output_v1() -> None:
    data = compile_qsharp(BELL)
    out = json.loads(ionq_output(data, {}, {"0": 0.5, "3": 0.5}, 100, V1))
    assert out == {"Histogram": ["(0, 0)", 0.5, "(1, 1)", 0.5]}


def test_ionq_refuses_feedback() -> None:
    data = compile_qsharp(TELEPORT, "Adaptive_RI")
    with pytest.raises(InvalidProgram, match="classical feedback"):
        qir_to_ionq(data, {})


@pytest.mark.parametrize(("source", "exact"), [
    (BELL, {"(0, 0)": 0.5, "(1, 1)": 0.5}),
    (GHZ, {"[0, 0, 0, 0, 0]": 0.5, "[1, 1, 1, 1, 1]": 0.5}),
    (SWEEP, None),
])
def test_qasm_translation_sampled_matches(source: str, exact: dict[str, float] | None) -> None:
    data = compile_qsharp(source)
    text = qir_to_qasm(data, {})
    assert text.startswith("OPENQASM 2.0;")
    shots = 4000
    registers = run_qasm(text, shots, seed=3)  # what Quantinuum's emulator returns, per register
    out = json.loads(quantinuum_output(data, {}, registers))
    assert out["DataFormat"] == V2
    chi_square_ok(histogram(out), exact or sweep_exact(), shots)


def test_teleportation_translates_to_qasm_feedback() -> None:
    data = compile_qsharp(TELEPORT, "Adaptive_RI")
    text, registers = qir_to_quantinuum(data, {})
    assert registers == {"r0": 1, "r1": 1, "r2": 1}
    assert "if (r1==1) x q[2];" in text and "if (r0==1) z q[2];" in text
    shots = 2000
    out = json.loads(quantinuum_output(data, {}, run_qasm(text, shots, seed=8)))
    chi_square_ok(histogram(out), {f"(0, [{a}, {b}])": 0.25 for a in (0, 1) for b in (0, 1)}, shots)


def test_bad_program_is_invalid_program() -> None:
    with pytest.raises(InvalidProgram, match="invalid QIR bitcode"):
        qir_to_ionq(b"BC\xc0\xde\x00", {})
    with pytest.raises(InvalidProgram, match="not found"):
        qir_to_qasm(compile_qsharp(BELL), {"entryPoint": "nope"})


def test_shot_counts_round_to_shots() -> None:
    data = compile_qsharp(BELL)
    out = json.loads(ionq_output(data, {}, {"0": 1 / 3, "3": 2 / 3}, 10))
    assert sorted(h["Count"] for h in out["Results"][0]["Histogram"]) == [3, 7]
    with pytest.raises(ValueError):
        ionq_output(data, {}, {"x": 1.0}, 10)
    assert np.isclose(sum(h["Count"] for h in out["Results"][0]["Histogram"]), 10)


def test_blob_format() -> None:
    fmt = blob_format("qir.v1")
    assert fmt.content_type == "qir.v1" and not fmt.gzip
