"""Pasqal targets: pulser sequences emulated by pulser-simulation, results in pasqal.pulser-results.v1."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kuantum_solvers.cli import main
from kuantum_solvers.formats.errors import INVALID_INPUT_DATA, SolverError
from kuantum_solvers.formats.targets import validate_params
from kuantum_solvers.pasqal.run import final_probabilities, run_pasqal
from kuantum_solvers.pasqal.sequence import load_sequence
from scipy.stats import chisquare

EMU_SV = "pasqal.sim.emu-sv"
FRESNEL = "pasqal.qpu.fresnel"
OMEGA = 2 * math.pi  # rad/µs


def sequence(coords: list[tuple[float, float]], duration: int, device: str = "MockDevice",
             layout: bool = False) -> Any:
    import pulser.devices
    from pulser import Pulse, Register, Sequence

    if layout:
        from pulser.register.special_layouts import TriangularLatticeLayout

        reg = TriangularLatticeLayout(61, 6).define_register(*range(len(coords)))
    else:
        reg = Register.from_coordinates(coords, prefix="q")
    seq = Sequence(reg, getattr(pulser.devices, device))
    seq.declare_channel("ryd", "rydberg_global")
    seq.add(Pulse.ConstantPulse(duration, OMEGA, 0, 0), "ryd")
    return seq


def document(seq: Any, as_string: bool = False) -> bytes:
    builder = seq.to_abstract_repr()
    return json.dumps({"sequence_builder": builder if as_string else json.loads(builder)}).encode()


def run(seq: Any, params: dict[str, Any], target: str = EMU_SV) -> dict[str, Any]:
    return run_pasqal(target, document(seq), validate_params(target, params))


def chi2_ok(counts: dict[str, int], probs: dict[str, float], shots: int) -> None:
    keys = [k for k, p in probs.items() if p * shots > 1e-3]
    assert set(counts) <= set(keys), (counts, probs)
    observed = [counts.get(k, 0) for k in keys]
    expected = np.array([probs[k] for k in keys]) * shots
    assert chisquare(observed, expected * sum(observed) / expected.sum()).pvalue > 1e-3, (observed, expected)


def test_rabi_oscillation_exact() -> None:
    # One atom driven at Ω for t: P(r) = sin²(Ωt/2); 250 ns at 2π rad/µs → 1/2, 500 ns → 1.
    half = run(sequence([(0, 0)], 250), {"runs": 4000, "seed": 1})
    assert set(half) == {"counter"}
    chi2_ok(half["counter"], {"0": 0.5, "1": 0.5}, 4000)
    p = final_probabilities(load_sequence(EMU_SV, document(sequence([(0, 0)], 500))))
    assert p.get("1", 0) == pytest.approx(1.0, abs=1e-5)


def test_independent_atoms_product_distribution() -> None:
    # Atoms 60 µm apart barely interact: each flips independently with sin²(Ωt/2), t = 160 ns.
    p1 = math.sin(OMEGA * 0.16 / 2) ** 2
    out = run(sequence([(0, 0), (60, 0)], 160), {"shots": 5000, "seed": 3})
    probs = {f"{a}{b}": (p1 if a else 1 - p1) * (p1 if b else 1 - p1) for a in (0, 1) for b in (0, 1)}
    chi2_ok(out["counter"], probs, 5000)
    assert sum(out["counter"].values()) == 5000


def test_blockade_matches_pulsers_own_sampling_distribution() -> None:
    # Strongly interacting atoms: our probabilities are those of pulser-simulation's legacy QutipEmulator
    # path (another solver configuration: equal to the ODE tolerance).
    import warnings

    from pulser_simulation import QutipEmulator

    seq = sequence([(0, 0), (5, 0), (10, 0)], 700)
    ours = final_probabilities(load_sequence(EMU_SV, document(seq, as_string=True)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = QutipEmulator.from_sequence(seq).run()[-1].sampling_dist
    for key in set(ours) | set(theirs):
        assert ours.get(key, 0.0) == pytest.approx(float(theirs.get(key, 0.0)), abs=1e-5)  # ODE tolerance
    out = run(seq, {"shots": 3000, "seed": 9})
    chi2_ok(out["counter"], ours, 3000)


def test_seed_reproducible_and_sdk_result_shape() -> None:
    seq = sequence([(0, 0), (7, 0)], 300)
    a, b = run(seq, {"shots": 200, "seed": 4}), run(seq, {"shots": 200, "seed": 4})
    assert a == b
    raw = json.loads(json.dumps(a))
    data = raw.get("counter", raw)  # as azure.quantum.target.pasqal.Result reads it
    assert all(len(k) == 2 and set(k) <= {"0", "1"} and isinstance(v, int) for k, v in data.items())


def test_fresnel_accepts_a_qpu_sequence_on_its_device(tmp_path: Path) -> None:
    seq = sequence([(0, 0)] * 3, 200, device="AnalogDevice", layout=True)
    src = tmp_path / "in.json"
    src.write_bytes(document(seq))
    out = tmp_path / "out.json"
    assert main(["--target", FRESNEL, "--input", str(src), "--output", str(out), "--params",
                 '{"shots": 50, "seed": 1}']) == 0
    assert sum(json.loads(out.read_text())["counter"].values()) == 50


@pytest.mark.parametrize(("make", "target", "fragment"), [
    (lambda: sequence([(0, 0), (6, 0)], 100), FRESNEL, "must be a real device"),
    (lambda: sequence([(float(7 * i), 0.0) for i in range(21)], 100), EMU_SV,
     "the register has 21 atoms; pasqal.sim.emu-sv emulates at most 20"),
])
def test_device_limits(make: Any, target: str, fragment: str) -> None:
    with pytest.raises(SolverError) as info:
        load_sequence(target, document(make()))
    assert info.value.code == INVALID_INPUT_DATA
    assert fragment in info.value.message


def test_pulser_validates_against_the_sequences_device() -> None:
    # Atoms 1 µm apart break AnalogDevice's minimum distance: pulser refuses when rebuilding the sequence.
    doc = json.loads(document(sequence([(0, 0), (6, 0)], 100, device="AnalogDevice")))
    doc["sequence_builder"]["register"][1]["x"] = 1.0
    with pytest.raises(SolverError, match="invalid pulser sequence"):
        load_sequence(EMU_SV, json.dumps(doc).encode())


def test_parametrized_sequence_refused() -> None:
    from pulser import Pulse, Register, Sequence
    from pulser.devices import MockDevice

    seq = Sequence(Register.from_coordinates([(0, 0)], prefix="q"), MockDevice)
    t = seq.declare_variable("t", dtype=int)
    seq.declare_channel("ryd", "rydberg_global")
    seq.add(Pulse.ConstantPulse(t, OMEGA, 0, 0), "ryd")
    with pytest.raises(SolverError, match=r"parametrized \(variables: t\)"):
        load_sequence(EMU_SV, document(seq))


@pytest.mark.parametrize(("data", "fragment"), [
    (b"{}", "{\"sequence_builder\""),
    (b'{"sequence_builder": 3}', "got int"),
    (b'{"sequence_builder": {"version": "1"}}', "invalid pulser sequence"),
    (b"not json", "JSON"),
])
def test_bad_documents(data: bytes, fragment: str) -> None:
    with pytest.raises(SolverError) as info:
        load_sequence(EMU_SV, data)
    assert info.value.code == INVALID_INPUT_DATA
    assert fragment in info.value.message


def test_the_atom_limit_itself_is_allowed() -> None:
    seq = load_sequence(EMU_SV, document(sequence([(float(7 * i), 0.0) for i in range(20)], 100)))
    assert len(seq.register.qubit_ids) == 20


def test_a_qpu_sequence_built_on_another_device_is_moved_to_the_targets_device() -> None:
    import pulser.devices

    seq = load_sequence(FRESNEL, document(sequence([(0, 0)] * 3, 200, device="DigitalAnalogDevice", layout=True)))
    assert seq.device == pulser.devices.AnalogDevice
    same = load_sequence(FRESNEL, document(sequence([(0, 0)] * 3, 200, device="AnalogDevice", layout=True)))
    assert same.device == pulser.devices.AnalogDevice


def test_a_sequence_the_targets_device_cannot_run_is_refused_naming_both_devices() -> None:
    import pulser.devices
    from pulser import Pulse, Sequence
    from pulser.register.special_layouts import TriangularLatticeLayout

    reg = TriangularLatticeLayout(61, 6).define_register(0, 1)
    seq = Sequence(reg, pulser.devices.DigitalAnalogDevice)
    seq.declare_channel("raman", "raman_local", initial_target=reg.qubit_ids[0])  # AnalogDevice has no Raman
    seq.add(Pulse.ConstantPulse(200, 1.0, 0, 0), "raman")
    with pytest.raises(SolverError) as info:
        load_sequence(FRESNEL, document(seq))
    assert info.value.code == INVALID_INPUT_DATA
    assert info.value.message.startswith("the sequence does not fit the target's device (AnalogDevice, built on "
                                         "DigitalAnalogDevice): ")


def test_pulsers_messages_are_one_line_of_at_most_800_characters() -> None:
    from kuantum_solvers.pasqal.sequence import _message

    assert _message(ValueError("a\n  b\tc")) == "a b c"
    assert _message(ValueError("x" * 801)) == "x" * 800
    assert _message(ValueError("x" * 800)) == "x" * 800
    assert _message(ValueError("")) == "ValueError"
