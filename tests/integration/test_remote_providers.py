"""IonQ and Quantinuum jobs on the dev cluster, against the providers' loopback test servers (real HTTP).

The operator runs as a process; the test servers run as processes that follow the providers' public
APIs and compute real results with the local simulator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from kubernetes import client

from tests.support import quantum as q
from tests.support.fakes import FakeServer, fake_process
from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess

pytestmark = pytest.mark.integration
IONQ_KEY = "ionq-test-key"
BELL = {"qubits": 2, "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]}
BELL_QASM = ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\n'
             "measure q -> c;\n")


@pytest.fixture
def ionq(tmp_path: Path) -> Iterator[FakeServer]:
    with fake_process("tests.support.fake_ionq", ["--api-key", IONQ_KEY, "--wait", "0.5", "--run", "0.5"],
                      tmp_path) as server:
        yield server


@pytest.fixture
def quantinuum(tmp_path: Path) -> Iterator[FakeServer]:
    with fake_process("tests.support.fake_quantinuum", ["--username", "me@example.com", "--password", "pw",
                                                        "--queued-seconds", "0.5", "--running-seconds", "0.5"],
                      tmp_path) as server:
        yield server


@pytest.fixture
def ws(api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, azurite_connection_string: str,
       operator: OperatorProcess) -> str:
    q.storage_secret(core, namespace, azurite_connection_string)
    q.workspace(api_client, namespace)
    return namespace


def _secret(core: client.CoreV1Api, namespace: str, name: str, data: dict[str, str]) -> None:
    core.create_namespaced_secret(namespace, {"metadata": {"name": name}, "stringData": data})  # type: ignore[arg-type]


def _provider(api_client: client.ApiClient, namespace: str, provider_id: str, endpoint: str | None,
              secret: str | None, targets: list[dict[str, Any]] | None = None) -> None:
    spec: dict[str, Any] = {"workspace": "ws", "providerId": provider_id, "billingPlan": {"name": "test"}}
    if endpoint:
        spec["endpoint"] = endpoint
    if secret:
        spec["credentialsSecretRef"] = {"name": secret, "key": "apiKey" if provider_id == "ionq" else "password"}
    if targets:
        spec["targets"] = targets
    q.create(api_client, namespace, "providers", {"kind": "Provider", "metadata": {"name": provider_id},
                                                   "spec": spec})


def _job(api_client: client.ApiClient, namespace: str, name: str, provider: str, target: str, data: Any,
         input_format: str | None = None, shots: int = 200, **extra: Any) -> None:
    spec: dict[str, Any] = {"workspace": "ws", "provider": provider, "target": target, "input": {"inline": data},
                            "inputParams": {"shots": shots}}
    spec.update(extra)
    if input_format:
        spec["inputDataFormat"] = input_format
    q.create(api_client, namespace, "quantumjobs", {"kind": "QuantumJob", "metadata": {"name": name}, "spec": spec})


def _output(conn: str, status: dict[str, Any]) -> Any:
    container, blob = status["outputDataUri"].split("/devstoreaccount1/", 1)[1].split("/", 1)
    service = BlobServiceClient.from_connection_string(conn)
    return json.loads(service.get_blob_client(container, blob).download_blob().readall())


@pytest.mark.parametrize("version", ["v0.4", "v0.3"])
def test_ionq_circuit_and_qasm_run_on_the_provider_once_each(
        api_client: client.ApiClient, core: client.CoreV1Api, ws: str, ionq: FakeServer,
        azurite_connection_string: str, version: str) -> None:
    _secret(core, ws, "ionq-creds", {"apiKey": IONQ_KEY})
    _provider(api_client, ws, "ionq", f"{ionq.base}/{version}", "ionq-creds")
    _job(api_client, ws, "bell", "ionq", "ionq.simulator", BELL)
    _job(api_client, ws, "bell-qasm", "ionq", "ionq.simulator", BELL_QASM, input_format="honeywell.openqasm.v1")
    for name in ("bell", "bell-qasm"):
        status = q.wait_state(api_client, ws, name, q.FINAL, timeout=90)
        assert status["state"] == "Succeeded", status
        assert status["providerJobId"] and status["providerSubmitTime"]
        histogram = _output(azurite_connection_string, status)["histogram"]
        assert set(histogram) == {"0", "3"} and abs(histogram["0"] - 0.5) < 1e-9, histogram
        q.wait_for_events(core, ws, name, "Queued", "Executing", "Succeeded")
    counts = ionq.control("GET", "counts")
    assert counts["jobs"] == 2  # one provider job per Kuantum job
    assert counts["counts"].get("POST /" + version + "/jobs") == 2


def test_quantinuum_qasm_runs_with_login_and_per_shot_results(
        api_client: client.ApiClient, core: client.CoreV1Api, ws: str, quantinuum: FakeServer,
        azurite_connection_string: str) -> None:
    _secret(core, ws, "qtn-creds", {"username": "me@example.com", "password": "pw"})
    _provider(api_client, ws, "quantinuum", f"{quantinuum.base}/v1", "qtn-creds")
    _job(api_client, ws, "bell", "honeywell", "quantinuum.sim.h2-1sc", BELL_QASM, shots=50)
    status = q.wait_state(api_client, ws, "bell", q.FINAL, timeout=90)
    assert status["state"] == "Succeeded", status
    shots = _output(azurite_connection_string, status)["c"]
    assert len(shots) == 50 and set(shots) <= {"00", "11"}
    assert len(quantinuum.control("GET", "stats")["jobs"]) == 1


def test_a_submit_whose_answer_is_lost_is_found_not_sent_twice(
        api_client: client.ApiClient, core: client.CoreV1Api, ws: str, ionq: FakeServer) -> None:
    _secret(core, ws, "ionq-creds", {"apiKey": IONQ_KEY})
    _provider(api_client, ws, "ionq", f"{ionq.base}/v0.4", "ionq-creds")
    ionq.control("POST", "faults", {"kind": "drop", "count": 1, "method": "POST", "path": "/v0.4/jobs"})
    _job(api_client, ws, "lost", "ionq", "ionq.simulator", BELL)
    status = q.wait_state(api_client, ws, "lost", q.FINAL, timeout=120)
    assert status["state"] == "Succeeded", status
    counts = ionq.control("GET", "counts")
    assert counts["jobs"] == 1 and counts["counts"]["POST /v0.4/jobs"] == 1


def test_operator_killed_between_submit_and_answer_submits_once(
        api_client: client.ApiClient, core: client.CoreV1Api, ws: str, ionq: FakeServer,
        operator: OperatorProcess) -> None:
    _secret(core, ws, "ionq-creds", {"apiKey": IONQ_KEY})
    _provider(api_client, ws, "ionq", f"{ionq.base}/v0.4", "ionq-creds")
    ionq.control("POST", "faults", {"kind": "slow", "delay": 4, "count": 1, "method": "POST", "path": "/v0.4/jobs"})
    _job(api_client, ws, "killed", "ionq", "ionq.simulator", BELL)
    wait_for(lambda: q.job_status(api_client, ws, "killed").get("providerSubmitTime"), timeout=60,
             what="the submit attempt recorded")
    wait_for(lambda: ionq.control("GET", "counts")["counts"].get("POST /v0.4/jobs") or None, timeout=60,
             what="the POST at IonQ")  # the answer takes 4 s
    operator.kill()  # while the POST waits for its answer
    wait_for(lambda: ionq.control("GET", "counts")["jobs"] == 1 or None, timeout=30, what="the job at IonQ")
    operator.start()
    status = q.wait_state(api_client, ws, "killed", q.FINAL, timeout=120)
    assert status["state"] == "Succeeded", status
    assert ionq.control("GET", "counts")["jobs"] == 1


def test_cancel_while_waiting_cancels_at_the_provider(
        api_client: client.ApiClient, core: client.CoreV1Api, ws: str, ionq: FakeServer) -> None:
    _secret(core, ws, "ionq-creds", {"apiKey": IONQ_KEY})
    _provider(api_client, ws, "ionq", f"{ionq.base}/v0.4", "ionq-creds")
    ionq.control("POST", "schedule", {"hold": True})
    _job(api_client, ws, "held", "ionq", "ionq.simulator", BELL)
    wait_for(lambda: q.job_status(api_client, ws, "held").get("providerJobId"), timeout=60, what="submitted")
    q.patch(api_client, ws, "quantumjobs", "held", {"spec": {"cancel": True}})
    status = q.wait_state(api_client, ws, "held", q.FINAL, timeout=60)
    assert status["state"] == "Cancelled", status
    assert ionq.control("GET", "counts")["counts"].get(f"PUT /v0.4/jobs/{status['providerJobId']}/status/cancel") == 1


def test_wrong_credentials_fail_the_job_and_a_fixed_secret_heals(
        api_client: client.ApiClient, core: client.CoreV1Api, ws: str, ionq: FakeServer) -> None:
    _secret(core, ws, "ionq-creds", {"apiKey": "wrong-key"})
    _provider(api_client, ws, "ionq", f"{ionq.base}/v0.4", "ionq-creds")
    _job(api_client, ws, "denied", "ionq", "ionq.simulator", BELL)
    status = q.wait_state(api_client, ws, "denied", q.FINAL, timeout=60)
    assert status["state"] == "Failed" and status["errorData"]["code"] == "CredentialsRejected", status
    assert "wrong-key" not in json.dumps(status)
    assert all("wrong-key" not in m for _, _, m in q.events_for(core, ws, "denied"))
    core.patch_namespaced_secret("ionq-creds", ws, {"stringData": {"apiKey": IONQ_KEY}})
    _job(api_client, ws, "allowed", "ionq", "ionq.simulator", BELL)
    assert q.wait_state(api_client, ws, "allowed", q.FINAL, timeout=90)["state"] == "Succeeded"


def test_missing_credentials_wait_with_a_condition_then_run(
        api_client: client.ApiClient, core: client.CoreV1Api, ws: str, ionq: FakeServer) -> None:
    _provider(api_client, ws, "ionq", f"{ionq.base}/v0.4", "later-creds")
    _job(api_client, ws, "patient", "ionq", "ionq.simulator", BELL)
    wait_for(lambda: (q.condition(q.job_status(api_client, ws, "patient"), "Queued") or {}).get("reason")
             == "CredentialsNotFound" or None, timeout=60, what="CredentialsNotFound")
    _secret(core, ws, "later-creds", {"apiKey": IONQ_KEY})
    assert q.wait_state(api_client, ws, "patient", q.FINAL, timeout=90)["state"] == "Succeeded"


def test_emulation_runs_a_remote_target_on_the_local_simulator(
        api_client: client.ApiClient, ws: str, azurite_connection_string: str) -> None:
    _provider(api_client, ws, "ionq", None, None, targets=[{"id": "ionq.simulator", "backend": "local"}])
    _job(api_client, ws, "emulated", "ionq", "ionq.simulator", BELL)
    status = q.wait_state(api_client, ws, "emulated", q.FINAL, timeout=120)
    assert status["state"] == "Succeeded", status
    assert "providerJobId" not in status
    histogram = _output(azurite_connection_string, status)["histogram"]
    assert set(histogram) == {"0", "3"}


def _provider_status(api_client: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    return dict((q.get(api_client, namespace, "providers", name) or {}).get("status") or {})


def test_provider_reports_credentials_and_availability_and_jobs_wait_for_an_offline_target(
        api_client: client.ApiClient, core: client.CoreV1Api, ws: str, ionq: FakeServer) -> None:
    _secret(core, ws, "ionq-creds", {"apiKey": "wrong-key"})
    _provider(api_client, ws, "ionq", f"{ionq.base}/v0.4", "ionq-creds")
    refused = wait_for(lambda: q.condition(_provider_status(api_client, ws, "ionq"), "CredentialsValid"),
                       timeout=60, what="CredentialsValid")
    assert refused["status"] == "False" and refused["reason"] == "CredentialsRejected", refused
    assert "wrong-key" not in json.dumps(_provider_status(api_client, ws, "ionq"))
    core.patch_namespaced_secret("ionq-creds", ws, {"stringData": {"apiKey": IONQ_KEY}})
    ionq.control("POST", "backends", [{"backend": "simulator", "status": "unavailable"}])
    wait_for(lambda: (q.condition(_provider_status(api_client, ws, "ionq"), "CredentialsValid") or {})
             .get("status") == "True" or None, timeout=120, what="credentials accepted after the fix")
    targets = {t["id"]: t["availability"] for t in _provider_status(api_client, ws, "ionq")["targets"]}
    assert targets["ionq.simulator"] == "Unavailable", targets
    _job(api_client, ws, "patient", "ionq", "ionq.simulator", BELL)
    wait_for(lambda: (q.condition(q.job_status(api_client, ws, "patient"), "Queued") or {}).get("reason")
             == "TargetUnavailable" or None, timeout=60, what="the job waits for the target")
    assert ionq.control("GET", "counts")["jobs"] == 0


def _status_endpoint_calls(ionq: FakeServer) -> int:
    counts = ionq.control("GET", "counts")["counts"]
    return sum(n for call, n in counts.items() if call.startswith("GET ") and "/backends" in call)


def _credentials_valid(api_client: client.ApiClient, ws: str) -> str | None:
    return (q.condition(_provider_status(api_client, ws, "ionq"), "CredentialsValid") or {}).get("status")


def test_a_key_refused_on_a_jobs_call_turns_credentials_invalid_before_the_next_probe_and_an_accepted_call_back(
        api_client: client.ApiClient, core: client.CoreV1Api, ws: str, ionq: FakeServer) -> None:
    """IonQ rotates the key (the Secret's is now wrong): the next job's submit is refused, and the Provider says
    so from that answer, not a minute later at its next status-endpoint probe; a job accepted again turns it back."""
    _secret(core, ws, "ionq-creds", {"apiKey": IONQ_KEY})
    _provider(api_client, ws, "ionq", f"{ionq.base}/v0.4", "ionq-creds")
    wait_for(lambda: _credentials_valid(api_client, ws) == "True" or None, timeout=60, what="credentials accepted")
    probes = _status_endpoint_calls(ionq)
    ionq.control("POST", "key", {"key": "rotated-at-ionq"})
    _job(api_client, ws, "refused", "ionq", "ionq.simulator", BELL)
    failed = q.wait_state(api_client, ws, "refused", q.FINAL, timeout=60)
    assert failed["errorData"]["code"] == "CredentialsRejected", failed
    wait_for(lambda: _credentials_valid(api_client, ws) == "False" or None, timeout=50,
             what="CredentialsValid False after the refused call")
    refused = q.condition(_provider_status(api_client, ws, "ionq"), "CredentialsValid") or {}
    assert refused["reason"] == "CredentialsRejected" and "Invalid key provided" in refused["message"], refused
    assert IONQ_KEY not in json.dumps(_provider_status(api_client, ws, "ionq"))
    assert _status_endpoint_calls(ionq) == probes, "the job's own call said so, not a new probe"

    ionq.control("POST", "key", {"key": IONQ_KEY})
    _job(api_client, ws, "accepted", "ionq", "ionq.simulator", BELL)
    assert q.wait_state(api_client, ws, "accepted", q.FINAL, timeout=90)["state"] == "Succeeded"
    wait_for(lambda: _credentials_valid(api_client, ws) == "True" or None, timeout=50,
             what="CredentialsValid True after an accepted call")


@pytest.mark.parametrize(("provider", "target"), [("ionq", "ionq.simulator"), ("quantinuum", "quantinuum.sim.h2-1sc")])
def test_a_qsharp_program_runs_on_hardware_targets_with_azures_qir_results(
        api_client: client.ApiClient, core: client.CoreV1Api, ws: str, ionq: FakeServer, quantinuum: FakeServer,
        azurite_connection_string: str, provider: str, target: str) -> None:
    """examples/qsharp/bell.ll (compiled from Bell.qs by the QDK) as qir.v1, translated for the provider, and the
    provider's results mapped back to microsoft.quantum-results.v2 as the azure-quantum SDK reads it."""
    if provider == "ionq":
        _secret(core, ws, "creds", {"apiKey": IONQ_KEY})
        _provider(api_client, ws, "ionq", f"{ionq.base}/v0.4", "creds")
    else:
        _secret(core, ws, "creds", {"username": "me@example.com", "password": "pw"})
        _provider(api_client, ws, "quantinuum", f"{quantinuum.base}/v1", "creds")
    program = (Path(__file__).resolve().parents[2] / "examples" / "qsharp" / "bell.ll").read_text()
    _job(api_client, ws, "qsharp", provider, target, program, input_format="qir.v1", shots=100,
         inputParams={"entryPoint": "ENTRYPOINT__main", "arguments": [], "shots": 100})
    status = q.wait_state(api_client, ws, "qsharp", q.FINAL, timeout=120)
    assert status["state"] == "Succeeded", status
    output = _output(azurite_connection_string, status)
    assert output["DataFormat"] == "microsoft.quantum-results.v2"
    histogram = output["Results"][0]["Histogram"]
    assert {h["Display"] for h in histogram} <= {"[0, 0]", "[1, 1]", "(0, 0)", "(1, 1)"}, histogram
    assert sum(h["Count"] for h in histogram) == 100


@pytest.mark.parametrize("faults", [
    [{"kind": "status", "status": 503, "count": 3, "method": "GET", "path": "/v0.4/jobs/*"}],
    [{"kind": "429", "retry_after": 1, "count": 2, "method": "POST", "path": "/v0.4/jobs"}],
    [{"kind": "malformed", "body": "{not json", "count": 2, "method": "GET", "path": "/v0.4/jobs/*"}],
    [{"kind": "slow", "delay": 3, "count": 2, "method": "GET", "path": "/v0.4/jobs/*"}],
], ids=["5xx-burst", "429-retry-after", "malformed-json", "slow"])
def test_provider_faults_are_survived_with_one_remote_job(
        api_client: client.ApiClient, core: client.CoreV1Api, ws: str, ionq: FakeServer,
        faults: list[dict[str, Any]]) -> None:
    _secret(core, ws, "ionq-creds", {"apiKey": IONQ_KEY})
    _provider(api_client, ws, "ionq", f"{ionq.base}/v0.4", "ionq-creds")
    ionq.control("POST", "faults", faults)
    _job(api_client, ws, "faulted", "ionq", "ionq.simulator", BELL)
    status = q.wait_state(api_client, ws, "faulted", q.FINAL, timeout=120)
    assert status["state"] == "Succeeded", status
    assert ionq.control("GET", "counts")["jobs"] == 1


def test_a_job_the_provider_fails_fails_with_its_code_and_message(
        api_client: client.ApiClient, core: client.CoreV1Api, ws: str, ionq: FakeServer) -> None:
    _secret(core, ws, "ionq-creds", {"apiKey": IONQ_KEY})
    _provider(api_client, ws, "ionq", f"{ionq.base}/v0.4", "ionq-creds")
    ionq.control("POST", "faults", {"kind": "fail", "code": "SimulationTimeout", "message": "the simulation ran out"})
    _job(api_client, ws, "doomed", "ionq", "ionq.simulator", BELL)
    status = q.wait_state(api_client, ws, "doomed", q.FINAL, timeout=120)
    assert status["state"] == "Failed", status
    assert "SimulationTimeout" in status["errorData"]["code"] and "ran out" in status["errorData"]["message"]


@pytest.mark.parametrize(("target", "cancelled"), [("ionq.simulator", True), ("ionq.qpu.aria-1", False)])
def test_cancel_while_executing_follows_the_targets_rule(
        api_client: client.ApiClient, core: client.CoreV1Api, ws: str, ionq: FakeServer, target: str,
        cancelled: bool) -> None:
    _secret(core, ws, "ionq-creds", {"apiKey": IONQ_KEY})
    _provider(api_client, ws, "ionq", f"{ionq.base}/v0.4", "ionq-creds")
    ionq.control("POST", "schedule", {"wait": 0.2, "run": 20})
    _job(api_client, ws, "busy", "ionq", target, BELL)
    q.wait_state(api_client, ws, "busy", "Executing", timeout=60)
    q.patch(api_client, ws, "quantumjobs", "busy", {"spec": {"cancel": True}})
    if cancelled:
        assert q.wait_state(api_client, ws, "busy", q.FINAL, timeout=60)["state"] == "Cancelled"
    else:
        wait_for(lambda: (q.condition(q.job_status(api_client, ws, "busy"), "CancelRequested") or {})
                 .get("reason") == "NotCancellableWhileExecuting" or None, timeout=60, what="CancelRequested")
        assert q.job_status(api_client, ws, "busy")["state"] == "Executing"
        # It runs to completion (and the namespace's teardown no longer waits minutes for it).
        assert q.wait_state(api_client, ws, "busy", q.FINAL, timeout=120)["state"] == "Succeeded"
