from __future__ import annotations

import pytest
from kuantum_solvers.formats.errors import INVALID_PARAMETERS, UNKNOWN_TARGET, SolverError
from kuantum_solvers.formats.targets import CONTENT_TYPES, TARGETS, default_output_format, validate_params

SA = "microsoft.simulatedannealing.cpu"


def test_catalog_is_plain_data() -> None:
    import json

    json.dumps(TARGETS)  # serialisable, no objects
    for target_id, spec in TARGETS.items():
        assert spec["kind"] in ("solver", "simulator", "qpu", "estimator")
        assert spec["input_formats"] and spec["output_format"]
        assert spec["provider"] in ("microsoft-qio", "kuantum", "rigetti", "pasqal", "microsoft-qc")
        # A QPU id is an emulation of the hardware on a local simulator, and says so.
        assert spec.get("emulated", False) is (spec["kind"] == "qpu")
        for fmt in spec["input_formats"]:
            assert fmt in CONTENT_TYPES, (target_id, fmt)
        for name, p in spec["params"].items():
            assert p["type"] in ("int", "float", "schedule", "float_list", "string", "list", "bool", "json",
                                 "substitutions"), (target_id, name)


def test_one_catalog_for_every_provider() -> None:
    providers = {spec["provider"] for spec in TARGETS.values()}
    assert providers == {"microsoft-qio", "kuantum", "rigetti", "pasqal", "microsoft-qc"}
    assert TARGETS["microsoft.estimator"]["kind"] == "estimator"
    assert {t for t, spec in TARGETS.items() if spec["kind"] == "qpu"} == {
        "rigetti.qpu.cepheus-1-108q", "pasqal.qpu.fresnel"}
    # as azure-quantum 3.13's target classes upload them
    assert CONTENT_TYPES["rigetti.quil.v1"] == "text/plain"
    assert CONTENT_TYPES["pasqal.pulser.v1"] == "application/json"
    assert CONTENT_TYPES["qir.v1"] == "qir.v1"


def test_nested_params_and_defaults() -> None:
    params = validate_params(SA, {"params": {"sweeps": 10, "beta_start": 0.5, "seed": 3}})
    assert params["sweeps"] == 10 and params["beta_start"] == 0.5 and params["seed"] == 3
    assert params["restarts"] is None  # chosen at run time
    assert validate_params(SA, None)["sweeps"] == 1000
    assert validate_params(SA, {})["sweeps"] == 1000


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"params": {"swepes": 1}}, "unknown parameter(s) ['swepes']"),
        ({"params": {"sweeps": 0}}, "'sweeps'=0 is out of range; allowed range [1, 1000000000]"),
        ({"params": {"sweeps": "many"}}, "'sweeps' must be an integer"),
        ({"params": {"sweeps": True}}, "'sweeps' must be an integer"),
        ({"params": {"beta_start": 0}}, "allowed range (0.0"),
        ({"params": {"beta_stop": float("nan")}}, "must be finite"),
        ({"params": []}, "inputParams.params must be a JSON object"),
        ([1], "inputParams must be a JSON object"),
    ],
)
def test_bad_params(params: object, fragment: str) -> None:
    with pytest.raises(SolverError) as info:
        validate_params(SA, params)
    assert info.value.code == INVALID_PARAMETERS
    assert fragment in info.value.message


def test_schedules() -> None:
    t = "microsoft.populationannealing.cpu"
    p = validate_params(t, {"params": {"beta": {"type": "geometric", "initial": 0.1, "final": 5}}})
    assert p["beta"] == {"type": "geometric", "initial": 0.1, "final": 5.0}
    with pytest.raises(SolverError, match="schedule type must be"):
        validate_params(t, {"params": {"beta": {"type": "cubic", "initial": 0.1, "final": 5}}})
    with pytest.raises(SolverError, match="'alpha'"):
        validate_params(t, {"params": {"alpha": 1.0}})  # alpha must be > 1


def test_all_betas_sets_replicas() -> None:
    p = validate_params("microsoft.paralleltempering.cpu", {"params": {"all_betas": [0.1, 1, 3]}})
    assert p["replicas"] == 3


def test_circuit_params_and_legacy_count() -> None:
    assert validate_params("kuantum.simulator", {"shots": 7})["shots"] == 7
    assert validate_params("kuantum.simulator", {"count": 9})["shots"] == 9
    with pytest.raises(SolverError, match="'shots'"):
        validate_params("kuantum.simulator", {"shots": -1})


def test_unknown_target() -> None:
    with pytest.raises(SolverError) as info:
        validate_params("microsoft.nope.cpu", {})
    assert info.value.code == UNKNOWN_TARGET


def test_output_formats() -> None:
    assert default_output_format(SA, "microsoft.qio.v2") == "microsoft.qio-results.v2"
    assert default_output_format("kuantum.simulator", "ionq.circuit.v1") == "ionq.quantum-results.v1"
    assert default_output_format("kuantum.simulator", "honeywell.openqasm.v1") == "honeywell.quantum-results.v1"
