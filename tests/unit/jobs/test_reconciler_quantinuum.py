"""The job engine's decisions for Quantinuum jobs, against an in-memory provider API (no cluster, no HTTP).

The same World as the IonQ and pod tests (tests/support/job_world.py), with the Quantinuum backend
wired to the fake API: what is sent (OpenQASM 2, translated from IonQ JSON where needed), with which
credentials, what is written when the provider's job moves, and what cancel does per target.
"""

from __future__ import annotations

import json
from typing import Any

from kuantum.catalog import QUANTINUUM, targets_of
from kuantum.execution.providers.api import RemoteState
from kuantum.execution.providers.backend import RemoteBackend
from kuantum.execution.providers.quantinuum import backend as quantinuum
from kuantum.storage.blobs import OUTPUT_BLOB, container_name

from tests.support.job_world import BELL, NS, World, _condition, _events

H2_SIM = "quantinuum.sim.h2-1e"
H2_QPU = "quantinuum.qpu.h2-1"
BELL_QASM = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\n' \
            "measure q -> c;\n"
# Quantinuum's own result format, which its targets' jobs keep (honeywell.quantum-results.v1).
SHOT_LISTS = b'{"c": ["00", "11", "11", "00"]}'


class QuantinuumWorld(World):
    def restart(self) -> None:
        super().restart()
        self.quantinuum = RemoteBackend(self.kube, QUANTINUUM, make_api=self._make_api,
                                        translate=quantinuum.translate, default_credentials_key=None,
                                        reformat=quantinuum.reformat)
        self.backends._by_name[QUANTINUUM] = self.quantinuum

    def add_quantinuum(self) -> None:
        self.kube.add_secret(NS, "qtn-creds", {"username": "alice@example.com", "password": "pw-s3cr3t"})
        self._put("Provider", {"metadata": {"name": "quantinuum", "namespace": NS, "uid": "uid-quantinuum",
                                            "creationTimestamp": "2024-01-01T00:00:00Z"},
                               "spec": {"workspace": "ws", "providerId": "quantinuum",
                                        "credentialsSecretRef": {"name": "qtn-creds", "key": "password"},
                                        "endpoint": "http://quantinuum.invalid/v1"}})

    def qasm_job(self, name: str, target: str = H2_SIM, **spec: Any) -> dict[str, Any]:
        return self.add_job(name, **{"provider": "quantinuum", "target": target,
                                     "input": {"inline": BELL_QASM}, "inputDataFormat": "honeywell.openqasm.v1",
                                     "inputParams": {"count": 4}, **spec})

    async def reconcile(self, name: str, poll_due: bool = True) -> Any:
        if poll_due:
            self.quantinuum._poller.forget(f"{NS}/{name}")
        return await super().reconcile(name, poll_due)


async def _submitted(w: QuantinuumWorld, name: str = "j", **job: Any) -> str:
    """The job admitted (attempt recorded) and sent; returns the provider's job id."""
    w.add_quantinuum()
    if "input" in job:
        w.add_job(name, **{"provider": "quantinuum", "target": H2_SIM, **job})
    else:
        w.qasm_job(name, **job)
    first = await w.reconcile(name)
    assert first.status_writes == 1 and w.status(name)["providerSubmitTime"]
    assert not w.api.of("submit"), "the attempt is recorded before anything is sent"
    await w.reconcile(name)
    remote_id = w.status(name).get("providerJobId")
    assert isinstance(remote_id, str), w.status(name)
    return remote_id


async def test_openqasm_is_sent_as_it_is_with_the_secrets_credentials_and_the_shot_count() -> None:
    w = QuantinuumWorld()
    remote_id = await _submitted(w)
    program = w.api.of("submit")[0].args["program"]
    assert program.target == H2_SIM and program.body == BELL_QASM and program.shots == 4
    assert program.marker == w.job_id("j") and w.job_id("j") in program.name
    assert w.api_credentials[-1]["username"] == "alice@example.com"
    assert w.api_credentials[-1]["password"] == "pw-s3cr3t"
    assert w.status("j")["providerJobId"] == remote_id and w.status("j")["state"] == "Waiting"


async def test_an_ionq_circuit_is_translated_to_openqasm_for_quantinuum() -> None:
    w = QuantinuumWorld()
    await _submitted(w, input={"inline": BELL}, inputDataFormat="ionq.circuit.v1", inputParams={"shots": 10})
    program = w.api.of("submit")[0].args["program"]
    text = program.body
    assert isinstance(text, str) and text.startswith("OPENQASM 2.0;")
    assert "h q[0];" in text and "cx q[0],q[1];" in text and "measure" in text
    assert program.shots == 10


async def test_completed_job_writes_quantinuums_shot_lists_as_the_output_and_succeeds() -> None:
    w = QuantinuumWorld()
    remote_id = await _submitted(w)
    w.api.jobs[remote_id].results = SHOT_LISTS
    w.api.set_state(remote_id, RemoteState.EXECUTING)
    assert (await w.reconcile("j")).status_writes == 1 and w.status("j")["state"] == "Executing"
    w.api.set_state(remote_id, RemoteState.SUCCEEDED)
    p = await w.reconcile("j")
    blob = w.storage.blobs[(container_name(w.job_id("j")), OUTPUT_BLOB)]
    assert json.loads(blob.data) == json.loads(SHOT_LISTS)
    assert w.status("j")["state"] == "Succeeded" and p.status_writes == 1
    assert _events(p) == ["Succeeded"]


async def test_provider_failure_becomes_error_data_with_its_code_and_message() -> None:
    w = QuantinuumWorld()
    remote_id = await _submitted(w)
    w.api.set_state(remote_id, RemoteState.FAILED, "CompilationError", "gate 'foo' is not supported")
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed"
    assert status["errorData"] == {"code": "CompilationError", "message": "gate 'foo' is not supported"}


async def test_a_program_quantinuum_would_refuse_fails_as_invalid_input_and_is_never_sent() -> None:
    w = QuantinuumWorld()
    w.add_quantinuum()
    w.qasm_job("j", input={"inline": BELL_QASM.replace("cx q[0],q[1];", "cx q[0] q[1];")})
    for _ in range(3):
        await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == "InvalidInputData"
    assert "line 6" in status["errorData"]["message"], status["errorData"]
    assert not w.api.of("submit")


async def test_cancel_while_waiting_cancels_at_the_provider() -> None:
    w = QuantinuumWorld()
    remote_id = await _submitted(w)
    w.edit_spec("j", cancel=True)
    await w.reconcile("j")
    assert [c.args for c in w.api.of("cancel")] == [{"remote_id": remote_id}]
    assert w.status("j")["state"] == "Cancelled"


async def test_cancel_while_executing_follows_the_catalog_per_target() -> None:
    for target in (H2_SIM, H2_QPU):
        w = QuantinuumWorld()
        remote_id = await _submitted(w, target=target)
        w.api.set_state(remote_id, RemoteState.EXECUTING)
        await w.reconcile("j")
        w.edit_spec("j", cancel=True)
        await w.reconcile("j")
        if targets_of(QUANTINUUM)[target].cancel_while_executing:
            assert w.api.of("cancel") and w.status("j")["state"] == "Cancelled", target
        else:
            assert not w.api.of("cancel"), target
            assert w.status("j")["state"] == "Executing"
            assert _condition(w.status("j"), "CancelRequested") is not None
