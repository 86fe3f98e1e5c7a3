"""Every standard Quil gate against the Quil specification's definition, built here another way (rotations as
exponentials of Pauli generators, controlled gates as block-diagonal matrices), with its parameter count and its
qubits. Matrices are in Quil's order: the gate's first qubit is the most significant bit of a row's index."""

from __future__ import annotations

import cmath
import re
from typing import Any

import numpy as np
import pytest
from kuantum_solvers.formats.errors import SolverError
from kuantum_solvers.rigetti.quil import STANDARD_GATES, QuilGate, gate_matrix, parse_quil
from scipy.linalg import expm

I2 = np.eye(2)
X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]])
Z = np.diag([1.0 + 0j, -1.0])
SWAP = np.eye(4)[[0, 2, 1, 3]].astype(complex)
T = 0.7  # the angle the parametric gates take


def controlled(u: Any, controls: int) -> Any:
    """U applied where every control (the most significant qubits) is 1."""
    size = u.shape[0] << controls
    full = np.eye(size, dtype=complex)
    full[size - u.shape[0]:, size - u.shape[0]:] = u
    return full


def phase_at(index: int, angle: float) -> Any:
    d = np.ones(4, dtype=complex)
    d[index] = cmath.exp(1j * angle)
    return np.diag(d)


XX_YY = np.kron(X, X) + np.kron(Y, Y)
SPEC: dict[str, tuple[int, Any]] = {  # name -> (parameters, full matrix on all its qubits)
    "I": (0, I2),
    "X": (0, X),
    "Y": (0, Y),
    "Z": (0, Z),
    "H": (0, (X + Z) / np.sqrt(2)),
    "S": (0, expm(1j * np.pi / 4 * (I2 - Z))),
    "T": (0, expm(1j * np.pi / 8 * (I2 - Z))),
    "PHASE": (1, expm(1j * T / 2 * (I2 - Z))),
    "RX": (1, expm(-1j * T / 2 * X)),
    "RY": (1, expm(-1j * T / 2 * Y)),
    "RZ": (1, expm(-1j * T / 2 * Z)),
    "CZ": (0, controlled(Z, 1)),
    "CNOT": (0, controlled(X, 1)),
    "CCNOT": (0, controlled(X, 2)),
    "CPHASE": (1, phase_at(3, T)),
    "CPHASE00": (1, phase_at(0, T)),
    "CPHASE01": (1, phase_at(1, T)),
    "CPHASE10": (1, phase_at(2, T)),
    "SWAP": (0, SWAP),
    "CSWAP": (0, controlled(SWAP, 1)),
    "ISWAP": (0, expm(1j * np.pi / 4 * XX_YY)),
    "PSWAP": (1, SWAP @ phase_at(1, T) @ phase_at(2, T)),
    "XY": (1, expm(1j * T / 4 * XX_YY)),
}


def parsed(text: str) -> QuilGate:
    (gate,) = parse_quil(text).ops
    assert isinstance(gate, QuilGate)
    return gate


def full_matrix(gate: QuilGate) -> Any:
    return controlled(gate_matrix({}, gate, gate.constant or ()), gate.controls)


def test_every_standard_gate_is_in_the_specification() -> None:
    assert set(STANDARD_GATES) == set(SPEC)


@pytest.mark.parametrize("name", sorted(SPEC))
def test_a_standard_gate_is_the_specifications_matrix(name: str) -> None:
    n_params, matrix = SPEC[name]
    qubits = int(np.log2(matrix.shape[0]))
    args = "(0.7)" if n_params else ""
    gate = parsed(f"{name}{args} " + " ".join(str(q) for q in range(qubits)))
    assert gate.qubits == tuple(range(qubits))
    np.testing.assert_allclose(full_matrix(gate), matrix, atol=1e-12)


