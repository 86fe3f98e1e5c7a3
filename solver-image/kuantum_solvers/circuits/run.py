"""Entry point for the `kuantum.simulator` target."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from kuantum_solvers.formats.errors import INVALID_INPUT_FORMAT, SolverError, invalid_input
from kuantum_solvers.formats.jsonio import load_json
from kuantum_solvers.formats.targets import HONEYWELL_QASM, IONQ_INPUT, QIR_INPUT, QUANTINUUM_QASM
from kuantum_solvers.resources import available_cores


def _configure_threads() -> None:
    import numba

    numba.set_num_threads(max(1, min(available_cores(), numba.config.NUMBA_NUM_THREADS)))


def run_circuit(input_format: str, data: bytes, params: dict[str, Any],
                progress: Callable[[str], None] | None = None, output_format: str | None = None) -> dict[str, Any]:
    _configure_threads()
    if input_format == QIR_INPUT:  # bitcode: binary, so before the UTF-8 decoding below
        from kuantum_solvers.circuits.qir import run_qir

        return run_qir(data, params, output_format, progress)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid_input(f"input is not UTF-8 text: {exc}") from exc
    if input_format == IONQ_INPUT:
        from kuantum_solvers.circuits.ionq import run_ionq

        return run_ionq(load_json(text), progress)
    if input_format in (HONEYWELL_QASM, QUANTINUUM_QASM):
        from kuantum_solvers.circuits.qasm import run_qasm

        seed = params.get("seed")
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
        shots = int(params.get("shots") or 100)
        if progress is not None:
            progress(f"simulating OpenQASM program, {shots} shots, seed {seed}")
        return run_qasm(text, shots, seed, progress)
    raise SolverError(INVALID_INPUT_FORMAT, f"the simulator does not accept input format {input_format!r}")
