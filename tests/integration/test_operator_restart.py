"""Restart safety: the operator is SIGKILLed in each state and resumes without losing or repeating work."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from kubernetes import client

from tests.support import quantum as q
from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def workspace_ns(api_client: client.ApiClient, core: client.CoreV1Api, namespace: str,
                 azurite_connection_string: str, operator: OperatorProcess) -> str:
    q.storage_secret(core, namespace, azurite_connection_string)
    q.provider(api_client, namespace, "qio", "microsoft-qio", limits={"maxConcurrentJobs": 1})
    q.workspace(api_client, namespace)
    return namespace


def _children(api_client: client.ApiClient, core: client.CoreV1Api, ns: str) -> tuple[Counter[str], Counter[str]]:
    jobs = client.BatchV1Api(api_client).list_namespaced_job(ns, label_selector="kuantum.dev/job-id").items
    pods = core.list_namespaced_pod(ns, label_selector="kuantum.dev/job-id").items
    return (Counter(j.metadata.labels["kuantum.dev/job-id"] for j in jobs),
            Counter(p.metadata.labels["kuantum.dev/job-id"] for p in pods))


def test_kill_while_waiting_and_executing_resumes_without_rerunning(
    api_client: client.ApiClient, core: client.CoreV1Api, workspace_ns: str, operator: OperatorProcess,
) -> None:
    ns = workspace_ns
    q.long_job(api_client, ns, "running")
    q.wait_state(api_client, ns, "running", "Executing")
    q.sa_job(api_client, ns, "queued")
    q.wait_state(api_client, ns, "queued", "Waiting")
    pod_before = wait_for(lambda: core.list_namespaced_pod(ns, label_selector="kuantum.dev/job-id").items,
                          what="pod")[0].metadata.uid

    operator.restart()  # SIGKILL, then a fresh process
    time.sleep(5)  # give the new operator time to (wrongly) start anything twice
    assert q.job_status(api_client, ns, "running")["state"] == "Executing"
    assert q.job_status(api_client, ns, "queued")["state"] == "Waiting"
    jobs, pods = _children(api_client, core, ns)
    assert sum(jobs.values()) == 1 and sum(pods.values()) == 1, "the plan allows one job; nothing started twice"
    assert core.list_namespaced_pod(ns, label_selector="kuantum.dev/job-id").items[0].metadata.uid == pod_before

    q.patch(api_client, ns, "quantumjobs", "running", {"spec": {"cancel": True}})
    assert q.wait_state(api_client, ns, "running", q.FINAL, timeout=60)["state"] == "Cancelled"
    assert q.wait_state(api_client, ns, "queued", q.FINAL)["state"] == "Succeeded"
    jobs, pods = _children(api_client, core, ns)
    assert set(jobs.values()) == {1} and set(pods.values()) == {1}


def test_kill_during_submission_burst_loses_nothing(
    api_client: client.ApiClient, core: client.CoreV1Api, workspace_ns: str, operator: OperatorProcess,
) -> None:
    ns = workspace_ns
    names = [f"burst-{i}" for i in range(4)]
    for name in names:
        q.sa_job(api_client, ns, name)
    time.sleep(0.5)
    operator.restart()
    time.sleep(1.5)
    operator.restart()
    for name in names:
        assert q.wait_state(api_client, ns, name, q.FINAL, timeout=180)["state"] == "Succeeded", name
    jobs, pods = _children(api_client, core, ns)
    assert len(jobs) == len(names) and set(jobs.values()) == {1}
    assert set(pods.values()) == {1}, "every job ran exactly one pod"
    ids = {q.job_status(api_client, ns, n)["id"] for n in names}
    assert len(ids) == len(names)


def test_final_state_is_never_rewritten_after_restart(
    api_client: client.ApiClient, workspace_ns: str, operator: OperatorProcess, azurite_connection_string: str,
) -> None:
    ns = workspace_ns
    q.sa_job(api_client, ns, "done")
    before = q.wait_state(api_client, ns, "done", q.FINAL)
    assert before["state"] == "Succeeded"
    service = BlobServiceClient.from_connection_string(azurite_connection_string)
    blob = service.get_blob_client(f"job-{before['id']}", "outputData")
    modified = blob.get_blob_properties().last_modified
    job_before: dict[str, Any] = q.get(api_client, ns, "quantumjobs", "done") or {}

    operator.restart()
    time.sleep(5)
    # spec changes after the end do not reopen it either
    q.patch(api_client, ns, "quantumjobs", "done", {"spec": {"cancel": True, "tags": ["late"]}})
    time.sleep(3)
    assert q.job_status(api_client, ns, "done") == before
    assert blob.get_blob_properties().last_modified == modified
    after: dict[str, Any] = q.get(api_client, ns, "quantumjobs", "done") or {}
    assert after["metadata"]["labels"] == job_before["metadata"]["labels"]
