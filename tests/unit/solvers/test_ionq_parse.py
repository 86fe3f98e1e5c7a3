"""The `ionq.circuit.v1` reader on its own: what each gate object becomes (targets, controls, matrix) and the
specific error each malformed one gets. test_circuits.py runs parsed circuits against qiskit-aer."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from kuantum_solvers.formats.circuits import gates as g
from kuantum_solvers.formats.circuits.ionq import parse_circuit
from kuantum_solvers.formats.circuits.model import MAX_QUBITS, Gate
from kuantum_solvers.formats.errors import INVALID_INPUT_DATA, SolverError

SWAP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])


def doc(*ops: Any, qubits: int = 3, **extra: Any) -> Any:
    """As the solver gets it: parsed from JSON text (its strings are equal to the reader's names, not the same
    objects)."""
    return json.loads(json.dumps({"qubits": qubits, "circuit": list(ops), **extra}))


def only(*ops: dict[str, Any], **extra: Any) -> Gate:
    gates = parse_circuit(doc(*ops, **extra)).gates
    assert len(gates) == 1
    return gates[0]


def refused(document: Any) -> str:
    with pytest.raises(SolverError) as info:
        parse_circuit(document)
    assert info.value.code == INVALID_INPUT_DATA
    return info.value.message


def same(gate: Gate, targets: tuple[int, ...], matrix: Any, controls: tuple[int, ...] = ()) -> None:
    assert gate.targets == targets and gate.controls == controls
    np.testing.assert_allclose(gate.matrix, matrix, atol=1e-12)


def test_the_circuit_keeps_its_width_and_gate_order() -> None:
    circuit = parse_circuit(doc({"gate": "h", "target": 0}, {"gate": "x", "target": 2}, {"gate": "z", "target": 1}))
    assert circuit.qubits == 3
    assert [gate.targets for gate in circuit.gates] == [(0,), (2,), (1,)]


def test_the_ionq_api_envelope_is_unwrapped() -> None:
    circuit = parse_circuit({"target": "qpu.aria-1", "input": doc({"gate": "h", "target": 1}, qubits=2)})
    assert circuit.qubits == 2 and circuit.gates[0].targets == (1,)


@pytest.mark.parametrize(("name", "matrix"), [
    ("x", g.X), ("not", g.X), ("y", g.Y), ("z", g.Z), ("h", g.H), ("s", g.S), ("si", g.SDG), ("t", g.T),
    ("ti", g.TDG), ("v", g.SX), ("vi", g.SXDG), ("id", g.I2), ("i", g.I2), ("sdg", g.SDG), ("tdg", g.TDG),
    ("sx", g.SX), ("sxdg", g.SXDG), ("H", g.H)])
def test_fixed_gates(name: str, matrix: Any) -> None:
    same(only({"gate": name, "target": 1}), (1,), matrix)


@pytest.mark.parametrize(("name", "matrix"), [
    ("cnot", g.X), ("cx", g.X), ("CNOT", g.X), ("cz", g.Z), ("cy", g.Y), ("ch", g.H), ("cv", g.SX)])
def test_controlled_aliases_are_the_gate_under_its_controls(name: str, matrix: Any) -> None:
    same(only({"gate": name, "target": 2, "control": 0}), (2,), matrix, (0,))


def test_several_controls_and_targets() -> None:
    same(only({"gate": "toffoli", "target": 2, "controls": [0, 1]}), (2,), g.X, (0, 1))
    gates = parse_circuit(doc({"gate": "h", "targets": [0, 2]})).gates  # one gate per target
    assert [gate.targets for gate in gates] == [(0,), (2,)]
    gates = parse_circuit(doc({"gate": "x", "target": 0, "targets": [1], "control": 2})).gates
    assert [(gate.targets, gate.controls) for gate in gates] == [((0,), (2,)), ((1,), (2,))]


@pytest.mark.parametrize(("name", "fn"), [("rx", g.rx), ("ry", g.ry), ("rz", g.rz), ("crx", g.rx), ("cry", g.ry),
                                          ("crz", g.rz), ("p", g.phase), ("cp", g.phase), ("mcp", g.phase)])
def test_rotations_take_their_angle_in_radians(name: str, fn: Any) -> None:
    same(only({"gate": name, "target": 1, "rotation": 0.3}), (1,), fn(0.3))


@pytest.mark.parametrize(("name", "fn"), [("xx", g.rxx), ("rxx", g.rxx), ("yy", g.ryy), ("ryy", g.ryy),
                                          ("rzz", g.rzz)])
def test_two_qubit_rotations(name: str, fn: Any) -> None:
    same(only({"gate": name, "targets": [2, 0], "rotation": 0.7}), (2, 0), fn(0.7))


def test_swap_exchanges_its_two_targets() -> None:
    same(only({"gate": "swap", "targets": [0, 2]}), (0, 2), SWAP)
    same(only({"gate": "swap", "targets": [0, 2], "control": 1}), (0, 2), SWAP, (1,))


def test_native_gates_in_turns() -> None:
    native = {"gateset": "native"}
    same(only({"gate": "gpi", "target": 1, "phase": 0.25}, **native), (1,), g.gpi(0.25))
    same(only({"gate": "gpi2", "target": 0, "phase": 0.1}, **native), (0,), g.gpi2(0.1))
    same(only({"gate": "zz", "targets": [0, 1], "angle": 0.2}, **native), (0, 1), g.zz(0.2))
    same(only({"gate": "ms", "targets": [1, 2], "phases": [0.1, 0.3], "angle": 0.2}, **native), (1, 2),
         g.ms(0.1, 0.3, 0.2))
    same(only({"gate": "ms", "targets": [1, 2], "phases": [0.1, 0.3]}, **native), (1, 2), g.ms(0.1, 0.3, 0.25))
    assert not np.allclose(g.ms(0.1, 0.3, 0.25), g.ms(0.1, 0.3, 0.2))


@pytest.mark.parametrize(("document", "message"), [
    ([], "circuit input must be a JSON object with 'qubits' and 'circuit'"),
    ({"qubits": True, "circuit": []}, "'qubits' must be a positive integer, got True"),
    ({"qubits": 2.0, "circuit": []}, "'qubits' must be a positive integer, got 2.0"),
    ({"qubits": 0, "circuit": []}, "'qubits' must be a positive integer, got 0"),
    ({"circuit": []}, "'qubits' must be a positive integer, got None"),
    ({"qubits": MAX_QUBITS + 1, "circuit": []}, f"'qubits' is {MAX_QUBITS + 1}; the simulator supports at most "
                                                f"{MAX_QUBITS}"),
    ({"qubits": 2, "circuit": [], "gateset": "qiskit"}, "'gateset' must be 'qis' or 'native', got 'qiskit'"),
    ({"qubits": 2}, "'circuit' must be a list of gate objects"),
    ({"qubits": 2, "circuit": {"gate": "h"}}, "'circuit' must be a list of gate objects"),
    (doc({"gate": "h", "target": 0}, ["x", 0]), "gate 1: must be an object with a 'gate' name"),
    (doc({"target": 0}), "gate 0: must be an object with a 'gate' name"),
    (doc({"gate": 5, "target": 0}), "gate 0: must be an object with a 'gate' name"),
    (doc({"gate": "h", "target": 3}), "gate 0: qubit 3 out of range for a 3-qubit circuit"),
    (doc({"gate": "h", "target": -1}), "gate 0: qubit -1 out of range for a 3-qubit circuit"),
    (doc({"gate": "h", "target": 5}), "gate 0: qubit 5 out of range for a 3-qubit circuit"),
    (doc({"gate": "h", "target": True}), "gate 0: qubit indices must be integers, got True"),
    (doc({"gate": "h", "target": 1.0}), "gate 0: qubit indices must be integers, got 1.0"),
    (doc({"gate": "h", "targets": 1}), "gate 0: 'targets' must be a list of qubit indices"),
    (doc({"gate": "cx", "target": 1, "controls": 0}), "gate 0: 'controls' must be a list of qubit indices"),
    (doc({"gate": "h", "control": 0}), "gate 0: gate 'h' needs 'target' or 'targets'"),
    (doc({"gate": "cx", "target": 1, "control": 1}), "gate 0: a qubit appears more than once among targets/controls"),
    (doc({"gate": "h", "targets": [2, 2]}), "gate 0: a qubit appears more than once among targets/controls"),
    (doc({"gate": "gpi", "target": 0, "phase": 0.1}), 'gate 0: native gate \'gpi\' needs "gateset": "native"'),
    (doc({"gate": "h", "target": 0}, gateset="native"),
     "gate 0: gate 'h' is not in the native gate set (gpi, gpi2, ms, zz)"),
    (doc({"gate": "swap", "targets": [0, 1, 2]}), "gate 0: swap needs exactly 2 targets"),
    (doc({"gate": "swap", "target": 0}), "gate 0: swap needs exactly 2 targets"),
    (doc({"gate": "xx", "target": 0, "rotation": 1}), "gate 0: xx needs exactly 2 targets"),
    (doc({"gate": "rzz", "targets": [0, 1, 2], "rotation": 1}), "gate 0: rzz needs exactly 2 targets"),
    (doc({"gate": "rx", "target": 0}), "gate 0: gate 'rx' needs 'rotation'"),
    (doc({"gate": "rx", "target": 0, "rotation": "1"}), "gate 0: 'rotation' must be a finite number, got '1'"),
    (doc({"gate": "rz", "target": 0, "rotation": math.inf}), "gate 0: 'rotation' must be a finite number, got inf"),
    (doc({"gate": "p", "target": 0}), "gate 0: gate 'p' needs 'rotation'"),
    (doc({"gate": "foo", "target": 0}), "gate 0: unknown gate 'foo'"),
    (doc({"gate": "u3", "target": 0, "rotation": 1}), "gate 0: unknown gate 'u3'"),
    (doc({"gate": "gpi", "target": 0, "control": 1, "phase": 0}, gateset="native"),
     "gate 0: native gate 'gpi' cannot have controls"),
    (doc({"gate": "gpi2", "targets": [0, 1], "phase": 0}, gateset="native"), "gate 0: gpi2 takes one target"),
    (doc({"gate": "gpi", "target": 0}, gateset="native"), "gate 0: gate 'gpi' needs 'phase'"),
    (doc({"gate": "zz", "target": 0, "angle": 0.1}, gateset="native"), "gate 0: zz needs exactly 2 targets"),
    (doc({"gate": "ms", "targets": [0, 1, 2], "phases": [0, 0]}, gateset="native"), "gate 0: ms needs exactly 2"),
    (doc({"gate": "ms", "targets": [0, 1]}, gateset="native"), "gate 0: ms needs 'phases': [phi0, phi1]"),
    (doc({"gate": "ms", "targets": [0, 1], "phases": [0.1]}, gateset="native"), "ms needs 'phases': [phi0, phi1]"),
    (doc({"gate": "ms", "targets": [0, 1], "phases": [0.1, 0.2, 0.3]}, gateset="native"),
     "ms needs 'phases': [phi0, phi1]"),
    (doc({"gate": "ms", "targets": [0, 1], "phases": "0.1 0.2"}, gateset="native"), "ms needs 'phases': [phi0, phi1]"),
    (doc({"gate": "ms", "targets": [0, 1], "phases": [0.1, None]}, gateset="native"),
     "gate 0: 'p' must be a finite number, got None"),
    (doc({"gate": "ms", "targets": [0, 1], "phases": [0, 0], "angle": "a"}, gateset="native"),
     "gate 0: 'angle' must be a finite number, got 'a'"),
])
def test_malformed_circuits_are_refused_saying_where_and_why(document: Any, message: str) -> None:
    assert message in refused(document)


def test_the_width_limit_itself_is_allowed() -> None:
    assert parse_circuit({"qubits": MAX_QUBITS, "circuit": []}).qubits == MAX_QUBITS
    assert parse_circuit({"qubits": 1, "circuit": [{"gate": "x", "target": 0}]}).qubits == 1
