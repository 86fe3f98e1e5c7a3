"""Statevector simulator: agreement with qiskit-aer, native gates, sampling statistics, errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kuantum_solvers.circuits.fusion import fuse
from kuantum_solvers.circuits.ionq import run_ionq
from kuantum_solvers.circuits.qasm import run_qasm
from kuantum_solvers.circuits.statevector import simulate
from kuantum_solvers.formats.circuits import gates as g
from kuantum_solvers.formats.circuits.ionq import parse_circuit
from kuantum_solvers.formats.circuits.model import Circuit, Gate
from kuantum_solvers.formats.circuits.qasm import Measure, parse_program
from kuantum_solvers.formats.errors import INSUFFICIENT_MEMORY, INVALID_INPUT_DATA, SolverError

_ONE_QUBIT = ["h", "x", "y", "z", "s", "si", "t", "ti", "v", "vi"]
_QISKIT_NAME = {"si": "sdg", "ti": "tdg", "v": "sx", "vi": "sxdg"}


def _aer_statevector(qc: Any) -> np.ndarray:
    aer = pytest.importorskip("qiskit_aer")
    from qiskit import transpile

    qc = qc.copy()
    qc.save_statevector()
    sim = aer.AerSimulator(method="statevector", fusion_enable=True)
    result = sim.run(transpile(qc, sim, optimization_level=0)).result()
    return np.asarray(result.get_statevector())


def _random_ionq(n: int, depth: int, seed: int) -> tuple[dict[str, Any], Any]:
    pytest.importorskip("qiskit_aer")
    from qiskit import QuantumCircuit

    rng = np.random.default_rng(seed)
    qc = QuantumCircuit(n)
    ops: list[dict[str, Any]] = []
    for _ in range(depth):
        kind = rng.integers(0, 6)
        q = [int(x) for x in rng.permutation(n)[:3]]
        if kind > 1 and n < 2:
            kind = 1
        if kind == 0:
            name = str(rng.choice(_ONE_QUBIT))
            ops.append({"gate": name, "target": q[0]})
            getattr(qc, _QISKIT_NAME.get(name, name))(q[0])
        elif kind == 1:
            name = str(rng.choice(["rx", "ry", "rz"]))
            angle = float(rng.uniform(-math.pi, math.pi))
            ops.append({"gate": name, "targets": [q[0]], "rotation": angle})
            getattr(qc, name)(angle, q[0])
        elif kind == 2:
            ops.append({"gate": "cnot", "control": q[0], "target": q[1]})
            qc.cx(q[0], q[1])
        elif kind == 3:
            ops.append({"gate": "swap", "targets": [q[0], q[1]]})
            qc.swap(q[0], q[1])
        elif kind == 4 and n >= 3:
            ops.append({"gate": "x", "controls": [q[0], q[1]], "target": q[2]})
            qc.ccx(q[0], q[1], q[2])
        else:
            angle = float(rng.uniform(-math.pi, math.pi))
            ops.append({"gate": "rz", "controls": [q[0]], "target": q[1], "rotation": angle})
            qc.crz(angle, q[0], q[1])
    return {"qubits": n, "gateset": "qis", "circuit": ops}, qc


@pytest.mark.parametrize(("n", "seed"), [(1, 0), (2, 1), (3, 2), (5, 3), (8, 4), (12, 5)])
def test_random_ionq_circuits_match_aer(n: int, seed: int) -> None:
    doc, qc = _random_ionq(n, depth=12 * n, seed=seed)
    ours = simulate(parse_circuit(doc))
    assert np.max(np.abs(ours - _aer_statevector(qc))) < 1e-10


_QASM_GATES = [
    ("h", 0, 1), ("x", 0, 1), ("sdg", 0, 1), ("tdg", 0, 1), ("sx", 0, 1), ("u3", 3, 1), ("u2", 2, 1),
    ("u1", 1, 1), ("rx", 1, 1), ("ry", 1, 1), ("cx", 0, 2), ("cz", 0, 2), ("cy", 0, 2), ("ch", 0, 2),
    ("crx", 1, 2), ("cu1", 1, 2), ("cu3", 3, 2), ("swap", 0, 2), ("rzz", 1, 2), ("ccx", 0, 3),
    ("cswap", 0, 3), ("mygate", 1, 2),
]


def _random_qasm(n: int, depth: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    lines = ['OPENQASM 2.0;', 'include "qelib1.inc";',
             "gate mygate(theta) a, b { cx a, b; rz(theta/2) b; u3(pi/2, 0, pi) a; }",
             f"qreg q[{n}];", f"creg c[{n}];"]
    for _ in range(depth):
        name, n_params, n_qubits = _QASM_GATES[rng.integers(len(_QASM_GATES))]
        if n_qubits > n:
            continue
        params = ", ".join(f"{rng.uniform(-3, 3):.6f}" for _ in range(n_params))
        qubits = ", ".join(f"q[{int(i)}]" for i in rng.permutation(n)[:n_qubits])
        lines.append(f"{name}({params}) {qubits};" if n_params else f"{name} {qubits};")
    lines.append("h q;")  # register broadcast
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("n", "seed"), [(2, 10), (4, 11), (7, 12), (10, 13)])
def test_random_qasm_circuits_match_aer(n: int, seed: int) -> None:
    pytest.importorskip("qiskit_aer")
    from qiskit import qasm2

    text = _random_qasm(n, depth=10 * n, seed=seed)
    prog = parse_program(text)
    ours = simulate(Circuit(prog.qubits, [op for op in prog.ops if isinstance(op, Gate)]))
    theirs = _aer_statevector(qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS))
    assert np.max(np.abs(ours - theirs)) < 1e-10


def test_native_gates_match_their_definitions() -> None:
    def unitary_of(op: dict[str, Any], n: int) -> np.ndarray:
        cols = []
        for basis in range(1 << n):
            psi = np.zeros(1 << n, dtype=np.complex128)
            psi[basis] = 1
            c = parse_circuit({"qubits": n, "gateset": "native", "circuit": [op]})
            cols.append(simulate(c, psi))
        return np.array(cols).T

    np.testing.assert_allclose(unitary_of({"gate": "gpi", "target": 0, "phase": 0}, 1), g.X, atol=1e-12)
    np.testing.assert_allclose(unitary_of({"gate": "gpi2", "target": 0, "phase": 0}, 1), g.rx(math.pi / 2),
                               atol=1e-12)
    np.testing.assert_allclose(unitary_of({"gate": "ms", "targets": [0, 1], "phases": [0, 0]}, 2),
                               g.rxx(math.pi / 2), atol=1e-12)
    np.testing.assert_allclose(unitary_of({"gate": "zz", "targets": [0, 1], "angle": 0.1}, 2),
                               g.rzz(2 * math.pi * 0.1), atol=1e-12)


def test_ionq_histogram_bell_and_lsb_order() -> None:
    out = run_ionq({"qubits": 2, "circuit": [{"gate": "h", "target": 0},
                                             {"gate": "cnot", "control": 0, "target": 1}]})
    assert out["histogram"].keys() == {"0", "3"}
    assert math.isclose(out["histogram"]["0"], 0.5)
    # X on qubit 0 only → basis index 1 (qubit 0 is the least significant bit).
    assert run_ionq({"qubits": 3, "circuit": [{"gate": "x", "target": 0}]}) == {"histogram": {"1": 1.0}}


def test_fusion_preserves_order() -> None:
    gates = [Gate((0,), g.H), Gate((0,), g.T), Gate((1,), g.X, (0,)), Gate((0,), g.H)]
    fused = fuse(gates)
    assert len(fused) < len(gates)
    psi_a = simulate(Circuit(2, gates))
    psi_b = np.zeros(4, dtype=np.complex128)
    psi_b[0] = 1
    for gate in gates:  # unfused reference
        from kuantum_solvers.circuits.statevector import apply_gate

        apply_gate(psi_b, gate)
    np.testing.assert_allclose(psi_a, psi_b, atol=1e-12)


def test_sampled_histogram_matches_distribution() -> None:
    angles = [0.4, 1.3, 2.2]
    text = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\n'
    text += "".join(f"ry({a}) q[{i}];\n" for i, a in enumerate(angles)) + "cx q[0], q[2];\nmeasure q -> c;\n"
    shots = 20_000
    out = run_qasm(text, shots, seed=1234)
    prog = parse_program(text)
    probs = np.abs(simulate(Circuit(3, [op for op in prog.ops if isinstance(op, Gate)]))) ** 2
    counts = np.zeros(8)
    for bits in out["c"]:
        counts[int(bits, 2)] += 1  # bit 0 is the rightmost character
    expected = probs * shots
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    # 7 degrees of freedom: P(chi2 > 24.3) ≈ 0.001; the seed is fixed so this is deterministic.
    assert chi2 < 24.3
    assert run_qasm(text, 50, seed=9) == run_qasm(text, 50, seed=9)


@pytest.mark.parametrize("block", [4, 7, 1 << 14])
def test_sampling_follows_the_probabilities(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    """Blocks walked in parallel, including blocks of zero probability and a ragged last block."""
    from kuantum_solvers.circuits import statevector

    monkeypatch.setattr(statevector, "_SAMPLE_BLOCK", block)
    rng = np.random.default_rng(3)
    probs = rng.random(61) ** 3
    probs[8:16] = 0.0
    probs[[0, 30, 60]] = 0.0
    shots = 200_000
    amplitudes = np.sqrt(probs * 7.0) * np.exp(1j * rng.uniform(0, 2 * np.pi, probs.size))  # unnormalised
    idx = statevector.sample_basis_states(amplitudes, shots, np.random.default_rng(11))
    counts = np.bincount(idx, minlength=probs.size)
    assert counts[probs == 0.0].sum() == 0
    expected = probs / probs.sum() * shots
    live = probs > 0
    chi2 = float(np.sum((counts[live] - expected[live]) ** 2 / expected[live]))
    # 49 degrees of freedom: P(chi2 > 86.7) ≈ 0.001; seeded, so deterministic.
    assert chi2 < 86.7
    assert len(np.unique(idx[:1000])) > 30  # shuffled: not in sorted order
    assert not np.all(np.diff(idx[:1000]) >= 0)


def test_dynamic_circuit_measure_if_reset() -> None:
    text = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg a[1];
creg b[1];
h q[0];
measure q[0] -> a[0];
if (a==1) x q[1];
reset q[0];
measure q[1] -> b[0];
measure q[0] -> a[0];
"""
    out = run_qasm(text, 200, seed=5)
    assert set(out["a"]) == {"0"}  # reset returns q0 to |0>
    ones = out["b"].count("1")
    assert 60 < ones < 140  # b copies the first (random) measurement of q0


