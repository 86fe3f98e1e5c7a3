"""Job validation against its provider's target."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from kuantum.catalog import targets_of
from kuantum.jobs.validation import JobInvalid, resolve
from kuantum.models import QuantumJobSpec

SA = "microsoft.simulatedannealing.cpu"


def spec(target: str = SA, **extra: Any) -> QuantumJobSpec:
    return QuantumJobSpec.model_validate({"workspace": "ws", "provider": "microsoft-qio", "target": target,
                                          "input": {"inline": {"cost_function": {}}}, **extra})


def _invalid(s: QuantumJobSpec, provider: str = "microsoft-qio") -> JobInvalid:
    with pytest.raises(JobInvalid) as info:
        resolve(s, provider)
    return info.value


def test_defaults_come_from_the_target() -> None:
    resolved = resolve(spec(), "microsoft-qio")
    assert resolved.target.id == SA
    assert resolved.input_format == "microsoft.qio.v2"
    assert resolved.output_format == "microsoft.qio-results.v2"
    assert resolved.params == {}


def test_a_resolution_cannot_be_changed_by_its_users() -> None:
    resolved = resolve(spec(), "microsoft-qio")
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolved.output_format = "microsoft.qio-results.v1"


def test_qir_input_defaults_to_the_first_of_several_output_formats() -> None:
    for provider, target in (("kuantum", "kuantum.simulator"), ("ionq", "ionq.simulator"),
                             ("quantinuum", "quantinuum.sim.h2-1e")):
        qir = spec(target, inputDataFormat="qir.v1", inputParams={"shots": 10})
        assert resolve(qir, provider).output_format == "microsoft.quantum-results.v2"
        older = spec(target, inputDataFormat="qir.v1", outputDataFormat="microsoft.quantum-results.v1",
                     inputParams={"shots": 10})
        assert resolve(older, provider).output_format == "microsoft.quantum-results.v1"


def test_explicit_matching_formats_and_params() -> None:
    params = {"params": {"sweeps": 100, "seed": 3}}
    resolved = resolve(spec(inputDataFormat="microsoft.qio.v2", outputDataFormat="microsoft.qio-results.v2",
                            inputParams=params), "microsoft-qio")
    assert resolved.params == params


def test_unknown_target_names_the_providers_targets() -> None:
    err = _invalid(spec("microsoft.nosuchsolver.cpu"))
    assert err.code == "InvalidTarget"
    assert "microsoft.nosuchsolver.cpu" in err.message
    for target_id in targets_of("microsoft-qio"):
        assert target_id in err.message
    assert "kuantum.simulator" not in err.message
    assert str(err) == err.message


def test_target_of_another_provider_is_invalid() -> None:
    err = _invalid(spec("kuantum.simulator"))
    assert err.code == "InvalidTarget"
    err = _invalid(spec(SA), "ionq")
    assert err.code == "InvalidTarget"
    assert "ionq.simulator" in err.message


def test_wrong_input_format() -> None:
    err = _invalid(spec(inputDataFormat="ionq.circuit.v1"))
    assert err.code == "InvalidInputFormat"
    assert "ionq.circuit.v1" in err.message and "microsoft.qio.v2" in err.message


def test_wrong_output_format() -> None:
    err = _invalid(spec(outputDataFormat="ionq.quantum-results.v1"))
    assert err.code == "InvalidOutputFormat"
    assert "ionq.quantum-results.v1" in err.message and "microsoft.qio-results.v2" in err.message


def test_simulator_output_format_follows_input_format() -> None:
    s = spec("kuantum.simulator", inputDataFormat="honeywell.openqasm.v1", inputParams={"shots": 10})
    resolved = resolve(s, "kuantum")
    assert resolved.output_format == "honeywell.quantum-results.v1"
    assert resolve(spec("kuantum.simulator"), "kuantum").output_format == "ionq.quantum-results.v1"
    err = _invalid(spec("kuantum.simulator", inputDataFormat="honeywell.openqasm.v1",
                        outputDataFormat="ionq.quantum-results.v1"), "kuantum")
    assert err.code == "InvalidOutputFormat"


@pytest.mark.parametrize("params", [
    {"params": {"sweeps": 0}},
    {"params": {"sweeps": 10**12}},
    {"params": {"sweeps": "many"}},
    {"params": {"beta_start": 0}},
    {"params": {"nonsense": 1}},
    {"nonsense": 1},
    {"params": {"sweeps": 10}, "extra": 1},
])
def test_bad_params_are_invalid_parameters(params: dict[str, Any]) -> None:
    err = _invalid(spec(inputParams=params))
    assert err.code == "InvalidParameters"
    assert err.message


def test_unknown_param_message_names_it() -> None:
    err = _invalid(spec(inputParams={"params": {"nonsense": 1}}))
    assert "nonsense" in err.message


def test_simulator_params() -> None:
    assert resolve(spec("kuantum.simulator", inputParams={"shots": 5}), "kuantum").params == {"shots": 5}
    assert resolve(spec("kuantum.simulator", inputParams={"count": 5}), "kuantum").params == {"count": 5}
    assert _invalid(spec("kuantum.simulator", inputParams={"shots": 0}), "kuantum").code == "InvalidParameters"


def test_remote_targets_are_not_validated_locally() -> None:
    resolved = resolve(spec("ionq.simulator", inputParams={"shots": 100, "anything": True}), "ionq")
    assert resolved.target.local is False
    assert resolved.input_format == "ionq.circuit.v1"
    assert resolved.output_format == "ionq.quantum-results.v1"
    assert resolved.params == {"shots": 100, "anything": True}
    resolved = resolve(spec("quantinuum.qpu.h2-1"), "quantinuum")
    assert resolved.input_format == "honeywell.openqasm.v1"
    assert resolved.target.local is False


def test_every_target_resolves_with_defaults() -> None:
    for provider in ("microsoft-qio", "kuantum", "ionq", "quantinuum"):
        for target_id, target in targets_of(provider).items():
            resolved = resolve(spec(target_id), provider)
            assert resolved.input_format == target.default_input_format
            assert resolved.output_format == target.output_format_for(target.default_input_format)
