"""`ionq.circuit.v1` on the simulator: the exact `ionq.quantum-results.v1` histogram."""

from __future__ import annotations

from typing import Any

import numpy as np

from kuantum_solvers.circuits.statevector import Progress, probabilities, simulate
from kuantum_solvers.formats.circuits.ionq import parse_circuit

HISTOGRAM_EPS = 1e-12


def run_ionq(document: Any, progress: Progress | None = None) -> dict[str, Any]:
    circuit = parse_circuit(document)
    psi = simulate(circuit, progress=progress)
    probs = probabilities(psi)
    nz = np.flatnonzero(probs > HISTOGRAM_EPS)
    return {"histogram": {str(int(i)): float(probs[i]) for i in nz}}
