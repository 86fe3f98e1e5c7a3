"""Sessions, job updates, top-level items and the SDK's framework providers: the unmodified azure-quantum 3.13 SDK
(and its qiskit provider) against kuantum-gateway and a real operator on the dev cluster.

The gateway runs as a child process (tests/integration/test_gateway_sdk.py's Gateway); the operator is this
module's own, with a short session idle timeout (KUANTUM_SESSION_IDLE_TIMEOUT_SECONDS) so a forgotten session
times out within the test. The kuantum provider's plan runs one job at a time, so a job can be made to wait.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError
from azure.quantum import Job, Session, Workspace
from azure.quantum.target import Target
from kubernetes import client

from tests.integration.test_gateway_sdk import BELL, KEY, SUBSCRIPTION, Gateway, _ready
from tests.support import devcluster
from tests.support import quantum as q
from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess

pytestmark = pytest.mark.integration

IDLE_SECONDS = 20
NOT_JSON = b"this is not an IonQ circuit"


@pytest.fixture
def operator(cluster: devcluster.Cluster, api_client: client.ApiClient, namespace: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """This module's operator: the conftest's, with a short session idle timeout."""
    with q.operator_for(cluster.kubeconfig, api_client, namespace, tmp_path_factory.mktemp("operator"),
                        env={"KUANTUM_SESSION_IDLE_TIMEOUT_SECONDS": str(IDLE_SECONDS)}) as proc:
        yield proc


@pytest.fixture
def gateway(cluster: devcluster.Cluster, api_client: client.ApiClient, core: client.CoreV1Api, namespace: str,
            azurite_connection_string: str, operator: OperatorProcess, tmp_path: Path) -> Iterator[Gateway]:
    """Workspace `ws` (key KEY) with the kuantum provider (one job at a time) and IonQ's simulator emulated
    (backend: local), and a gateway."""
    q.storage_secret(core, namespace, azurite_connection_string)
    core.create_namespaced_secret(namespace, {"metadata": {"name": "ws-api"},  # type: ignore[arg-type]
                                              "stringData": {"key": KEY}})
    q.create(api_client, namespace, "quantumworkspaces", {
        "kind": "QuantumWorkspace", "metadata": {"name": "ws"},
        "spec": {"storage": {"connectionStringSecretRef": {"name": "storage", "key": "connectionString"}},
                 "gateway": {"apiKeySecretRef": {"name": "ws-api", "key": "key"}}}})
    q.provider(api_client, namespace, "kuantum", "kuantum", limits={"maxConcurrentJobs": 1})
    q.provider(api_client, namespace, "ionq", "ionq", targets=[{"id": "ionq.simulator", "backend": "local"}])
    gw = Gateway(cluster.kubeconfig, namespace, tmp_path).launch()  # starts while the operator works
    try:
        for plural, name in (("quantumworkspaces", "ws"), ("providers", "kuantum"), ("providers", "ionq")):
            wait_for(lambda p=plural, n=name: _ready(api_client, namespace, p, n), timeout=60, what=f"{name} Ready")
        yield gw.wait_ready()
    finally:
        gw.stop()
        log = gw.log()
        assert KEY not in log and "Traceback" not in log, log[-3000:]


def workspace(gw: Gateway, namespace: str) -> Workspace:
    """As the README tells SDK users: the private endpoint and API key, and the workspace marked V2 so that
    get_targets() lists every target (a V1 workspace lists only providers the SDK has classes for)."""
    return Workspace(subscription_id=SUBSCRIPTION, resource_group=namespace, name="ws", location="eastus",
                     credential=AzureKeyCredential(KEY), _quantum_endpoint=gw.url, _from_connection_string=True,
                     _workspace_kind="v2")


def simulator(ws: Workspace) -> Target:
    target = ws.get_targets(name="kuantum.simulator")
    assert isinstance(target, Target)
    return target


def bell(target: Target, name: str, data: bytes = json.dumps(BELL).encode()) -> Job:
    return target.submit(data, name=name, shots=100, input_data_format="ionq.circuit.v1",
                         output_data_format="ionq.quantum-results.v1")


def session_state(api_client: client.ApiClient, namespace: str, name: str) -> str | None:
    obj = q.get(api_client, namespace, "quantumsessions", name) or {}
    state = (obj.get("status") or {}).get("state")
    return str(state) if state else None


def wait_session(api_client: client.ApiClient, namespace: str, name: str, state: str, timeout: float = 180) -> None:
    wait_for(lambda: session_state(api_client, namespace, name) == state, timeout=timeout,
             what=f"session {name} {state} (is {session_state(api_client, namespace, name)})")


def test_every_target_is_listed_for_a_v2_workspace(gateway: Gateway, namespace: str) -> None:
    targets = workspace(gateway, namespace).get_targets()
    assert isinstance(targets, list)
    ids = {(t.provider_id, t.name) for t in targets}
    assert {("kuantum", "kuantum.simulator"), ("ionq", "ionq.simulator")} <= ids
    assert ("microsoft-qio", "microsoft.simulatedannealing.cpu") in ids


def test_a_with_block_session_runs_its_jobs_and_lists_them(gateway: Gateway, api_client: client.ApiClient,
                                                            namespace: str) -> None:
    ws = workspace(gateway, namespace)
    target = simulator(ws)
    with target.open_session(name="loop") as session:
        first, second = bell(target, "first"), bell(target, "second")
    alone = bell(Target(ws, "kuantum.simulator", provider_id="kuantum"), "alone")
    # The with-block closed it: one QuantumSession, named by its id, closed; both jobs in it.
    obj = q.get(api_client, namespace, "quantumsessions", session.id)
    assert obj is not None and obj["spec"]["close"] is True and obj["spec"]["name"] == "loop"
    for job in (first, second):
        assert set(job.get_results(timeout_secs=240)["histogram"]) == {"0", "3"}
        assert job.details.session_id == session.id
    wait_session(api_client, namespace, session.id, "Succeeded")
    session.refresh()
    assert session.details.status == "Succeeded" and session.is_in_terminal_state()
    assert {j.id for j in ws.list_session_jobs(session.id)} == {first.id, second.id}
    assert {j.id for j in session.list_jobs()} == {first.id, second.id}
    assert [s.id for s in ws.list_sessions()] == [session.id]
    # Top-level items: the session and the job of no session, each as what it is.
    items = {(type(i).__name__, i.id) for i in ws.list_top_level_items()}
    assert items == {("Session", session.id), ("Job", alone.id)}
    status = (q.get(api_client, namespace, "quantumsessions", session.id) or {})["status"]
    assert status["jobCounts"] == {"Succeeded": 2} and status["beginExecutionTime"] and status["endExecutionTime"]


def test_abort_cancels_the_waiting_jobs_and_refuses_new_ones(gateway: Gateway, api_client: client.ApiClient,
                                                              namespace: str) -> None:
    ws = workspace(gateway, namespace)
    target = simulator(ws)
    session = target.open_session(name="abort", job_failure_policy="Abort")
    running = bell(target, "running")  # takes the plan's one slot
    # The queue keeps the order of submission, also within one second (the ids are random UUIDs).
    broken = bell(target, "broken", NOT_JSON)  # next in line; fails when it runs: the session fails
    waiting = bell(target, "waiting")  # behind it: never starts
    q.wait_state(api_client, namespace, waiting.id, "Waiting")
    q.wait_state(api_client, namespace, broken.id, "Failed", timeout=240)
    wait_session(api_client, namespace, session.id, "Failed")
    waiting_status = q.wait_state(api_client, namespace, waiting.id, "Cancelled")
    assert waiting_status.get("beginExecutionTime") is None
    session.refresh()
    assert session.details.status == "Failed" and session.details.error_data.code == "JobFailed"
    with pytest.raises(HttpResponseError) as refused:
        bell(target, "too-late")
    assert refused.value.status_code == 409 and "SessionClosed" in str(refused.value)
    # A job already executing runs to its end.
    assert set(running.get_results(timeout_secs=240)["histogram"]) == {"0", "3"}


def test_continue_shows_failures_and_ends_failed_when_closed(gateway: Gateway, api_client: client.ApiClient,
                                                             namespace: str) -> None:
    ws = workspace(gateway, namespace)
    target = simulator(ws)
    session = target.open_session(name="continue", job_failure_policy="Continue")
    broken = bell(target, "broken", NOT_JSON)
    q.wait_state(api_client, namespace, broken.id, "Failed")
    wait_session(api_client, namespace, session.id, "Failure(s)")
    good = bell(target, "good")  # still accepted
    assert set(good.get_results(timeout_secs=240)["histogram"]) == {"0", "3"}
    session.close()
    wait_session(api_client, namespace, session.id, "Failed")
    session.refresh()
    assert session.details.status == "Failed" and session.details.error_data.code == "JobsFailed"


def test_an_idle_session_times_out(gateway: Gateway, api_client: client.ApiClient, namespace: str) -> None:
    ws = workspace(gateway, namespace)
    target = simulator(ws)
    session = target.open_session(name="forgotten")
    job = bell(target, "only")
    job.wait_until_completed(timeout_secs=240)
    wait_session(api_client, namespace, session.id, "TimedOut", timeout=IDLE_SECONDS + 120)
    assert ws.get_session(session.id).details.status == "TimedOut"
    with pytest.raises(HttpResponseError, match="SessionClosed"):
        bell(target, "after")


def test_update_job_renames_reprioritises_and_retags(gateway: Gateway, api_client: client.ApiClient,
                                                      namespace: str) -> None:
    ws = workspace(gateway, namespace)
    job = bell(simulator(ws), "before")
    updated = ws.update_job(job, name="after", priority="High", tags=["a", "b"])
    assert (updated.details.name, updated.details.priority, updated.details.tags) == ("after", "High", ["a", "b"])
    spec = (q.get(api_client, namespace, "quantumjobs", job.id) or {})["spec"]
    assert (spec["name"], spec["priority"], spec["tags"]) == ("after", "High", ["a", "b"])
    again = ws.get_job(job.id)
    assert again.details.name == "after" and again.details.tags == ["a", "b"]
    job.wait_until_completed(timeout_secs=240)
    conditions = {c["type"] for c in q.job_status(api_client, namespace, job.id).get("conditions") or []}
    assert "SpecChangeIgnored" not in conditions


def test_qiskit_bell_counts_through_the_ionq_backend(gateway: Gateway, namespace: str) -> None:
    """azure-quantum[qiskit]: the IonQ backend compiles the circuit to QIR (a batch of one item) and reads
    microsoft.quantum-results.v2 back per circuit; the Provider runs ionq.simulator locally."""
    from azure.quantum.qiskit import AzureQuantumProvider
    from qiskit import QuantumCircuit

    backend = AzureQuantumProvider(workspace(gateway, namespace)).get_backend("ionq.simulator")
    circuit = QuantumCircuit(2, 2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    result = backend.run(circuit, shots=200).result(timeout=240)
    counts = result.get_counts(circuit)
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 200 and len(counts) == 2


def test_the_cirq_service_runs_a_circuit(gateway: Gateway, namespace: str) -> None:
    """azure-quantum[cirq]: AzureQuantumService sends an IonQ circuit to ionq.simulator and samples its
    probabilities into repetitions."""
    import cirq
    from azure.quantum.cirq import AzureQuantumService

    a, b = cirq.LineQubit.range(2)
    program = cirq.Circuit(cirq.H(a), cirq.CNOT(a, b), cirq.measure(a, b, key="m"))
    service = AzureQuantumService(workspace=workspace(gateway, namespace), default_target="ionq.simulator")
    result = service.run(program, repetitions=100, timeout_seconds=240)
    measured = {tuple(row) for row in result.measurements["m"].tolist()}
    assert measured <= {(0, 0), (1, 1)} and len(result.measurements["m"]) == 100


def test_a_kubectl_session_is_the_sdks_session(gateway: Gateway, api_client: client.ApiClient,
                                               namespace: str) -> None:
    q.create(api_client, namespace, "quantumsessions", {
        "kind": "QuantumSession", "metadata": {"name": "from-kubectl"},
        "spec": {"workspace": "ws", "provider": "kuantum", "target": "kuantum.simulator", "name": "made with kubectl",
                 "jobFailurePolicy": "Continue"}})
    wait_session(api_client, namespace, "from-kubectl", "Waiting", timeout=60)
    session_id = (q.get(api_client, namespace, "quantumsessions", "from-kubectl") or {})["status"]["id"]
    ws = workspace(gateway, namespace)
    seen = ws.get_session(session_id)
    assert seen.details.name == "made with kubectl" and seen.details.job_failure_policy == "Continue"
    assert [s.id for s in ws.list_sessions()] == [session_id]
    # The SDK's job joins it, a kubectl job too (spec.session names the object).
    target = simulator(ws)
    target.latest_session = Session(ws, details=seen.details)
    joined = bell(target, "joined")
    q.create(api_client, namespace, "quantumjobs", {
        "kind": "QuantumJob", "metadata": {"name": "kubectl-job"},
        "spec": {"workspace": "ws", "provider": "kuantum", "target": "kuantum.simulator", "session": "from-kubectl",
                 "inputDataFormat": "ionq.circuit.v1", "inputParams": {"shots": 10}, "input": {"inline": BELL}}})
    kubectl_id = q.wait_state(api_client, namespace, "kubectl-job", "Succeeded", timeout=240)["id"]
    joined.wait_until_completed(timeout_secs=240)
    assert {j.id for j in ws.list_session_jobs(session_id)} == {joined.id, kubectl_id}
    q.patch(api_client, namespace, "quantumsessions", "from-kubectl", {"spec": {"close": True}})
    wait_session(api_client, namespace, "from-kubectl", "Succeeded")
    assert ws.get_session(session_id).details.status == "Succeeded"