def test_multiple_registers_and_bit_order() -> None:
    text = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[2];\ncreg d[1];\n'
    text += "x q[0];\nmeasure q[0] -> c[0];\nmeasure q[1] -> c[1];\nx q[2];\nmeasure q[2] -> d[0];\n"
    out = run_qasm(text, 3, seed=0)
    assert out == {"c": ["01", "01", "01"], "d": ["1", "1", "1"]}
    assert next(op for op in parse_program(text).ops if isinstance(op, Measure)) == Measure(0, 0)


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"qubits": 0, "circuit": []}, "'qubits' must be a positive integer"),
        ({"qubits": 2, "circuit": [{"gate": "h", "target": 5}]}, "gate 0: qubit 5 out of range"),
        ({"qubits": 2, "circuit": [{"gate": "foo", "target": 0}]}, "gate 0: unknown gate 'foo'"),
        ({"qubits": 2, "circuit": [{"gate": "gpi", "target": 0, "phase": 0}]}, "needs \"gateset\": \"native\""),
        ({"qubits": 2, "circuit": [{"gate": "rx", "target": 0}]}, "needs 'rotation'"),
        ({"qubits": 2, "circuit": [{"gate": "cnot", "control": 0, "target": 0}]}, "more than once"),
        ({"qubits": 2, "circuit": "h"}, "'circuit' must be a list"),
    ],
)
def test_ionq_errors(doc: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SolverError) as info:
        run_ionq(doc)
    assert info.value.code == INVALID_INPUT_DATA
    assert fragment in info.value.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("OPENQASM 2.0;\nqreg q[1];\nh q[0]\n", "syntax error at line 3, column 7"),
        ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nfoo q[0];\n', "line 4: unknown gate 'foo'"),
        ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nh q[3];\n', "index 3 out of range"),
        ('OPENQASM 2.0;\ninclude "other.inc";\nqreg q[1];\n', "cannot include"),
        ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nrx q[0];\n', "takes 1 parameters, got 0"),
    ],
)
def test_qasm_errors(text: str, fragment: str) -> None:
    with pytest.raises(SolverError) as info:
        run_qasm(text, 1, seed=0)
    assert info.value.code == INVALID_INPUT_DATA
    assert fragment in info.value.message


