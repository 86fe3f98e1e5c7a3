"""Warm solver workers on the dev cluster's real node (execution/pool/, kuantum_solvers/worker.py): the operator
(KUANTUM_SOLVER_POOL_SIZE=2) starts worker pods from the solver image, hands them jobs over the worker contract and
mirrors their runs; what a worker's loss, a cancel, an operator restart and a limit too small to start in do."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from azure.storage.blob import BlobServiceClient
from kubernetes import client

from tests.support import devcluster
from tests.support import quantum as q
from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
POOL = "kuantum.dev/pool"
SA = "microsoft.simulatedannealing.cpu"


@pytest.fixture
def pool_workspace(cluster: devcluster.Cluster, api_client: client.ApiClient, core: client.CoreV1Api, namespace: str,
                   azurite_connection_string: str, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[tuple[str, OperatorProcess]]:
    """Workspace `ws` watched by an operator whose local targets run on pools of up to 2 workers."""
    with q.operator_for(cluster.kubeconfig, api_client, namespace, tmp_path_factory.mktemp("pool"),
                        env={"KUANTUM_SOLVER_POOL_SIZE": "2"}) as proc:
        q.storage_secret(core, namespace, azurite_connection_string)
        q.workspace(api_client, namespace)
        yield namespace, proc


def workers(core: client.CoreV1Api, ns: str) -> list[client.V1Pod]:
    return core.list_namespaced_pod(ns, label_selector=POOL).items


def worker_log(core: client.CoreV1Api, ns: str) -> str:
    return "\n".join(core.read_namespaced_pod_log(p.metadata.name, ns) or "" for p in workers(core, ns))


def test_jobs_run_on_warm_workers_with_no_batch_job_and_their_output_and_logs_kept(
        api_client: client.ApiClient, core: client.CoreV1Api, azurite_connection_string: str,
        pool_workspace: tuple[str, OperatorProcess]) -> None:
    ns, _ = pool_workspace
    names = [f"pooled-{i}" for i in range(4)]
    for name in names:
        q.sa_job(api_client, ns, name)
    q.provider(api_client, ns, "sim", "kuantum")
    q.create(api_client, ns, "quantumjobs", {"kind": "QuantumJob", "metadata": {"name": "bell"}, "spec": {
        "workspace": "ws", "provider": "kuantum", "target": "kuantum.simulator", "inputDataFormat": "ionq.circuit.v1",
        "outputDataFormat": "ionq.quantum-results.v1", "inputParams": {"shots": 100},
        "input": {"inline": {"qubits": 2, "circuit": [{"gate": "h", "target": 0},
                                                      {"gate": "cnot", "control": 0, "target": 1}]}}}})
    blobs = BlobServiceClient.from_connection_string(azurite_connection_string)
    for name in [*names, "bell"]:
        status = q.wait_state(api_client, ns, name, q.FINAL, timeout=180)
        assert status["state"] == "Succeeded", status
        container = f"job-{status['id']}"
        output = json.loads(blobs.get_blob_client(container, "outputData").download_blob().readall())
        assert output.get("solutions") or output.get("histogram") or output, output
        log = blobs.get_blob_client(container, "logs").download_blob().readall().decode()
        assert "done in" in log, log
    assert not client.BatchV1Api(api_client).list_namespaced_job(ns).items, "no job ran in a batch Job"
    pods = workers(core, ns)
    assert 2 <= len(pods) <= 3, [p.metadata.name for p in pods]  # one pool per shape: QIO (up to 2), simulator
    assert {p.metadata.labels["app.kubernetes.io/component"] for p in pods} == {"solver-worker"}
    assert all(p.spec.automount_service_account_token is False for p in pods)
    log = worker_log(core, ns)
    assert log.count("started, pid") == 5, log  # each job ran once


def test_cancel_stops_the_run_and_a_deleted_worker_fails_its_job(
        api_client: client.ApiClient, core: client.CoreV1Api, pool_workspace: tuple[str, OperatorProcess]) -> None:
    ns, _ = pool_workspace
    q.long_job(api_client, ns, "cancelled")
    q.wait_state(api_client, ns, "cancelled", "Executing", timeout=180)
    q.patch(api_client, ns, "quantumjobs", "cancelled", {"spec": {"cancel": True}})
    assert q.wait_state(api_client, ns, "cancelled", q.FINAL, timeout=60)["state"] == "Cancelled"
    q.long_job(api_client, ns, "orphaned")
    executing = q.wait_state(api_client, ns, "orphaned", "Executing", timeout=120)
    (running,) = [p for p in workers(core, ns) if executing["id"] in worker_log_of(core, ns, p.metadata.name)]
    core.delete_namespaced_pod(running.metadata.name, ns)
    status = q.wait_state(api_client, ns, "orphaned", q.FINAL, timeout=60)
    assert status["state"] == "Failed" and status["errorData"]["code"] == "PodDeleted", status
    q.sa_job(api_client, ns, "after")
    assert q.wait_state(api_client, ns, "after", q.FINAL, timeout=180)["state"] == "Succeeded"


def worker_log_of(core: client.CoreV1Api, ns: str, name: str) -> str:
    return core.read_namespaced_pod_log(name, ns) or ""


def test_a_restarted_operator_finds_its_running_job_on_its_worker_and_it_runs_once(
        api_client: client.ApiClient, core: client.CoreV1Api, pool_workspace: tuple[str, OperatorProcess]) -> None:
    ns, proc = pool_workspace
    q.sa_job(api_client, ns, "survivor", sweeps=3_000_000)  # several seconds
    executing = q.wait_state(api_client, ns, "survivor", "Executing", timeout=180)
    proc.kill()
    proc.start()
    assert q.wait_state(api_client, ns, "survivor", q.FINAL, timeout=180)["state"] == "Succeeded"
    assert worker_log(core, ns).count(f"run {executing['id']} (") == 1


def test_a_worker_killed_at_its_limit_as_it_starts_fails_the_job_naming_the_limit(
        api_client: client.ApiClient, core: client.CoreV1Api, pool_workspace: tuple[str, OperatorProcess]) -> None:
    ns, _ = pool_workspace
    q.provider(api_client, ns, "qio-tight", "microsoft-qio", targets=[{"id": SA, "memory": "40Mi"}])
    q.sa_job(api_client, ns, "squeezed")
    status = q.wait_state(api_client, ns, "squeezed", q.FINAL, timeout=180)
    assert status["state"] == "Failed" and status["errorData"]["code"] == "OutOfMemory", status
    assert "memory limit of 40Mi as it started" in status["errorData"]["message"]
    wait_for(lambda: not [p for p in workers(core, ns) if not p.metadata.deletion_timestamp], timeout=90,
             what="the broken worker to be deleted")
