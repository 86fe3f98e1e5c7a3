"""The circuit model the readers build and the simulator runs: gates in order, each a unitary on its target
qubits applied where all its control qubits are 1 (qubit 0 = least significant bit)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

# The most qubits a program may use: what the statevector simulator holds (16 bytes x 2^40 = 16 TiB), so a
# reader refuses a larger program before anything runs it.
MAX_QUBITS = 40


@dataclass
class Gate:
    """A unitary on `targets` (1 or 2 qubits; matrix little-endian in target order), applied
    only where all `controls` are 1."""

    targets: tuple[int, ...]
    matrix: npt.NDArray[np.complex128]
    controls: tuple[int, ...] = ()


@dataclass
class Circuit:
    qubits: int
    gates: list[Gate] = field(default_factory=list)
