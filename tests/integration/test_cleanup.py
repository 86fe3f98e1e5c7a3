"""Nothing the operator creates outlives its purpose: after every final state, however reached, the job's
SAS Secret is gone at once, and its solver Job and pod once child_retention_seconds have passed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from tests.support import devcluster
from tests.support import quantum as q
from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess

pytestmark = pytest.mark.integration
CHILDREN = "kuantum.dev/job-id"


@pytest.fixture
def short_retention(cluster: devcluster.Cluster, api_client: client.ApiClient, namespace: str,
                    tmp_path: Path) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(cluster.kubeconfig, namespace, tmp_path,
                           env={"KUANTUM_CHILD_RETENTION_SECONDS": "2"}).start()
    try:
        yield proc
    finally:
        if proc.proc and proc.proc.poll() is None:
            q.delete_all_jobs(api_client, namespace)
        proc.stop()


def test_secrets_solver_jobs_and_pods_are_gone_after_every_final_state(
        api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, azurite_connection_string: str,
        short_retention: OperatorProcess) -> None:
    ns = namespace
    q.storage_secret(core, ns, azurite_connection_string)
    q.workspace(api_client, ns)
    q.sa_job(api_client, ns, "succeeds")
    q.sa_job(api_client, ns, "fails", input={"inline": {"cost_function": {"type": "ising", "terms": [
        {"c": "lots", "ids": [0, 1]}]}}})
    q.long_job(api_client, ns, "cancelled-executing")
    q.long_job(api_client, ns, "timed-out", timeoutSeconds=3)
    q.wait_state(api_client, ns, "cancelled-executing", "Executing", timeout=120)
    q.patch(api_client, ns, "quantumjobs", "cancelled-executing", {"spec": {"cancel": True}})
    expected = {"succeeds": "Succeeded", "fails": "Failed", "cancelled-executing": "Cancelled", "timed-out": "Failed"}
    for name, state in expected.items():
        assert q.wait_state(api_client, ns, name, q.FINAL, timeout=120)["state"] == state, name
    batch = client.BatchV1Api(api_client)
    wait_for(lambda: not core.list_namespaced_secret(ns, label_selector=CHILDREN).items or None, timeout=60,
             what="every SAS Secret deleted")
    wait_for(lambda: not batch.list_namespaced_job(ns, label_selector=CHILDREN).items or None, timeout=90,
             what="every solver Job deleted")
    wait_for(lambda: not core.list_namespaced_pod(ns, label_selector=CHILDREN).items or None, timeout=90,
             what="every solver pod deleted")
    for name, state in expected.items():  # their deletion changed nothing in the jobs
        assert q.job_status(api_client, ns, name)["state"] == state, name
