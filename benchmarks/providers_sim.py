"""Rigetti and Pasqal jobs: ours (kuantum-solvers' engines) vs the provider's own Python simulator, one run.

- Quil: a random circuit (layers of RX/RY/RZ on every qubit, then CZ/CNOT on random pairs; every qubit
  measured at the end) at 10, 16 and 20 qubits, 1,000 shots. Ours: `run_rigetti` on the Quil text
  (parse with quil-rs, statevector simulation, sampling). Theirs: pyquil's `NumpyWavefunctionSimulator`
  on the same program (gates applied once, then `sample_bitstrings`), as a PyQVM user would run it.
- pulser: atoms in a line 7 µm apart under a global Rydberg ramp (1 µs detuning sweep at constant Rabi
  frequency), 1,000 shots. Ours: `run_pasqal` on the abstract representation (pulser-core rebuild and
  device checks, pulser-simulation's QutipBackendV2, seeded sampling). Theirs: pulser-simulation's
  `QutipEmulator` on the Sequence object, `sample_final_state(1000)`. Both integrate the same Hamiltonian
  with qutip, so this ratio is our overhead (parsing, checks, formats), not a different engine. Sizes:
  8, 10 and 12 atoms by default — qutip's state-vector emulation took 23 s for 16 atoms on the dev
  machine (2 cores) and grows about 8x per two atoms, so 16 and 20 (pass --atoms) take minutes per side.

Ratios are ours / theirs from the same run (< 1: ours faster).

    .venv-bench/bin/python benchmarks/providers_sim.py [--qubits 10 16 20] [--atoms 8 10 12] [--shots 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
import warnings


def quil_program(qubits: int, depth: int, seed: int) -> str:
    rng = random.Random(seed)
    lines = [f"DECLARE ro BIT[{qubits}]"]
    for _ in range(depth):
        for q in range(qubits):
            lines.append(f"{rng.choice(['RX', 'RY', 'RZ'])}({rng.uniform(0, 6.283):.6f}) {q}")
        order = list(range(qubits))
        rng.shuffle(order)
        for a, b in zip(order[::2], order[1::2], strict=False):
            lines.append(f"{rng.choice(['CZ', 'CNOT'])} {a} {b}")
    lines += [f"MEASURE {q} ro[{q}]" for q in range(qubits)]
    return "\n".join(lines) + "\n"


def bench_quil(qubits: int, shots: int, depth: int) -> tuple[float, float]:
    import numpy as np
    from kuantum_solvers.formats.targets import validate_params
    from kuantum_solvers.rigetti.run import run_rigetti
    from pyquil import Program
    from pyquil.simulation import NumpyWavefunctionSimulator

    text = quil_program(qubits, depth, seed=qubits)
    params = validate_params("rigetti.sim.qvm", {"shots": shots, "seed": 1})
    # numba warm-up (kernels compile on first use), not timed
    run_rigetti("rigetti.sim.qvm", "rigetti.quil.v1", quil_program(qubits, 2, 0).encode(), params)
    start = time.perf_counter()
    ours = run_rigetti("rigetti.sim.qvm", "rigetti.quil.v1", text.encode(), params)
    ours_s = time.perf_counter() - start
    assert len(ours["ro"]) == shots
    gates = "\n".join(line for line in text.splitlines() if not line.startswith(("DECLARE", "MEASURE")))
    start = time.perf_counter()
    wfs = NumpyWavefunctionSimulator(n_qubits=qubits, rs=np.random.RandomState(1))
    wfs.do_program(Program(gates))
    theirs = wfs.sample_bitstrings(shots)
    theirs_s = time.perf_counter() - start
    assert theirs.shape == (shots, qubits)
    return ours_s, theirs_s


def pulser_sequence(atoms: int) -> object:
    import numpy as np
    from pulser import Pulse, Register, Sequence
    from pulser.devices import MockDevice
    from pulser.waveforms import RampWaveform

    reg = Register.from_coordinates([(7.0 * i, 0.0) for i in range(atoms)], prefix="q")
    seq = Sequence(reg, MockDevice)
    seq.declare_channel("ryd", "rydberg_global")
    omega = 2 * np.pi * 2
    seq.add(Pulse.ConstantDetuning(RampWaveform(300, 0, omega), -omega, 0), "ryd")
    seq.add(Pulse.ConstantAmplitude(omega, RampWaveform(1000, -omega, omega), 0), "ryd")
    return seq


def bench_pulser(atoms: int, shots: int) -> tuple[float, float]:
    from kuantum_solvers.formats.targets import validate_params
    from kuantum_solvers.pasqal.run import run_pasqal
    from pulser_simulation import QutipEmulator

    seq = pulser_sequence(atoms)
    doc = json.dumps({"sequence_builder": json.loads(seq.to_abstract_repr())}).encode()  # type: ignore[attr-defined]
    params = validate_params("pasqal.sim.emu-sv", {"shots": shots, "seed": 1})
    start = time.perf_counter()
    ours = run_pasqal("pasqal.sim.emu-sv", doc, params)
    ours_s = time.perf_counter() - start
    assert sum(ours["counter"].values()) == shots
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = QutipEmulator.from_sequence(seq).run().sample_final_state(shots)
    theirs_s = time.perf_counter() - start
    assert sum(theirs.values()) == shots
    return ours_s, theirs_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--qubits", type=int, nargs="*", default=[10, 16, 20])
    parser.add_argument("--atoms", type=int, nargs="*", default=[8, 10, 12])
    parser.add_argument("--shots", type=int, default=1000)
    parser.add_argument("--depth", type=int, default=20)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # pyquil's and pulser's deprecation notices
    print(f"{'job':<34} {'ours s':>9} {'theirs s':>9} {'ours/theirs':>12}")
    for n in args.qubits:
        ours, theirs = bench_quil(n, args.shots, args.depth)
        label = f"Quil {n} qubits, depth {args.depth}"
        print(f"{label:<34} {ours:9.3f} {theirs:9.3f} {ours / theirs:11.3f}x   (pyquil NumpyWavefunctionSimulator)")
    for n in args.atoms:
        ours, theirs = bench_pulser(n, args.shots)
        label = f"pulser {n} atoms, 1.3 us"
        print(f"{label:<34} {ours:9.3f} {theirs:9.3f} {ours / theirs:11.3f}x   (pulser-simulation QutipEmulator)")


if __name__ == "__main__":
    main()
