"""Quil's standard gates (the Quil specification, pyQuil's gate definitions) checked against matrices built
independently here: rotations as exponentials of Pauli generators, the rest by the basis states they map. Each
gate's shape (parameters, built-in controls, target qubits) is the specification's."""

from __future__ import annotations

import math

import numpy as np
import pytest
from kuantum_solvers.rigetti.quil import STANDARD_GATES
from scipy.linalg import expm

I2 = np.eye(2)
X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]])
Z = np.diag([1, -1]).astype(complex)
SWAP = np.eye(4)[[0, 2, 1, 3]]
XX_YY = np.kron(X, X) + np.kron(Y, Y)
T = 0.7  # an angle with no symmetry

SHAPES = {  # name: (parameters, controls, targets)
    "I": (0, 0, 1), "X": (0, 0, 1), "Y": (0, 0, 1), "Z": (0, 0, 1), "H": (0, 0, 1), "S": (0, 0, 1),
    "T": (0, 0, 1), "PHASE": (1, 0, 1), "RX": (1, 0, 1), "RY": (1, 0, 1), "RZ": (1, 0, 1), "CZ": (0, 1, 1),
    "CNOT": (0, 1, 1), "CCNOT": (0, 2, 1), "CPHASE": (1, 1, 1), "CPHASE00": (1, 0, 2), "CPHASE01": (1, 0, 2),
    "CPHASE10": (1, 0, 2), "SWAP": (0, 0, 2), "CSWAP": (0, 1, 2), "ISWAP": (0, 0, 2), "PSWAP": (1, 0, 2),
    "XY": (1, 0, 2),
}

EXPECTED = {  # the matrix on the target qubits (the first target the most significant bit); controls apart
    "I": I2, "X": X, "Y": Y, "Z": Z, "H": (X + Z) / math.sqrt(2), "S": np.diag([1, 1j]),
    "T": np.diag([1, np.exp(1j * math.pi / 4)]), "PHASE": np.diag([1, np.exp(1j * T)]),
    "RX": expm(-0.5j * T * X), "RY": expm(-0.5j * T * Y), "RZ": expm(-0.5j * T * Z), "CZ": Z, "CNOT": X,
    "CCNOT": X, "CPHASE": np.diag([1, np.exp(1j * T)]),
    "CPHASE00": np.diag([np.exp(1j * T), 1, 1, 1]), "CPHASE01": np.diag([1, np.exp(1j * T), 1, 1]),
    "CPHASE10": np.diag([1, 1, np.exp(1j * T), 1]), "SWAP": SWAP, "CSWAP": SWAP,
    "ISWAP": expm(0.25j * math.pi * XX_YY), "PSWAP": SWAP @ np.diag([1, np.exp(1j * T), np.exp(1j * T), 1]),
    "XY": expm(0.25j * T * XX_YY),
}


def test_every_standard_gate_is_checked() -> None:
    assert set(STANDARD_GATES) == set(SHAPES) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_a_standard_gate_has_the_specifications_shape_and_matrix(name: str) -> None:
    params, controls, targets, build = STANDARD_GATES[name]
    assert (params, controls, targets) == SHAPES[name]
    matrix = build(*([T] * params))
    assert matrix.shape == (2**targets, 2**targets)
    np.testing.assert_allclose(matrix, EXPECTED[name], atol=1e-12)
    np.testing.assert_allclose(matrix @ matrix.conj().T, np.eye(2**targets), atol=1e-12)  # unitary
