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
    for provider in ("microsoft-qio", "kuantum", "ionq", "quantinuum", "rigetti", "pasqal", "microsoft-qc"):
        for target_id, target in targets_of(provider).items():
            resolved = resolve(spec(target_id), provider)
            assert resolved.input_format == target.default_input_format
            assert resolved.output_format == target.output_format_for(target.default_input_format)


# ---------------------------------------------------------------------------- Rigetti, Pasqal, the estimator
QVM, CEPHEUS = "rigetti.sim.qvm", "rigetti.qpu.cepheus-1-108q"
EMU_SV, FRESNEL = "pasqal.sim.emu-sv", "pasqal.qpu.fresnel"
ESTIMATOR = "microsoft.estimator"


@pytest.mark.parametrize("target", [QVM, CEPHEUS])
def test_rigetti_formats_and_the_sdks_parameters(target: str) -> None:
    resolved = resolve(spec(target), "rigetti")
    assert (resolved.input_format, resolved.output_format) == ("rigetti.quil.v1", "rigetti.quil-results.v1")
    # what azure.quantum.target.rigetti.Rigetti.submit sends for InputParams(count=4, skip_quilc=True, substitutions)
    params = {"shots": 4, "skipQuilc": True, "substitutions": {"theta": [[0.0, 1.5], [3.1, 0]]}}
    assert resolve(spec(target, inputParams=params), "rigetti").params == params
    assert resolve(spec(target, inputParams={"count": 4}), "rigetti").params == {"count": 4}
    qir = resolve(spec(target, inputDataFormat="qir.v1", inputParams={"entryPoint": "ENTRYPOINT__main",
                                                                       "arguments": [], "shots": 3}), "rigetti")
    assert qir.output_format == "microsoft.quantum-results.v2"
    assert resolve(spec(target, inputDataFormat="rigetti.qir.v1"), "rigetti").output_format == \
        "microsoft.quantum-results.v2"


@pytest.mark.parametrize(("params", "code", "fragment"), [
    ({"shots": 0}, "InvalidParameters", "'shots'=0 is out of range"),
    ({"count": 2, "shots": 3}, "InvalidParameters", "'count' and 'shots' disagree"),
    ({"skipQuilc": "yes"}, "InvalidParameters", "'skipQuilc' must be true or false"),
    ({"substitutions": {"theta": [[1.0], [2.0]], "beta": [[1.0]]}}, "InvalidParameters", "the same number of rows"),
    ({"substitutions": {"theta": [["pi"]]}}, "InvalidParameters", "substitutions['theta'][0][0] must be a finite"),
    ({"substitutions": [1]}, "InvalidParameters", "must be an object"),
    ({"noise": True}, "InvalidParameters", "unknown parameter(s) ['noise']"),
])
def test_bad_rigetti_parameters_fail_before_a_pod(params: dict[str, Any], code: str, fragment: str) -> None:
    err = _invalid(spec(QVM, inputParams=params), "rigetti")
    assert (err.code, fragment in err.message) == (code, True), err.message


def test_rigetti_refuses_other_formats() -> None:
    assert _invalid(spec(QVM, inputDataFormat="ionq.circuit.v1"), "rigetti").code == "InvalidInputFormat"
    assert _invalid(spec(QVM, outputDataFormat="microsoft.quantum-results.v2"), "rigetti").code == \
        "InvalidOutputFormat"


@pytest.mark.parametrize("target", [EMU_SV, FRESNEL])
def test_pasqal_formats_and_runs(target: str) -> None:
    resolved = resolve(spec(target, inputParams={"shots": 100}), "pasqal")
    assert (resolved.input_format, resolved.output_format) == ("pasqal.pulser.v1", "pasqal.pulser-results.v1")
    assert resolve(spec(target, inputParams={"runs": 7}), "pasqal").params == {"runs": 7}  # Pasqal's InputParams
    assert _invalid(spec(target, inputParams={"runs": 0}), "pasqal").code == "InvalidParameters"
    assert _invalid(spec(target, inputParams={"shots": 2, "runs": 3}), "pasqal").code == "InvalidParameters"
    assert _invalid(spec(target, inputDataFormat="rigetti.quil.v1"), "pasqal").code == "InvalidInputFormat"


def test_estimator_formats_and_parameters() -> None:
    params = {"errorBudget": 0.01, "qubitParams": {"name": "qubit_maj_ns_e6"}, "qecScheme": {"name": "floquet_code"},
              "constraints": {"maxTFactories": 4}, "items": [{"errorBudget": 0.001}, {"errorBudget": {
                  "logical": 0.001, "tStates": 0.002, "rotations": 0.003}}]}
    resolved = resolve(spec(ESTIMATOR, inputParams=params), "microsoft-qc")
    assert (resolved.input_format, resolved.output_format) == ("qir.v1", "microsoft.resource-estimates.v1")
    assert resolved.params == params
    # a Q# program submitted through the SDK's generic Target asks for Azure's QIR results: the estimator writes
    # resource estimates only, and says so
    err = _invalid(spec(ESTIMATOR, outputDataFormat="microsoft.quantum-results.v2"), "microsoft-qc")
    assert err.code == "InvalidOutputFormat" and "microsoft.resource-estimates.v1" in err.message


@pytest.mark.parametrize(("params", "fragment"), [
    ({"errorBudget": 1.5}, "errorBudget must be a number in (0, 1)"),
    ({"errorBudget": 0}, "errorBudget must be a number in (0, 1)"),
    ({"errorBudget": {"logical": 0.5, "tStates": 0.6}}, "errorBudget: the parts must add up to a value in (0, 1)"),
    ({"qubitParams": {"name": "qubit_gate_ps_e9"}}, "qubitParams.name: unknown qubit model"),
    ({"qecScheme": {"name": "color_code"}}, "qecScheme.name: unknown QEC scheme"),
    ({"qecScheme": {"name": "floquet_code"}}, "floquet_code needs a Majorana qubit model"),
    ({"items": [{"errorBudget": 2}]}, "items[0].errorBudget"),
])
def test_bad_estimator_parameters_name_the_parameter(params: dict[str, Any], fragment: str) -> None:
    err = _invalid(spec(ESTIMATOR, inputParams=params), "microsoft-qc")
    assert err.code == "InvalidInputData"
    assert fragment in err.message, err.message
