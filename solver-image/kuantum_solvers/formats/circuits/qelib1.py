"""The standard OpenQASM 2 gate library (qelib1.inc) as matrices: name → (parameter count,
number of control qubits, number of target qubits, matrix builder). Controls come first in the
qubit argument list, as in qelib1's definitions."""

from __future__ import annotations

import cmath
from collections.abc import Callable

import numpy as np

from kuantum_solvers.formats.circuits import gates as g

Builder = Callable[..., np.ndarray]


def _cu(theta: float, phi: float, lam: float, gamma: float) -> np.ndarray:
    return cmath.exp(1j * gamma) * g.u3(theta, phi, lam)


_SWAP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.complex128)

# name: (n_params, n_controls, n_targets, builder)
QELIB1: dict[str, tuple[int, int, int, Builder]] = {
    "U": (3, 0, 1, g.u3),
    "CX": (0, 1, 1, lambda: g.X),
    "u3": (3, 0, 1, g.u3),
    "u": (3, 0, 1, g.u3),
    "u2": (2, 0, 1, lambda phi, lam: g.u3(np.pi / 2, phi, lam)),
    "u1": (1, 0, 1, g.phase),
    "p": (1, 0, 1, g.phase),
    "u0": (1, 0, 1, lambda _gamma: g.I2),
    "id": (0, 0, 1, lambda: g.I2),
    "x": (0, 0, 1, lambda: g.X),
    "y": (0, 0, 1, lambda: g.Y),
    "z": (0, 0, 1, lambda: g.Z),
    "h": (0, 0, 1, lambda: g.H),
    "s": (0, 0, 1, lambda: g.S),
    "sdg": (0, 0, 1, lambda: g.SDG),
    "t": (0, 0, 1, lambda: g.T),
    "tdg": (0, 0, 1, lambda: g.TDG),
    "sx": (0, 0, 1, lambda: g.SX),
    "sxdg": (0, 0, 1, lambda: g.SXDG),
    "rx": (1, 0, 1, g.rx),
    "ry": (1, 0, 1, g.ry),
    "rz": (1, 0, 1, g.rz),
    "cx": (0, 1, 1, lambda: g.X),
    "cy": (0, 1, 1, lambda: g.Y),
    "cz": (0, 1, 1, lambda: g.Z),
    "ch": (0, 1, 1, lambda: g.H),
    "csx": (0, 1, 1, lambda: g.SX),
    "crx": (1, 1, 1, g.rx),
    "cry": (1, 1, 1, g.ry),
    "crz": (1, 1, 1, g.rz),
    "cu1": (1, 1, 1, g.phase),
    "cp": (1, 1, 1, g.phase),
    "cu3": (3, 1, 1, g.u3),
    "cu": (4, 1, 1, _cu),
    "ccx": (0, 2, 1, lambda: g.X),
    "c3x": (0, 3, 1, lambda: g.X),
    "c4x": (0, 4, 1, lambda: g.X),
    "c3sqrtx": (0, 3, 1, lambda: g.SX),
    "swap": (0, 0, 2, lambda: _SWAP),
    "cswap": (0, 1, 2, lambda: _SWAP),
    "rxx": (1, 0, 2, g.rxx),
    "ryy": (1, 0, 2, g.ryy),
    "rzz": (1, 0, 2, g.rzz),
}
