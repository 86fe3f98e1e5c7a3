"""Pasqal targets on pulser-simulation: the sequence's final state by qutip's solver (QutipBackendV2,
noiseless), then `shots` samples of it with our seeded generator.

Output `pasqal.pulser-results.v1`: `{"counter": {"<bitstring>": count}}` — what azure-quantum's
`azure.quantum.target.pasqal.Result` reads (`raw["counter"]`). Bitstrings follow pulser's own samples:
one character per atom in register order, "1" for the measurement basis's excited state (r in the
ground-rydberg basis, h in digital, d in XY), "0" otherwise.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from kuantum_solvers.pasqal.sequence import load_sequence
from kuantum_solvers.resources import require_memory

Progress = Callable[[str], None]
_ONE_STATE = {"ground-rydberg": "r", "digital": "h", "XY": "d"}


def final_probabilities(seq: Any) -> dict[str, float]:
    """pulser-simulation's final-state probabilities, keyed by bitstring."""
    from pulser.backend import StateResult
    from pulser_simulation import QutipBackendV2, QutipConfig

    atoms = len(seq.register.qubit_ids)
    levels = 3 if len(seq.get_addressed_bases()) > 1 else 2
    # The Hamiltonian: one sparse term per atom and channel, plus the state and solver work space.
    needed = (levels**atoms) * 16 * (4 * atoms + 16)
    require_memory(needed, f"emulating {atoms} atoms")
    basis = seq.get_measurement_basis() if seq.is_measured() else _default_basis(seq)
    one = _ONE_STATE.get(basis, "r")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = QutipConfig(observables=[StateResult(evaluation_times=[1.0])])
        results = QutipBackendV2(seq, config=config).run()
        state: Any = results.final_state
        probabilities = state.probabilities()
    out: dict[str, float] = {}
    for labels, p in probabilities.items():
        key = "".join("1" if c == one else "0" for c in labels)
        out[key] = out.get(key, 0.0) + float(p)
    return out


def _default_basis(seq: Any) -> str:
    bases = seq.get_addressed_bases()
    return "ground-rydberg" if "ground-rydberg" in bases else ("digital" if "digital" in bases else "XY")


def run_pasqal(target: str, data: bytes, params: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
    seq = load_sequence(target, data)
    shots = int(params.get("shots") or 1)
    seed = params.get("seed")
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    if progress is not None:
        progress(f"pulser sequence on {seq.device.name}: {len(seq.register.qubit_ids)} atoms, "
                 f"{seq.get_duration()} ns, {shots} runs, seed {seed}")
    probabilities = final_probabilities(seq)
    return {"counter": sample(probabilities, shots, seed)}


def sample(probabilities: dict[str, float], shots: int, seed: int) -> dict[str, int]:
    keys = sorted(probabilities)
    p = np.array([probabilities[k] for k in keys], dtype=np.float64)
    counts = np.random.default_rng(seed).multinomial(shots, p / p.sum())
    return {k: int(c) for k, c in zip(keys, counts, strict=True) if c}
