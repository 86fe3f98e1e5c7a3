"""No two jobs share one job's data: a job id is unique per workspace (case-insensitive), on the dev cluster with
Azurite. A second job asking for an id in use fails at once with DuplicateJobId naming the job that holds it (or is
refused by the webhook where it runs), and the storage side holds too: the container records the job it was made
for, so a job in another namespace whose workspace shares the storage account never writes into it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.integration.test_webhook import serving_webhook
from tests.support import quantum as q
from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess

pytestmark = pytest.mark.integration


def _fresh_id() -> str:
    """A new id for every run: job containers outlive their jobs, and the dev cluster's Azurite keeps its data
    between runs, so a fixed id would find the last run's container and rightly fail as a duplicate."""
    return str(uuid.uuid4())


def _job(name: str, job_id: str, sweeps: int) -> dict[str, Any]:
    return {"kind": "QuantumJob", "metadata": {"name": name},
            "spec": {"id": job_id, "workspace": "ws", "provider": "microsoft-qio",
                     "target": "microsoft.simulatedannealing.cpu",
                     "inputParams": {"params": {"sweeps": sweeps, "seed": 3}}, "input": {"inline": q.ISING}}}


def _container(conn: str, job_id: str) -> Any:
    return BlobServiceClient.from_connection_string(conn).get_container_client(f"job-{job_id}")


def test_a_second_job_with_the_same_id_in_another_case_fails_and_never_touches_the_first(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, azurite_connection_string: str,
    operator: OperatorProcess,
) -> None:
    ns = namespace
    client_id = _fresh_id()
    q.storage_secret(core, ns, azurite_connection_string)
    q.workspace(api_client, ns)
    q.create(api_client, ns, "quantumjobs", _job("first", client_id, 60))
    first = q.wait_state(api_client, ns, "first", q.FINAL, timeout=180)
    q.create(api_client, ns, "quantumjobs", _job("second", client_id.upper(), 7))
    second = q.wait_state(api_client, ns, "second", q.FINAL, timeout=60)
    assert first["state"] == "Succeeded" and first["id"] == client_id
    assert second["state"] == "Failed", second
    assert second["errorData"]["code"] == "DuplicateJobId"
    assert "QuantumJob first" in second["errorData"]["message"]
    assert second["id"] != client_id
    container = _container(azurite_connection_string, client_id)
    assert container.get_container_properties().metadata["kuantumjob"] == f"{ns}/first"
    output = json.loads(container.download_blob("outputData").readall())
    assert output["parameters"]["sweeps"] == 60, "the output is the first job's, never overwritten"
    q.wait_for_events(core, ns, "second", "Failed")


def test_a_job_in_another_namespace_sharing_the_storage_account_never_writes_into_the_container(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, azurite_connection_string: str,
    operator: OperatorProcess, tmp_path_factory: pytest.TempPathFactory, cluster: Any,
) -> None:
    other = f"{namespace}-b"
    core.create_namespace({"metadata": {"name": other, "labels": {"kuantum.dev/test": "true"}}})
    job_id = _fresh_id()
    second_operator = OperatorProcess(cluster.kubeconfig, other, tmp_path_factory.mktemp("other")).start()
    try:
        for ns in (namespace, other):
            q.storage_secret(core, ns, azurite_connection_string)
            q.workspace(api_client, ns)
        q.create(api_client, namespace, "quantumjobs", _job("owner", job_id, 60))
        assert q.wait_state(api_client, namespace, "owner", q.FINAL, timeout=180)["state"] == "Succeeded"
        q.create(api_client, other, "quantumjobs", _job("intruder", job_id, 7))
        intruder = q.wait_state(api_client, other, "intruder", q.FINAL, timeout=120)
        assert intruder["state"] == "Failed" and intruder["errorData"]["code"] == "DuplicateJobId", intruder
        assert f"{namespace}/owner" in intruder["errorData"]["message"]
        output = json.loads(_container(azurite_connection_string, job_id).download_blob("outputData").readall())
        assert output["parameters"]["sweeps"] == 60
    finally:
        q.delete_all_jobs(api_client, other)
        second_operator.stop()
        core.delete_namespace(other)


def test_the_webhook_refuses_a_job_whose_id_is_in_use(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, azurite_connection_string: str,
    cluster: Any, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    ns = namespace
    q.storage_secret(core, ns, azurite_connection_string)
    q.workspace(api_client, ns)
    job_id = _fresh_id()
    with serving_webhook(cluster, api_client, ns, tmp_path_factory):
        q.create(api_client, ns, "quantumjobs", _job("holder", job_id, 10))
        wait_for(lambda: q.job_status(api_client, ns, "holder").get("id"), timeout=60, what="holder accepted")

        def refused() -> ApiException | None:
            try:
                q.create(api_client, ns, "quantumjobs", _job("copy", job_id.upper(), 10))
            except ApiException as e:
                return e
            q.custom(api_client).delete_namespaced_custom_object(q.GROUP, q.VERSION, ns, "quantumjobs", "copy")
            return None  # the webhook was not serving yet: try again
        error = wait_for(refused, timeout=60, what="the webhook refusing the id in use")
        assert error.status == 409 and "already used by QuantumJob holder" in str(error.body)
