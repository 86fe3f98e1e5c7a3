"""`pasqal.pulser.v1` input: `{"sequence_builder": <pulser abstract representation>}`.

azure-quantum 3.13's Pasqal target (azure/quantum/target/pasqal/target.py) uploads the job's input as
given, JSON-encoded, content type application/json; Azure's Pasqal samples build it as
`{"sequence_builder": json.loads(seq.to_abstract_repr())}` (an object), and the string itself is accepted
too. The sequence is rebuilt with pulser-core's `Sequence.from_abstract_repr`, which validates it
against the JSON schema and against the device embedded in it (atom count, distances, channels,
amplitudes, durations). On top of that, a target's own limits:
- every target: at most `qubits` atoms (what the state-vector emulation can hold), a built sequence
  (no free variables, no mappable register) with at least one pulse;
- `pasqal.qpu.fresnel` (emulated): what a QPU accepts (pulser's `mimic_qpu` checks: a real `Device`,
  a register from a layout where the device requires one) and the specification of the target's
  device, pulser's `AnalogDevice` (Fresnel's public specification), via `Sequence.switch_device`.
Light: pulser-core only, no emulator.
"""

from __future__ import annotations

from typing import Any

from kuantum_solvers.formats.errors import invalid_input
from kuantum_solvers.formats.pasqal import sequence_json
from kuantum_solvers.formats.targets import get_target


def _message(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:800] if text else type(exc).__name__


def load_sequence(target: str, data: bytes) -> Any:
    """The checked pulser Sequence for `target`; InvalidInputData naming what breaks which limit."""
    import warnings

    from pulser import Sequence

    text = sequence_json(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            seq = Sequence.from_abstract_repr(text)
        except Exception as exc:  # jsonschema.ValidationError, ValueError, TypeError, ... from pulser
            raise invalid_input(f"invalid pulser sequence: {_message(exc)}") from None
        check_sequence(target, seq)
        spec = get_target(target)
        if spec.get("device"):
            seq = _on_device(seq, str(spec["device"]))
    return seq


def check_sequence(target: str, seq: Any) -> None:
    spec = get_target(target)
    if seq.is_parametrized():
        names = ", ".join(sorted(seq.declared_variables))
        raise invalid_input(f"the sequence is parametrized (variables: {names}); build it with values "
                            "(seq.build(...)) before submission")
    if seq.is_register_mappable():
        raise invalid_input("the sequence's register is mappable (its atoms' positions are not fixed); "
                            "build it with a register (seq.build(qubits=...)) before submission")
    atoms = len(seq.register.qubit_ids)
    limit = int(spec["qubits"])
    if atoms > limit:
        raise invalid_input(f"the register has {atoms} atoms; {target} emulates at most {limit}")
    if seq.is_empty():
        raise invalid_input("the sequence has no pulse on any declared channel")
    if spec["kind"] == "qpu":
        from pulser.backend.abc import Backend

        try:
            Backend.validate_sequence(seq, mimic_qpu=True)
        except (TypeError, ValueError) as exc:
            raise invalid_input(f"{target}: {_message(exc)}") from None


def _on_device(seq: Any, device_name: str) -> Any:
    """The sequence rebuilt on the target's device: pulser checks the register and every pulse against it."""
    import pulser.devices

    device = getattr(pulser.devices, device_name)
    if seq.device == device:
        return seq
    try:
        return seq.switch_device(device)
    except Exception as exc:
        raise invalid_input(f"the sequence does not fit the target's device ({device_name}, built on "
                            f"{seq.device.name}): {_message(exc)}") from None
