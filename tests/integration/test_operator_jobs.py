"""QuantumJob lifecycle on the dev cluster: real apiserver, a kubelet running the solver image, and Azurite."""

from __future__ import annotations

import gzip
import json
import re
import time
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support import devcluster
from tests.support import quantum as q
from tests.support.kube import kubectl, wait_for
from tests.support.operator import OperatorProcess

pytestmark = pytest.mark.integration
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")



def _blob(conn: str, uri: str) -> tuple[bytes, Any]:
    service = BlobServiceClient.from_connection_string(conn)
    container, blob = uri.split("/devstoreaccount1/", 1)[1].split("/", 1)
    client_ = service.get_blob_client(container, blob)
    return client_.download_blob(decompress=False).readall(), client_.get_blob_properties()


def _spin_product(configuration: dict[str, int], ids: list[int]) -> int:
    product = 1
    for i in ids:
        product *= configuration[str(i)]
    return product


def _running_solver(core: client.CoreV1Api, namespace: str) -> str | None:
    """The container id of the job's running solver, once the kubelet reports it running."""
    for pod in core.list_namespaced_pod(namespace, label_selector="kuantum.dev/job-id").items:
        for status in pod.status.container_statuses or []:
            if status.state.running and status.container_id:
                return str(status.container_id.split("://", 1)[1])
    return None


def _batch_jobs(api_client: client.ApiClient, namespace: str) -> list[Any]:
    return client.BatchV1Api(api_client).list_namespaced_job(namespace, label_selector="kuantum.dev/job-id").items


def test_job_succeeds_with_output_events_and_hardened_pod(
    api_client: client.ApiClient, core: client.CoreV1Api, ready_workspace: str, azurite_connection_string: str,
    cluster: Any,
) -> None:
    ns = ready_workspace
    q.sa_job(api_client, ns, "ising")
    status = q.wait_state(api_client, ns, "ising", q.FINAL)
    assert status["state"] == "Succeeded", status
    job = q.get(api_client, ns, "quantumjobs", "ising")
    assert job is not None
    assert UUID.match(status["id"])
    assert job["metadata"]["labels"]["kuantum.dev/job-id"] == status["id"]
    assert "kuantum.dev/cleanup" in job["metadata"]["finalizers"]
    for field in ("creationTime", "beginExecutionTime", "endExecutionTime", "inputDataUri", "outputDataUri"):
        assert status.get(field), field
    assert status["usage"]["executionSeconds"] >= 0
    assert status["observedGeneration"] == job["metadata"]["generation"]
    assert q.condition(status, "Ready")["status"] == "True"  # type: ignore[index]
    assert q.condition(status, "Reconciling") is None
    # Azure Quantum's layout: container job-<id>, gzip-compressed QIO input, JSON output with a configuration
    assert f"/job-{status['id']}/inputData" in status["inputDataUri"]
    raw, props = _blob(azurite_connection_string, status["inputDataUri"])
    assert props.content_settings.content_encoding == "gzip"
    assert json.loads(gzip.decompress(raw))["cost_function"]["type"] == "ising"
    output = json.loads(_blob(azurite_connection_string, status["outputDataUri"])[0])
    # q.ISING's unique ground state: every term at -|c| (s0 = s1 = s2 = +1, s3 = -1), cost -5
    assert output["configuration"] == {"0": 1, "1": 1, "2": 1, "3": -1}, output
    assert output["cost"] == pytest.approx(-5.0)
    terms: list[dict[str, Any]] = json.loads(json.dumps(q.ISING))["cost_function"]["terms"]
    recomputed = sum(t["c"] * _spin_product(output["configuration"], t["ids"]) for t in terms)
    assert recomputed == pytest.approx(output["cost"])
    q.wait_for_events(core, ns, "ising", "Queued", "Executing", "Succeeded")
    # the solver ran as a hardened batch/v1 Job owned by the QuantumJob; its SAS Secret is gone afterwards
    batch_job = _batch_jobs(api_client, ns)[0]
    assert batch_job.metadata.owner_references[0].kind == "QuantumJob"
    assert batch_job.spec.backoff_limit == 0
    pod_spec = batch_job.spec.template.spec
    container = pod_spec.containers[0]
    assert pod_spec.automount_service_account_token is False
    assert pod_spec.security_context.run_as_non_root is True
    assert pod_spec.security_context.seccomp_profile.type == "RuntimeDefault"
    assert container.security_context.read_only_root_filesystem is True
    assert container.security_context.capabilities.drop == ["ALL"]
    assert container.resources.requests["cpu"]
    wait_for(lambda: not core.list_namespaced_secret(ns, label_selector="kuantum.dev/job-id").items,
             what="SAS secret deleted")
    table = kubectl(cluster.kubeconfig, "get", "quantum", "-n", ns).stdout
    assert "Succeeded" in table and "microsoft.simulatedannealing.cpu" in table


