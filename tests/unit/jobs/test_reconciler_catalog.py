"""Rigetti, Pasqal and the resource estimator through the job and provider reconcilers: which backend runs each
target (solver pods; the QPU ids only emulated, with `backend: local`), what fails before a pod starts (bad
parameters, bad input, a QPU nothing runs), the pods' targets and memory, and the Provider's target list."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kuantum.catalog import MICROSOFT_QC, PASQAL, RIGETTI, targets_of
from kuantum.execution.pod import builders
from kuantum.execution.registry import TARGET_UNAVAILABLE
from kuantum.jobs.validation import JobInvalid
from kuantum.storage.blobs import INPUT_BLOB, container_name
from kuantum.workspaces.provider_reconciler import ProviderReconciler

from tests.support.job_world import NS, SOLVER_IMAGE, World

QVM, CEPHEUS = "rigetti.sim.qvm", "rigetti.qpu.cepheus-1-108q"
EMU_SV, FRESNEL = "pasqal.sim.emu-sv", "pasqal.qpu.fresnel"
ESTIMATOR = "microsoft.estimator"
QUIL = "DECLARE ro BIT[2]\nH 0\nCNOT 0 1\nMEASURE 0 ro[0]\nMEASURE 1 ro[1]\n"
QIR = """define void @ENTRYPOINT__main() #0 {
entry:
  call void @__quantum__qis__h__body(ptr null)
  call void @__quantum__qis__mz__body(ptr null, ptr null)
  ret void
}
declare void @__quantum__qis__h__body(ptr)
declare void @__quantum__qis__mz__body(ptr, ptr writeonly) #1
attributes #0 = { "entry_point" "qir_profiles"="base_profile" "required_num_qubits"="1" "required_num_results"="1" }
attributes #1 = { "irreversible" }
"""


def pulser(atoms: int = 2) -> dict[str, Any]:
    return {"sequence_builder": {
        "version": "1", "name": "s", "register": [{"name": f"q{i}", "x": 7.0 * i, "y": 0.0} for i in range(atoms)],
        "channels": {"ryd": "rydberg_global"}, "variables": {}, "operations": [], "measurement": None,
        "device": "MockDevice"}}


def world(targets: dict[str, list[dict[str, Any]]] | None = None) -> World:
    w = World()
    for provider in (RIGETTI, PASQAL, MICROSOFT_QC):
        w.add_provider(provider, provider, targets=(targets or {}).get(provider))
    return w


def rigetti_job(w: World, name: str, target: str = QVM, **spec: Any) -> None:
    w.add_job(name, **{"provider": "Rigetti", "target": target, "input": {"inline": QUIL},
                       "inputParams": {"count": 100}, **spec})


def pasqal_job(w: World, name: str, target: str = EMU_SV, atoms: int = 2, **spec: Any) -> None:
    w.add_job(name, **{"provider": "pasqal", "target": target, "input": {"inline": pulser(atoms)},
                       "inputParams": {"runs": 100}, **spec})


def estimator_job(w: World, name: str, **spec: Any) -> None:
    w.add_job(name, **{"provider": "microsoft-qc", "target": ESTIMATOR, "input": {"inline": QIR},
                       "inputDataFormat": "qir.v1", "inputParams": {"errorBudget": 0.001}, **spec})


def pod_of(w: World, name: str) -> dict[str, Any]:
    body = w.kube.batch_jobs[(NS, builders.child_name(w.job_id(name)))]
    container: dict[str, Any] = body["spec"]["template"]["spec"]["containers"][0]
    return container


def args_of(container: dict[str, Any]) -> dict[str, str]:
    args = container["args"]
    return dict(zip(args[::2], args[1::2], strict=True))


@pytest.mark.parametrize(("make", "target", "fmt", "output", "content_type", "memory"), [
    (rigetti_job, QVM, "rigetti.quil.v1", "rigetti.quil-results.v1", "text/plain", "1Gi"),
    (pasqal_job, EMU_SV, "pasqal.pulser.v1", "pasqal.pulser-results.v1", "application/json", "3Gi"),
    (estimator_job, ESTIMATOR, "qir.v1", "microsoft.resource-estimates.v1", "qir.v1", "1Gi"),
])
async def test_simulators_and_the_estimator_run_in_solver_pods_as_themselves(
        make: Any, target: str, fmt: str, output: str, content_type: str, memory: str) -> None:
    w = world()
    make(w, "j")
    await w.reconcile("j")
    assert w.status("j")["state"] == "Waiting"
    container = pod_of(w, "j")
    assert args_of(container)["--target"] == target
    assert (args_of(container)["--input-format"], args_of(container)["--output-format"]) == (fmt, output)
    assert container["image"] == SOLVER_IMAGE
    assert container["resources"]["limits"]["memory"] == container["resources"]["requests"]["memory"] == memory
    blob = w.storage.blobs[(container_name(w.job_id("j")), INPUT_BLOB)]
    assert blob.content_type == content_type, "uploaded as the SDK uploads the format"
    assert not w.api.calls


@pytest.mark.parametrize(("make", "target", "provider"), [(rigetti_job, CEPHEUS, RIGETTI),
                                                           (pasqal_job, FRESNEL, PASQAL)])
async def test_a_qpu_without_backend_local_fails_saying_why_before_anything_runs(
        make: Any, target: str, provider: str) -> None:
    w = world()
    make(w, "j", target=target)
    p = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed"
    assert status["errorData"]["code"] == TARGET_UNAVAILABLE
    message = status["errorData"]["message"]
    assert target in message and f"backend: local for {target} in Provider {provider}'s spec.targets" in message
    assert "does not reach" in message
    assert not p.of("create_job") and not p.of("create_secret")
    assert not w.storage.uploads(), "its input is never uploaded"


@pytest.mark.parametrize(("make", "target", "provider", "memory"), [(rigetti_job, CEPHEUS, RIGETTI, "1Gi"),
                                                                     (pasqal_job, FRESNEL, PASQAL, "3Gi")])
async def test_a_qpu_with_backend_local_is_emulated_by_the_solver_under_its_own_id(
        make: Any, target: str, provider: str, memory: str) -> None:
    w = world({provider: [{"id": target, "backend": "local"}]})
    make(w, "j", target=target)
    await w.reconcile("j")
    container = pod_of(w, "j")
    # the solver's own emulation of the QPU (its qubit indices, its device's limits), not kuantum.simulator
    assert args_of(container)["--target"] == target
    assert container["resources"]["limits"]["memory"] == memory
    override = world({provider: [{"id": target, "backend": "local", "memory": "6Gi", "cpu": "2"}]})
    make(override, "j", target=target)
    await override.reconcile("j")
    container = pod_of(override, "j")
    assert container["resources"]["limits"]["memory"] == "6Gi" and container["resources"]["requests"]["cpu"] == "2"


async def test_the_registry_refuses_a_backend_for_a_qpu_nothing_runs() -> None:
    w = world()
    target = targets_of(RIGETTI)[CEPHEUS]
    with pytest.raises(JobInvalid) as info:
        w.backends.for_target(target, w.store.providers[f"{NS}/{RIGETTI}"])
    assert info.value.code == TARGET_UNAVAILABLE
    emulating = world({RIGETTI: [{"id": CEPHEUS, "backend": "local"}]})
    assert emulating.backends.for_target(target, emulating.store.providers[f"{NS}/{RIGETTI}"]) is emulating.backends.pod
    assert w.backends.for_target(targets_of(RIGETTI)[QVM], None) is w.backends.pod
    assert w.backends.for_target(targets_of(MICROSOFT_QC)[ESTIMATOR], None) is w.backends.pod


@pytest.mark.parametrize(("make", "spec", "code", "fragment"), [
    (estimator_job, {"inputParams": {"errorBudget": 1.5}}, "InvalidInputData",
     "errorBudget must be a number in (0, 1)"),
    (estimator_job, {"inputParams": {"qubitParams": {"name": "qubit_gate_xx"}}}, "InvalidInputData",
     "qubitParams.name: unknown qubit model"),
    (rigetti_job, {"inputParams": {"substitutions": {"theta": [[1.0], [2.0]], "beta": [[0.0]]}}},
     "InvalidParameters", "the same number of rows"),
    (pasqal_job, {"inputParams": {"runs": 0}}, "InvalidParameters", "'shots'=0 is out of range"),
    (pasqal_job, {"outputDataFormat": "rigetti.quil-results.v1"}, "InvalidOutputFormat", "pasqal.pulser-results.v1"),
])
async def test_bad_parameters_and_formats_fail_before_a_pod_starts(make: Any, spec: dict[str, Any], code: str,
                                                                   fragment: str) -> None:
    w = world()
    make(w, "j", **spec)
    p = await w.reconcile("j")
    status = w.status("j")
    assert (status["state"], status["errorData"]["code"]) == ("Failed", code), status
    assert fragment in status["errorData"]["message"]
    assert not p.of("create_job") and not p.of("create_secret")


async def test_the_provider_lists_its_targets_with_what_runs_them() -> None:
    w = world({PASQAL: [{"id": FRESNEL, "backend": "local"}]})
    providers = ProviderReconciler(w.ctx, w.backends)
    listed: dict[str, dict[str, Any]] = {}
    for provider in (RIGETTI, PASQAL, MICROSOFT_QC):
        await w.run(providers, f"{NS}/{provider}")
        status = w.kube.get("Provider", NS, provider)["status"]
        assert status["providerId"] == provider
        assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
        listed.update({t["id"]: t for t in status["targets"]})
    assert set(listed) == {QVM, CEPHEUS, EMU_SV, FRESNEL, ESTIMATOR}
    qvm, cepheus, fresnel, estimator = listed[QVM], listed[CEPHEUS], listed[FRESNEL], listed[ESTIMATOR]
    assert (qvm["kind"], qvm["availability"], qvm["backend"], qvm["qubits"]) == ("simulator", "Available", "pod", 20)
    assert qvm["inputFormats"] == ["rigetti.quil.v1", "rigetti.qir.v1", "qir.v1"]
    assert qvm["outputFormat"] == "rigetti.quil-results.v1" and qvm["cancelWhileExecuting"] is True
    assert (cepheus["kind"], cepheus["hardware"], cepheus["availability"]) == ("qpu", "QPU", "Unavailable")
    assert "backend" not in cepheus and "backend: local" in cepheus["message"]
    assert (fresnel["availability"], fresnel["backend"], fresnel["emulated"]) == ("Available", "pod", True)
    assert "message" not in fresnel
    assert (estimator["kind"], estimator["inputFormats"], estimator["outputFormat"]) == (
        "estimator", ["qir.v1"], "microsoft.resource-estimates.v1")
    assert estimator["availability"] == "Available" and estimator["emulated"] is False
    assert json.dumps(listed)  # plain data, as the API server stores it