@pytest.mark.parametrize("name", sorted(SPEC))
def test_a_standard_gate_refuses_other_parameter_and_qubit_counts(name: str) -> None:
    n_params, matrix = SPEC[name]
    qubits = int(np.log2(matrix.shape[0]))
    targets = " ".join(str(q) for q in range(qubits))
    wrong = "(0.1, 0.2)" if n_params else "(0.1)"
    with pytest.raises(SolverError, match=f"{name} takes {n_params} parameter"):
        parse_quil(f"{name}{wrong} {targets}")
    args = "(0.7)" if n_params else ""
    with pytest.raises(SolverError, match=f"needs {qubits} qubit"):
        parse_quil(f"{name}{args} {targets} {qubits}")


def test_dagger_and_controlled_modifiers() -> None:
    gate = parsed("DAGGER RX(0.7) 0")
    np.testing.assert_allclose(full_matrix(gate), expm(1j * T / 2 * X), atol=1e-12)
    program = parse_quil("CONTROLLED CPHASE10(0.7) 2 0 1")
    (gate,) = program.ops
    assert program.qubits == [2, 0, 1] and gate.qubits == (0, 1, 2)  # dense indices, in order of first use
    assert gate.controls == 1
    np.testing.assert_allclose(full_matrix(gate), controlled(phase_at(2, T), 1), atol=1e-12)
    gate = parsed("DAGGER DAGGER ISWAP 0 1")
    np.testing.assert_allclose(full_matrix(gate), SPEC["ISWAP"][1], atol=1e-12)


def test_defgate_matrices_and_permutations_on_one_and_two_qubits() -> None:
    program = parse_quil("DEFGATE CNOTPERM AS PERMUTATION:\n    0, 1, 3, 2\nDEFGATE NOTPERM AS PERMUTATION:\n"
                         "    1, 0\nDEFGATE SQ:\n    0, 1\n    1, 0\nDEFGATE SW:\n    1, 0, 0, 0\n    0, 0, 1, 0\n"
                         "    0, 1, 0, 0\n    0, 0, 0, 1\nCNOTPERM 0 1\nNOTPERM 1\nSQ 0\nSW 1 0\n")
    assert {name: d.qubits for name, d in program.gate_defs.items()} == {"CNOTPERM": 2, "NOTPERM": 1, "SQ": 1,
                                                                         "SW": 2}
    expected = [controlled(X, 1), X, X, SWAP]
    for gate, matrix in zip(program.ops, expected, strict=True):
        np.testing.assert_allclose(gate_matrix(program.gate_defs, gate, ()), matrix, atol=1e-12)


@pytest.mark.parametrize(("text", "message"), [
    ("DEFGATE P AS PERMUTATION:\n    0, 1, 2\n", "DEFGATE P AS PERMUTATION: not a permutation of 0..2^n-1"),
    ("DEFGATE P AS PERMUTATION:\n    0, 0\n", "DEFGATE P AS PERMUTATION: not a permutation of 0..2^n-1"),
    ("DEFGATE P AS PERMUTATION:\n    0\n", "DEFGATE P AS PERMUTATION: not a permutation of 0..2^n-1"),
    ("DEFGATE P AS PERMUTATION:\n    0, 1, 2, 3, 4, 5, 6, 7\n",
     "DEFGATE P: gates on 3 qubits are not supported (at most 2; use CONTROLLED for more qubits)"),
    ("DEFGATE M:\n    1, 0, 0\n    0, 1, 0\n    0, 0, 1\n", "DEFGATE M: the matrix must be square with a power-of-two"),
    ("DEFGATE M:\n    1, 0\n    0, 2\n", "DEFGATE M: the matrix is not unitary"),
])
def test_defgates_that_cannot_run_are_refused(text: str, message: str) -> None:
    with pytest.raises(SolverError, match=re.escape(message)):
        parse_quil(text)


def test_statements_after_an_empty_one_keep_their_lines() -> None:
    with pytest.raises(SolverError, match=r"^InvalidInputData: line 3: unknown gate 'FOO'"):
        parse_quil("X 0;; Y 1\nH 2\nFOO 3\n")