def test_invalid_jobs_fail_with_specific_errors(api_client: client.ApiClient, ready_workspace: str) -> None:
    ns = ready_workspace
    q.sa_job(api_client, ns, "bad-params", inputParams={"params": {"sweeps": 0}})
    q.sa_job(api_client, ns, "bad-target", target="microsoft.nosuchsolver.cpu")
    q.sa_job(api_client, ns, "bad-format", inputDataFormat="ionq.circuit.v1")
    q.sa_job(api_client, ns, "bad-problem", input={"inline": {"cost_function": {"type": "ising", "terms": [
        {"c": "lots", "ids": [0, 1]}]}}})
    expected = {"bad-params": ("InvalidParameters", "sweeps"), "bad-target": ("InvalidTarget", "nosuchsolver"),
                "bad-format": ("InvalidInputFormat", "ionq.circuit.v1"), "bad-problem": ("InvalidInputData", "")}
    for name, (code, text) in expected.items():
        status = q.wait_state(api_client, ns, name, q.FINAL)
        assert status["state"] == "Failed", (name, status)
        assert status["errorData"]["code"] == code, (name, status["errorData"])
        assert text in status["errorData"]["message"]
        assert q.condition(status, "Stalled")["status"] == "True"  # type: ignore[index]
    assert "inputDataUri" not in q.job_status(api_client, ns, "bad-params"), "invalid jobs are not uploaded"


