"""Translations between IonQ JSON and OpenQASM 2: the original and the translation are both run on the
solver's statevector simulator and their exact outcome distributions compared."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from kuantum.execution.providers.circuits import (
    GATE_NAMES,
    TO_QASM,
    InvalidProgram,
    _for_solver,
    ionq_circuit_to_ionq,
    ionq_histogram_output,
    ionq_to_qasm,
    qasm_to_ionq,
)
from kuantum_solvers.circuits.statevector import probabilities, simulate
from kuantum_solvers.formats.circuits import qasm as solver_qasm
from kuantum_solvers.formats.circuits.ionq import parse_circuit
from kuantum_solvers.formats.circuits.model import Circuit, Gate
from kuantum_solvers.formats.circuits.qelib1 import QELIB1

Probs = npt.NDArray[np.float64]
HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'


def ionq_probs(document: dict[str, Any]) -> Probs:
    return probabilities(simulate(parse_circuit(_for_solver(document))))


def qasm_clbit_probs(text: str) -> Probs:
    """Exact distribution over the classical bits of a program whose measurements are terminal."""
    program = solver_qasm.parse_program(text)
    gates = [op for op in program.ops if isinstance(op, Gate)]
    qubit_probs = probabilities(simulate(Circuit(program.qubits, gates)))
    measures = [op for op in program.ops if isinstance(op, solver_qasm.Measure)]
    if not measures:  # IonQ's convention: every qubit, in order
        return qubit_probs
    out = np.zeros(1 << program.clbits)
    for state, p in enumerate(qubit_probs):
        clbits = sum(((state >> m.qubit) & 1) << m.clbit for m in measures)
        out[clbits] += p
    return out


def marginal(probs: Probs, width: int) -> Probs:
    """Sums out the bits above `width` (IonQ qubits that were never measured)."""
    return probs.reshape(-1, 1 << width).sum(axis=0)


def assert_same(a: Probs, b: Probs) -> None:
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


# --- OpenQASM 2 -> IonQ ------------------------------------------------------------------------------

PROGRAMS = {
    "bell": "qreg q[2]; creg c[2]; h q[0]; cx q[0],q[1]; measure q -> c;",
    "every_mapped_gate": """
        qreg q[5]; creg c[5];
        h q; x q[0]; y q[1]; z q[2]; s q[3]; sdg q[4]; t q[0]; tdg q[1]; sx q[2]; sxdg q[3]; id q[4];
        rx(0.3) q[0]; ry(-1.1) q[1]; rz(pi/5) q[2]; p(0.7) q[3]; u1(0.2) q[4];
        u3(0.1,0.2,0.3) q[0]; u(1.0,-0.5,2.0) q[1]; U(0.4,0.5,0.6) q[2]; u2(0.9,-0.4) q[3]; u0(1) q[4];
        cx q[0],q[1]; CX q[1],q[2]; cy q[2],q[3]; cz q[3],q[4]; ch q[4],q[0]; csx q[0],q[2];
        crx(0.5) q[1],q[3]; cry(0.6) q[2],q[4]; crz(0.7) q[3],q[0]; cp(1.3) q[4],q[1]; cu1(-0.8) q[0],q[3];
        ccx q[0],q[1],q[2]; c3x q[0],q[1],q[2],q[3]; c4x q[4],q[3],q[2],q[1],q[0]; c3sqrtx q[1],q[2],q[3],q[4];
        swap q[0],q[4]; cswap q[1],q[2],q[3]; rxx(0.4) q[0],q[1]; ryy(0.5) q[2],q[3]; rzz(0.6) q[4],q[0];
        h q; measure q -> c;""",
    "user_gate_and_barrier": """
        gate entangle(theta) a, b { h a; cp(theta) a, b; u2(0, pi) b; }
        qreg q[3]; creg c[3];
        entangle(pi/3) q[0], q[1]; barrier q; entangle(0.25) q[1], q[2]; rx(0.2) q;
        measure q -> c;""",
    "permuted_measure_and_two_registers": """
        qreg q[3]; creg lo[2]; creg hi[1];
        h q[0]; cx q[0],q[2]; ry(0.8) q[1];
        measure q[2] -> lo[0]; measure q[0] -> hi[0]; measure q[1] -> lo[1];""",
    "unmeasured_qubit_and_idle_clbit": """
        qreg q[3]; creg c[3];
        h q[0]; cx q[0],q[1]; rx(1.2) q[2];
        measure q[0] -> c[2]; measure q[1] -> c[0];""",
    "no_measure": "qreg q[3]; creg c[3]; h q[0]; cx q[0],q[1]; ry(0.3) q[2];",
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_qasm_to_ionq_keeps_the_distribution(name: str) -> None:
    text = HEADER + PROGRAMS[name]
    document, registers = qasm_to_ionq(text)
    assert document["gateset"] == "qis"
    width = sum(registers.values())
    expected = qasm_clbit_probs(text)
    got = ionq_probs(document)
    measured = any(isinstance(op, solver_qasm.Measure) for op in solver_qasm.parse_program(text).ops)
    assert_same(marginal(got, width) if measured else got, expected)


def test_qasm_to_ionq_registers_and_wire_names() -> None:
    document, registers = qasm_to_ionq(HEADER + PROGRAMS["permuted_measure_and_two_registers"])
    assert registers == {"lo": 2, "hi": 1}
    assert document["qubits"] == 3
    names = {op["gate"] for op in qasm_to_ionq(HEADER + PROGRAMS["every_mapped_gate"])[0]["circuit"]}
    assert names <= {"x", "y", "z", "h", "s", "si", "t", "ti", "v", "vi", "rx", "ry", "rz", "swap", "xx", "yy", "zz"}
    bell = qasm_to_ionq(HEADER + PROGRAMS["bell"])[0]
    assert bell == {"gateset": "qis", "qubits": 2, "circuit": [
        {"gate": "h", "targets": [0]}, {"gate": "x", "targets": [1], "controls": [0]}]}


def test_unmeasured_qubits_follow_the_classical_bits() -> None:
    document, registers = qasm_to_ionq(HEADER + PROGRAMS["unmeasured_qubit_and_idle_clbit"])
    assert registers == {"c": 3} and document["qubits"] == 4  # c[1] is an idle qubit, q[2] sits above


@pytest.mark.parametrize(("program", "needle"), [
    ("qreg q[2];\nh q[0];\ncu3(1,2,3) q[0],q[1];\n", "line 5: gate 'cu3' has no IonQ equivalent"),
    ("gate g a, b { cu(1,2,3,4) a, b; }\nqreg q[2];\ng q[0], q[1];\n", "line 5 (in gate 'g'): gate 'cu'"),
    ("qreg q[1]; creg c[1];\nmeasure q[0] -> c[0];\nh q[0];\n", "after it was measured"),
    ("qreg q[1];\nreset q[0];\n", "'reset' cannot run on IonQ"),
    ("qreg q[1]; creg c[1];\nif (c == 1) x q[0];\n", "'if (...)' cannot run on IonQ"),
    ("qreg q[1];\nfoo q[0];\n", "unknown gate 'foo'"),
    ("qreg q[1];\nh q[0]\n", "OpenQASM"),
])
def test_qasm_to_ionq_refusals_name_gate_and_line(program: str, needle: str) -> None:
    with pytest.raises(InvalidProgram) as info:
        qasm_to_ionq(HEADER + program)
    assert needle in str(info.value)


# --- IonQ -> OpenQASM 2 ------------------------------------------------------------------------------


def random_qis(rng: random.Random, n: int, length: int) -> dict[str, Any]:
    one = ["x", "y", "z", "h", "s", "si", "t", "ti", "v", "vi", "not", "sdg", "tdg", "sx", "sxdg", "id"]
    rot = ["rx", "ry", "rz", "p"]
    circuit: list[dict[str, Any]] = []
    for _ in range(length):
        qubits = rng.sample(range(n), 4)
        kind = rng.randrange(6)
        if kind == 0:
            circuit.append({"gate": rng.choice(one), "target": qubits[0]})
        elif kind == 1:
            circuit.append({"gate": rng.choice(rot), "targets": qubits[:2], "rotation": rng.uniform(-4, 4)})
        elif kind == 2:
            gate = rng.choice(["x", "y", "z", "h", "v", "rx", "ry", "rz", "cnot", "p"])
            op: dict[str, Any] = {"gate": gate, "control": qubits[0], "target": qubits[1]}
            if gate in ("rx", "ry", "rz", "p"):
                op["rotation"] = rng.uniform(-4, 4)
            circuit.append(op)
        elif kind == 3:
            circuit.append({"gate": rng.choice(["x", "toffoli", "mcx"]),
                            "controls": qubits[: rng.choice([2, 3])], "target": qubits[3]})
        elif kind == 4:
            circuit.append({"gate": rng.choice(["xx", "yy", "zz", "rxx"]), "targets": qubits[:2],
                            "rotation": rng.uniform(-4, 4)})
        else:
            circuit.append({"gate": "swap", "targets": qubits[:2], **({"controls": [qubits[2]]} if rng.random() < .5
                                                                        else {})})
    return {"gateset": "qis", "qubits": n, "circuit": circuit}


def random_native(rng: random.Random, n: int, length: int) -> dict[str, Any]:
    circuit: list[dict[str, Any]] = []
    for _ in range(length):
        a, b = rng.sample(range(n), 2)
        kind = rng.randrange(4)
        if kind == 0:
            circuit.append({"gate": "gpi", "target": a, "phase": rng.random()})
        elif kind == 1:
            circuit.append({"gate": "gpi2", "target": a, "phase": rng.random()})
        elif kind == 2:
            op: dict[str, Any] = {"gate": "ms", "targets": [a, b], "phases": [rng.random(), rng.random()]}
            if rng.random() < 0.5:
                op["angle"] = rng.uniform(0, 0.25)
            circuit.append(op)
        else:
            circuit.append({"gate": "zz", "targets": [a, b], "angle": rng.uniform(-0.25, 0.25)})
    return {"gateset": "native", "qubits": n, "circuit": circuit}


@pytest.mark.parametrize("seed", range(6))
def test_ionq_to_qasm_keeps_the_distribution(seed: int) -> None:
    rng = random.Random(seed)
    document = random_qis(rng, 5, 40) if seed % 2 == 0 else random_native(rng, 4, 30)
    text = ionq_to_qasm(document)
    assert text.startswith(HEADER) and "measure q -> c;" in text
    assert_same(qasm_clbit_probs(text), ionq_probs(document))


@pytest.mark.parametrize("seed", range(3))
def test_round_trip_ionq_qasm_ionq(seed: int) -> None:
    document = random_qis(random.Random(100 + seed), 4, 30)
    back, registers = qasm_to_ionq(ionq_to_qasm(document))
    assert registers == {"c": 4}
    assert_same(ionq_probs(back), ionq_probs(document))


def test_ionq_to_qasm_accepts_the_api_envelope_and_json_text() -> None:
    bell = {"qubits": 2, "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]}
    expected = HEADER + "qreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n"
    assert ionq_to_qasm({"input": bell}) == expected
    assert ionq_to_qasm(json.dumps(bell)) == expected


@pytest.mark.parametrize(("op", "needle"), [
    ({"gate": "h", "controls": [0, 1], "target": 2}, "gate 0: 'h' with 2 control(s)"),
    ({"gate": "x", "controls": [0, 1, 2, 3, 4], "target": 5}, "'x' with 5 control(s)"),
])
def test_ionq_to_qasm_refuses_gates_qelib1_lacks(op: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidProgram) as info:
        ionq_to_qasm({"qubits": 6, "circuit": [op]})
    assert needle in str(info.value)


@pytest.mark.parametrize("document", [
    {"qubits": 2, "circuit": [{"gate": "h", "target": 2}]},
    {"qubits": 2, "circuit": [{"gate": "warp", "target": 0}]},
    {"qubits": 2, "gateset": "qis", "circuit": [{"gate": "gpi", "target": 0, "phase": 0.1}]},
    {"circuit": []},
    [1, 2],
    "{not json",
])
def test_invalid_ionq_circuits_fail_before_submit(document: Any) -> None:
    with pytest.raises(InvalidProgram):
        ionq_circuit_to_ionq(document)
    with pytest.raises(InvalidProgram):
        ionq_to_qasm(document)


def test_ionq_circuit_to_ionq_keeps_only_the_circuit() -> None:
    blob = {"gateset": "qis", "qubits": 2, "circuit": [{"gate": "h", "target": 0}], "extra": True}
    assert ionq_circuit_to_ionq(blob) == {"gateset": "qis", "qubits": 2, "circuit": [{"gate": "h", "target": 0}]}
    assert ionq_circuit_to_ionq({"input": blob})["qubits"] == 2
    native = {"gateset": "native", "qubits": 2, "circuit": [{"gate": "ms", "targets": [0, 1], "phases": [0, 0]}]}
    assert ionq_circuit_to_ionq(native)["gateset"] == "native"
    assert ionq_circuit_to_ionq({"qubits": 1, "circuit": []})["gateset"] == "qis"


def test_qis_zz_is_the_ising_rotation() -> None:
    h = {"gate": "h", "targets": [0, 1]}
    zz = {"qubits": 2, "circuit": [h, {"gate": "zz", "targets": [0, 1], "rotation": 0.9}, h]}
    ionq_circuit_to_ionq(zz)  # valid at IonQ (qiskit-ionq sends RZZ as qis "zz")
    assert "rzz(0.9) q[0],q[1];" in ionq_to_qasm(zz)
    assert_same(qasm_clbit_probs(ionq_to_qasm(zz)), ionq_probs(zz))


# --- the shared table and the results blob ---------------------------------------------------------


def test_gate_table_is_qelib1_and_reversible() -> None:
    for qasm_name, ionq_name in GATE_NAMES:
        controls = QELIB1[qasm_name][1]
        assert TO_QASM[(ionq_name, controls)] in QELIB1
        assert QELIB1[TO_QASM[(ionq_name, controls)]][:3] == QELIB1[qasm_name][:3]


def test_histogram_blob_has_decimal_keys_with_qubit_0_least_significant() -> None:
    document = {"qubits": 3, "circuit": [{"gate": "x", "target": 0}, {"gate": "h", "target": 2}]}
    probs = ionq_probs(document)
    histogram = {str(i): float(p) for i, p in enumerate(probs) if p > 1e-12}
    blob = json.loads(ionq_histogram_output(histogram))
    assert list(blob) == ["histogram"]
    assert blob["histogram"] == pytest.approx({"1": 0.5, "5": 0.5})


def test_histogram_blob_sorts_states_and_refuses_bad_entries() -> None:
    assert ionq_histogram_output({"10": 0.25, "3": 0.75}) == b'{"histogram":{"3":0.75,"10":0.25}}'
    for bad in ({"0x1": 1.0}, {"1": -0.1}, {"1": math.nan}, {"1": "half"}):
        with pytest.raises(ValueError):
            ionq_histogram_output(bad)


def test_a_gate_without_an_ionq_equivalent_is_refused_naming_those_that_translate() -> None:
    """The list in the message is every translatable qelib1 name, as qelib1 spells them (cx, not "CX")."""
    with pytest.raises(InvalidProgram) as info:
        qasm_to_ionq(HEADER + "qreg q[2];\ncu3(0.1,0.2,0.3) q[0],q[1];\n")
    message = str(info.value)
    assert "gate 'cu3' has no IonQ equivalent" in message
    listed = message.split("gates that translate: ", 1)[1].rstrip(")").split(", ")
    assert listed == sorted({n for n, _ in GATE_NAMES if n != "CX"} | {"u", "u2", "u3", "id"})
    assert "cx" in listed and "CX" not in listed
