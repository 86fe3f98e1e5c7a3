"""Gate matrices (little-endian: qubit 0 is the least significant bit of a basis index)."""

from __future__ import annotations

import cmath
import math

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.complex128]

_S2 = 1.0 / math.sqrt(2.0)


def m2(a: complex, b: complex, c: complex, d: complex) -> Matrix:
    return np.array([[a, b], [c, d]], dtype=np.complex128)


def u3(theta: float, phi: float, lam: float) -> Matrix:
    """OpenQASM 2 U(θ, φ, λ)."""
    c, s = math.cos(theta / 2), math.sin(theta / 2)
    return m2(c, -cmath.exp(1j * lam) * s, cmath.exp(1j * phi) * s, cmath.exp(1j * (phi + lam)) * c)


def rx(t: float) -> Matrix:
    c, s = math.cos(t / 2), math.sin(t / 2)
    return m2(c, -1j * s, -1j * s, c)


def ry(t: float) -> Matrix:
    c, s = math.cos(t / 2), math.sin(t / 2)
    return m2(c, -s, s, c)


def rz(t: float) -> Matrix:
    return m2(cmath.exp(-0.5j * t), 0, 0, cmath.exp(0.5j * t))


def phase(t: float) -> Matrix:
    return m2(1, 0, 0, cmath.exp(1j * t))


I2 = m2(1, 0, 0, 1)
X = m2(0, 1, 1, 0)
Y = m2(0, -1j, 1j, 0)
Z = m2(1, 0, 0, -1)
H = m2(_S2, _S2, _S2, -_S2)
S = phase(math.pi / 2)
SDG = phase(-math.pi / 2)
T = phase(math.pi / 4)
TDG = phase(-math.pi / 4)
SX = 0.5 * m2(1 + 1j, 1 - 1j, 1 - 1j, 1 + 1j)  # √X (IonQ "v")
SXDG = SX.conj().T


def gpi(phi_turns: float) -> Matrix:
    """IonQ native GPI(φ), φ in turns."""
    a = 2 * math.pi * phi_turns
    return m2(0, cmath.exp(-1j * a), cmath.exp(1j * a), 0)


def gpi2(phi_turns: float) -> Matrix:
    a = 2 * math.pi * phi_turns
    return _S2 * m2(1, -1j * cmath.exp(-1j * a), -1j * cmath.exp(1j * a), 1)


def ms(phi0: float, phi1: float, theta: float = 0.25) -> Matrix:
    """IonQ native Mølmer–Sørensen gate on (q0, q1), phases and angle in turns.

    Same matrix as qiskit-ionq's MSGate, little-endian (row index = q0 + 2·q1).
    """
    a0, a1, t = 2 * math.pi * phi0, 2 * math.pi * phi1, 2 * math.pi * theta
    c, s = math.cos(t / 2), math.sin(t / 2)
    return np.array(
        [
            [c, 0, 0, -1j * cmath.exp(-1j * (a0 + a1)) * s],
            [0, c, -1j * cmath.exp(-1j * (a0 - a1)) * s, 0],
            [0, -1j * cmath.exp(1j * (a0 - a1)) * s, c, 0],
            [-1j * cmath.exp(1j * (a0 + a1)) * s, 0, 0, c],
        ],
        dtype=np.complex128,
    )


def zz(theta_turns: float) -> Matrix:
    """IonQ native ZZ(θ) = exp(-i π θ Z⊗Z), θ in turns."""
    a = math.pi * theta_turns
    return np.diag([cmath.exp(-1j * a), cmath.exp(1j * a), cmath.exp(1j * a), cmath.exp(-1j * a)]).astype(
        np.complex128
    )


def rxx(t: float) -> Matrix:
    c, s = math.cos(t / 2), math.sin(t / 2)
    return np.array([[c, 0, 0, -1j * s], [0, c, -1j * s, 0], [0, -1j * s, c, 0], [-1j * s, 0, 0, c]],
                    dtype=np.complex128)


def ryy(t: float) -> Matrix:
    c, s = math.cos(t / 2), math.sin(t / 2)
    return np.array([[c, 0, 0, 1j * s], [0, c, -1j * s, 0], [0, -1j * s, c, 0], [1j * s, 0, 0, c]],
                    dtype=np.complex128)


def rzz(t: float) -> Matrix:
    e, f = cmath.exp(-0.5j * t), cmath.exp(0.5j * t)
    return np.diag([e, f, f, e]).astype(np.complex128)