def test_gitops_order_job_waits_for_what_is_missing(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, azurite_connection_string: str,
    operator: OperatorProcess,
) -> None:
    ns = namespace
    q.create(api_client, ns, "quantumjobs", {"kind": "QuantumJob", "metadata": {"name": "early"}, "spec": {
        "workspace": "late", "provider": "kuantum", "target": "kuantum.simulator",
        "inputDataFormat": "ionq.circuit.v1", "inputParams": {"shots": 10},
        "input": {"configMapKeyRef": {"name": "circuit", "key": "bell.json"}}}})

    def queued_reason() -> str | None:
        cond = q.condition(q.job_status(api_client, ns, "early"), "Queued")
        return cond["reason"] if cond else None

    assert wait_for(lambda: queued_reason() == "WorkspaceNotFound" and "late" in str(
        q.condition(q.job_status(api_client, ns, "early"), "Queued")), what="WorkspaceNotFound")
    assert q.job_status(api_client, ns, "early")["state"] == "Waiting"
    q.storage_secret(core, ns, azurite_connection_string)
    q.workspace(api_client, ns, "late")
    wait_for(lambda: queued_reason() == "ProviderNotFound", what="ProviderNotFound")
    q.provider(api_client, ns, "sim", "kuantum", workspace="late")
    wait_for(lambda: queued_reason() == "InputNotFound", what="InputNotFound")
    assert "circuit" in q.condition(q.job_status(api_client, ns, "early"), "Queued")["message"]  # type: ignore[index]
    circuit = {"qubits": 2, "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]}
    core.create_namespaced_config_map(ns, {"metadata": {"name": "circuit"},  # type: ignore[arg-type]
                                           "data": {"bell.json": json.dumps(circuit)}})
    status = q.wait_state(api_client, ns, "early", q.FINAL, timeout=180)
    assert status["state"] == "Succeeded", status
    q.wait_for_events(core, ns, "early", "WorkspaceNotFound", "ProviderNotFound")


def test_cancel_while_waiting_and_while_executing(
    api_client: client.ApiClient, core: client.CoreV1Api, ready_workspace: str, cluster: Any,
) -> None:
    ns = ready_workspace
    q.sa_job(api_client, ns, "never", cancel=True)
    status = q.wait_state(api_client, ns, "never", q.FINAL)
    assert status["state"] == "Cancelled" and status["cancellationTime"]
    assert "beginExecutionTime" not in status

    q.long_job(api_client, ns, "busy")
    q.wait_state(api_client, ns, "busy", "Executing")
    container = wait_for(lambda: _running_solver(core, ns), what="the solver container running")
    node = devcluster.node(cluster) if cluster.state_dir else None
    assert node is None or container in node.running_containers()
    q.patch(api_client, ns, "quantumjobs", "busy", {"spec": {"cancel": True}})
    status = q.wait_state(api_client, ns, "busy", q.FINAL, timeout=60)
    assert status["state"] == "Cancelled"
    assert status["cancellationTime"] and status["endExecutionTime"]
    assert "executionSeconds" in status["usage"], "partial work is billed"
    if node is not None:
        wait_for(lambda: container not in node.running_containers(), timeout=60, what="the solver container stopped")
    q.wait_for_events(core, ns, "busy", "Cancelled")


def test_deleting_an_executing_job_cancels_and_cleans_up_but_keeps_blobs(
    api_client: client.ApiClient, core: client.CoreV1Api, ready_workspace: str, azurite_connection_string: str,
) -> None:
    ns = ready_workspace
    q.long_job(api_client, ns, "doomed")
    status = q.wait_state(api_client, ns, "doomed", "Executing")
    q.custom(api_client).delete_namespaced_custom_object(q.GROUP, q.VERSION, ns, "quantumjobs", "doomed")
    wait_for(lambda: q.get(api_client, ns, "quantumjobs", "doomed") is None, timeout=60, what="job deleted")
    wait_for(lambda: not core.list_namespaced_pod(ns, label_selector="kuantum.dev/job-id").items, timeout=60,
             what="pods gone")
    wait_for(lambda: not core.list_namespaced_secret(ns, label_selector="kuantum.dev/job-id").items, timeout=60,
             what="secret gone")
    assert _blob(azurite_connection_string, status["inputDataUri"])[0], "input blob is the user's data"


def test_timeout_fails_the_job(api_client: client.ApiClient, ready_workspace: str) -> None:
    ns = ready_workspace
    q.long_job(api_client, ns, "slow", timeoutSeconds=3)
    status = q.wait_state(api_client, ns, "slow", q.FINAL, timeout=90)
    assert status["state"] == "Failed"
    assert status["errorData"]["code"] == "Timeout"


def test_immutable_spec_change_is_ignored_and_ttl_deletes(api_client: client.ApiClient, ready_workspace: str) -> None:
    ns = ready_workspace
    q.long_job(api_client, ns, "steady", tags=["a"])
    q.wait_state(api_client, ns, "steady", ("Waiting", "Executing"))
    q.patch(api_client, ns, "quantumjobs", "steady", {"spec": {"target": "microsoft.tabu.cpu", "tags": ["b"]}})
    cond = wait_for(lambda: q.condition(q.job_status(api_client, ns, "steady"), "SpecChangeIgnored"),
                    what="SpecChangeIgnored")
    assert "target" in cond["message"] and "tags" not in cond["message"].split("(")[0]
    q.patch(api_client, ns, "quantumjobs", "steady", {"spec": {"cancel": True}})
    # Cancelled once its solver pod is gone: on a loaded node that took over 60 s once (CI dry run, 2026-12-07).
    q.wait_state(api_client, ns, "steady", "Cancelled", timeout=180)

    q.sa_job(api_client, ns, "fleeting", ttlSecondsAfterFinished=2)
    q.wait_state(api_client, ns, "fleeting", "Succeeded")
    wait_for(lambda: q.get(api_client, ns, "quantumjobs", "fleeting") is None, timeout=60, what="TTL deletion")


def test_queue_respects_plan_concurrency_priority_and_positions(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, azurite_connection_string: str,
    operator: OperatorProcess,
) -> None:
    ns = namespace
    q.storage_secret(core, ns, azurite_connection_string)
    # The user's own QIO provider, created first, carries the plan: one job at a time.
    q.provider(api_client, ns, "qio", "Microsoft", limits={"maxConcurrentJobs": 1})
    q.workspace(api_client, ns)
    q.long_job(api_client, ns, "first")
    q.wait_state(api_client, ns, "first", "Executing")
    q.sa_job(api_client, ns, "standard-1")
    time.sleep(1.1)  # creation timestamps have one-second resolution
    q.sa_job(api_client, ns, "standard-2")
    q.sa_job(api_client, ns, "urgent", priority="High")

    def positions() -> dict[str, int] | None:
        found = {n: q.job_status(api_client, ns, n).get("queuePosition") for n in ("standard-1", "standard-2",
                                                                                   "urgent")}
        return found if all(found.values()) else None  # type: ignore[return-value]

    expected = {"urgent": 1, "standard-1": 2, "standard-2": 3}
    wait_for(lambda: positions() == expected, timeout=30, what=f"queue positions {expected}")
    assert len(_batch_jobs(api_client, ns)) == 1, "the plan allows one executing job"
    provider = q.get(api_client, ns, "providers", "qio")
    sa = next(t for t in provider["status"]["targets"] if t["id"] == "microsoft.simulatedannealing.cpu")  # type: ignore[index]
    assert sa["kind"] == "solver" and sa["hardware"] == "CPU" and sa["cancelWhileExecuting"] is True
    q.patch(api_client, ns, "quantumjobs", "first", {"spec": {"cancel": True}})
    begins = {n: q.wait_state(api_client, ns, n, "Succeeded")["beginExecutionTime"]
              for n in ("urgent", "standard-1", "standard-2")}
    assert begins["urgent"] <= begins["standard-1"] <= begins["standard-2"]
    # the workspace did not create a second QIO provider (the user's counts), only the resource estimator's
    providers = q.custom(api_client).list_namespaced_custom_object(q.GROUP, q.VERSION, ns, "providers")["items"]
    assert sorted((p["metadata"]["name"], p["spec"]["providerId"]) for p in providers) == [
        ("qio", "Microsoft"), ("ws-microsoft-qc", "microsoft-qc")]


def test_no_two_jobs_ever_show_one_queue_position(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, azurite_connection_string: str,
    operator: OperatorProcess,
) -> None:
    """Six Standard jobs, then two High ones, behind one executing job (positions once read High 1, 2, Standard 3, 4,
    5, 5, 5, 6 for good): once the queue settles the front shows exact places, deeper jobs none, and the Provider's
    status lists the whole order; `kubectl get qjob -o wide` shows no place twice."""
    ns = namespace
    q.storage_secret(core, ns, azurite_connection_string)
    q.provider(api_client, ns, "qio", "Microsoft", limits={"maxConcurrentJobs": 1})
    q.workspace(api_client, ns)
    q.long_job(api_client, ns, "first")
    q.wait_state(api_client, ns, "first", "Executing")
    standard = [f"standard-{i}" for i in range(6)]
    for name in standard:
        q.sa_job(api_client, ns, name)
        time.sleep(1.1)  # creation timestamps have one-second resolution: a strict order
    q.sa_job(api_client, ns, "high-0", priority="High")
    time.sleep(1.1)
    q.sa_job(api_client, ns, "high-1", priority="High")
    names = ["high-0", "high-1", *standard]
    expected = dict(zip(names, [1, 2, 3, 4, 5, None, None, None], strict=True))

    def shown() -> dict[str, int | None]:
        return {n: q.job_status(api_client, ns, n).get("queuePosition") for n in names}
    wait_for(lambda: shown() == expected, timeout=30, what=f"queue positions {expected}")
    time.sleep(3)  # several refresh rounds later (1 s each here): still true
    assert shown() == expected
    # The wide output's Queue column (.status.queuePosition), as kubectl prints it.
    column = kubectl(operator.kubeconfig, "-n", ns, "get", "qjob", "--no-headers",
                     "-o", "custom-columns=QUEUE:.status.queuePosition").stdout.split()
    assert sorted(place for place in column if place != "<none>") == ["1", "2", "3", "4", "5"], column

    def listed() -> list[str]:
        provider = q.get(api_client, ns, "providers", "qio")
        targets = provider.get("status", {}).get("targets", [])  # type: ignore[union-attr]
        sa = next(t for t in targets if t["id"] == "microsoft.simulatedannealing.cpu")
        return list(sa.get("queue", []))[:8]
    # A Provider's counters (queue, depth, usage) are written at most every 5 s, so busy queues cause no write
    # storm: the listed order follows within that.
    wait_for(lambda: listed() == names, timeout=20, what=f"the Provider's queue {names}")
    q.patch(api_client, ns, "quantumjobs", "first", {"spec": {"cancel": True}})


def test_duplicate_provider_and_monthly_quota(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, azurite_connection_string: str,
    operator: OperatorProcess,
) -> None:
    ns = namespace
    q.storage_secret(core, ns, azurite_connection_string)
    q.workspace(api_client, ns)
    q.provider(api_client, ns, "sim", "kuantum", limits={"maxJobsPerMonth": 1})
    time.sleep(1.1)
    q.provider(api_client, ns, "sim-again", "KUANTUM")

    def ready(name: str) -> dict[str, Any] | None:
        body = q.get(api_client, ns, "providers", name) or {}
        return q.condition(body.get("status") or {}, "Ready")

    dup = wait_for(lambda: (c := ready("sim-again")) and c["reason"] == "DuplicateProvider" and c, what="duplicate")
    assert dup["status"] == "False" and "sim" in dup["message"]
    assert ready("sim")["status"] == "True"  # type: ignore[index]
    q.wait_for_events(core, ns, "sim-again", "DuplicateProvider")
    circuit = {"inline": {"qubits": 1, "circuit": [{"gate": "x", "target": 0}]}}
    for name in ("one", "two"):
        q.create(api_client, ns, "quantumjobs", {"kind": "QuantumJob", "metadata": {"name": name}, "spec": {
            "workspace": "ws", "provider": "kuantum", "target": "kuantum.simulator", "input": circuit}})
        q.wait_state(api_client, ns, name, q.FINAL, timeout=120)
    states = {n: q.job_status(api_client, ns, n) for n in ("one", "two")}
    assert states["one"]["state"] == "Succeeded", states["one"]
    assert states["two"]["state"] == "Failed" and states["two"]["errorData"]["code"] == "QuotaExceeded"


def test_workspace_reports_missing_secret_then_recovers(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, azurite_connection_string: str,
    operator: OperatorProcess,
) -> None:
    ns = namespace
    q.workspace(api_client, ns)

    def ready() -> dict[str, Any] | None:
        return q.condition((q.get(api_client, ns, "quantumworkspaces", "ws") or {}).get("status") or {}, "Ready")

    cond = wait_for(lambda: (c := ready()) and c["reason"] == "SecretNotFound" and c, what="SecretNotFound")
    assert cond["status"] == "False" and "storage" in cond["message"]
    core.create_namespaced_secret(ns, {"metadata": {"name": "storage"},  # type: ignore[arg-type]
                                       "stringData": {"wrong": azurite_connection_string}})
    wait_for(lambda: (c := ready()) and c["reason"] == "SecretKeyNotFound", timeout=60, what="SecretKeyNotFound")
    core.patch_namespaced_secret("storage", ns, {"stringData": {"connectionString": azurite_connection_string}})
    wait_for(lambda: (c := ready()) and c["status"] == "True", timeout=120, what="workspace ready")
    status = (q.get(api_client, ns, "quantumworkspaces", "ws") or {})["status"]
    assert status["storageAccount"] == "devstoreaccount1"
    listed = wait_for(lambda: len(p := (q.get(api_client, ns, "quantumworkspaces", "ws") or {})["status"].get(
        "providers") or []) == 2 and p, what="both default providers listed")
    assert sorted(p["providerId"] for p in listed) == ["microsoft-qc", "microsoft-qio"]
    q.wait_for_events(core, ns, "ws", "SecretNotFound", "Ready")


def test_metrics_endpoint(api_client: client.ApiClient, ready_workspace: str, operator: OperatorProcess) -> None:
    q.sa_job(api_client, ready_workspace, "counted")
    q.wait_state(api_client, ready_workspace, "counted", "Succeeded")
    text = operator.metrics()
    from prometheus_client.parser import text_string_to_metric_families

    succeeded = [s for family in text_string_to_metric_families(text) for s in family.samples
                 if s.name == "kuantum_job_transitions_total" and s.labels["state"] == "Succeeded"]
    assert [(s.labels["namespace"], s.labels["workspace"], s.labels["provider"], s.value) for s in succeeded] == \
        [(ready_workspace, "ws", "microsoft-qio", 1.0)]
    assert "kuantum_api_writes_total" in text and "kuantum_job_queue_wait_seconds_bucket" in text
    assert "process_cpu_seconds_total" in text and 'kuantum_leader{identity=' in text


def test_examples_apply_and_run(api_client: client.ApiClient, core: client.CoreV1Api, namespace: str,
                                azurite_connection_string: str, operator: OperatorProcess, cluster: Any) -> None:
    ns = namespace
    core.create_namespaced_secret(ns, {"metadata": {"name": "demo-storage"},  # type: ignore[arg-type]
                                       "stringData": {"connectionString": azurite_connection_string}})
    kubectl(cluster.kubeconfig, "apply", "-n", ns, "-f", "examples/")
    expected = {"ising-sa": "Succeeded", "ising-bad-params": "Failed", "ising-cancelled": "Cancelled",
                "bell": "Succeeded", "bell-in-session": "Succeeded"}
    for name, state in expected.items():
        assert q.wait_state(api_client, ns, name, q.FINAL, timeout=180)["state"] == state, name
    # The example session follows its job (open: Executing once a job began; it times out a minute later).
    wait_for(lambda: ((q.get(api_client, ns, "quantumsessions", "bell-loop") or {}).get("status") or {}).get(
        "jobCounts") == {"Succeeded": 1}, timeout=60, what="session bell-loop counts its job")


def test_unknown_reference_never_crash_loops(api_client: client.ApiClient, ready_workspace: str,
                                             operator: OperatorProcess) -> None:
    ns = ready_workspace
    q.create(api_client, ns, "quantumjobs", {"kind": "QuantumJob", "metadata": {"name": "nope"}, "spec": {
        "workspace": "ws", "provider": "no-such-provider", "target": "x", "input": {"inline": "text"}}})
    cond = wait_for(lambda: q.condition(q.job_status(api_client, ns, "nope"), "Queued"), what="condition")
    assert cond["reason"] == "ProviderNotFound" and "no-such-provider" in cond["message"]
    assert operator.proc is not None and operator.proc.poll() is None
    with pytest.raises(ApiException):
        q.create(api_client, ns, "quantumjobs", {"kind": "QuantumJob", "metadata": {"name": "no-input"}, "spec": {
            "workspace": "ws", "provider": "kuantum", "target": "kuantum.simulator"}})


def test_a_circuit_too_big_for_the_pods_memory_is_refused_before_allocating(
    api_client: client.ApiClient, ready_workspace: str
) -> None:
    """28 qubits are a 4 GiB state; kuantum.simulator's pods have a 1 GiB limit, which the solver reads from its
    container's cgroup and refuses up front (on a node that enforced no limit this once Succeeded)."""
    ns = ready_workspace
    q.provider(api_client, ns, "sim", "kuantum")
    circuit = {"qubits": 28, "circuit": [{"gate": "h", "target": i} for i in range(28)]}
    q.create(api_client, ns, "quantumjobs", {"kind": "QuantumJob", "metadata": {"name": "huge"}, "spec": {
        "workspace": "ws", "provider": "kuantum", "target": "kuantum.simulator", "inputDataFormat": "ionq.circuit.v1",
        "outputDataFormat": "ionq.quantum-results.v1", "input": {"inline": circuit}}})
    status = q.wait_state(api_client, ns, "huge", q.FINAL, timeout=180)
    assert status["state"] == "Failed", status
    assert status["errorData"]["code"] == "InsufficientMemory"
    message = status["errorData"]["message"]
    assert "a 28-qubit statevector needs 8.0 GiB (8589934592 bytes)" in message
    assert "the container's memory limit of 1.0 GiB" in message


def test_a_solver_killed_at_its_memory_limit_fails_out_of_memory(
    api_client: client.ApiClient, ready_workspace: str
) -> None:
    """A limit smaller than the solver's own start (Python, numpy, numba): the kernel kills it, and the job says so
    and names the limit."""
    ns = ready_workspace
    q.provider(api_client, ns, "qio-tight", "microsoft-qio",
               targets=[{"id": "microsoft.simulatedannealing.cpu", "memory": "40Mi"}])
    q.sa_job(api_client, ns, "squeezed")
    status = q.wait_state(api_client, ns, "squeezed", q.FINAL, timeout=180)
    assert status["state"] == "Failed", status
    assert status["errorData"]["code"] == "OutOfMemory", status["errorData"]
    assert "memory limit of 40Mi" in status["errorData"]["message"]