def test_insufficient_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUANTUM_MEMORY_LIMIT_BYTES", str(1 << 20))
    with pytest.raises(SolverError) as info:
        run_ionq({"qubits": 20, "circuit": [{"gate": "h", "target": 0}]})
    assert info.value.code == INSUFFICIENT_MEMORY
    assert "a 20-qubit statevector needs 32.0 MiB (33554432 bytes), but the container's memory limit of 1.0 MiB " \
        "leaves 1.0 MiB (1048576 bytes" in info.value.message


_GATE_CHOICES = [
    lambda rng, q: Gate((q[0],), g.u3(*rng.uniform(-3, 3, 3))),
    lambda rng, q: Gate((q[0],), g.rz(rng.uniform(-3, 3))),
    lambda rng, q: Gate((q[1],), g.X, (q[0],)),
    lambda rng, q: Gate((q[1],), g.phase(rng.uniform(-3, 3)), (q[0],)),
    lambda rng, q: Gate((q[0], q[1]), g.rzz(rng.uniform(-3, 3))),
    lambda rng, q: Gate((q[0], q[1]), g.ms(*rng.uniform(0, 1, 3))),
    lambda rng, q: Gate((q[2],), g.ry(rng.uniform(-3, 3)), (q[0], q[1])),
    lambda rng, q: Gate((q[0], q[1]), _SWAP),
]
_SWAP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.complex128)


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10_000), length=st.integers(1, 40))
def test_fusion_is_exact(seed: int, length: int) -> None:
    from kuantum_solvers.circuits.statevector import apply_gate

    rng = np.random.default_rng(seed)
    n = 4
    gates = [_GATE_CHOICES[rng.integers(len(_GATE_CHOICES))](rng, [int(x) for x in rng.permutation(n)[:3]])
             for _ in range(length)]
    psi0 = rng.normal(size=1 << n) + 1j * rng.normal(size=1 << n)
    psi0 /= np.linalg.norm(psi0)
    reference = psi0.copy()
    for gate in gates:
        apply_gate(reference, gate)
    fused = psi0.copy()
    for op in fuse(gates):
        apply_gate(fused, op)
    np.testing.assert_allclose(fused, reference, atol=1e-10)
