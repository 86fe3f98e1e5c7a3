"""Two operator replicas with leader election: one acts; SIGKILL it and the other takes over, every job
ending exactly once with one solver pod each."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from tests.support import devcluster
from tests.support import quantum as q
from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess

pytestmark = pytest.mark.integration
LEASE = "kuantum-operator"


@pytest.fixture
def replicas(cluster: devcluster.Cluster, api_client: client.ApiClient, namespace: str,
             tmp_path: Path) -> Iterator[list[OperatorProcess]]:
    procs = [OperatorProcess(cluster.kubeconfig, namespace, tmp_path, name=f"replica-{i}",
                             args=["--leader-elect", "--leader-elect-namespace", namespace],
                             env={"KUANTUM_CHILD_RETENTION_SECONDS": "3600"}).start()  # pods kept to count
             for i in range(2)]
    try:
        yield procs
    finally:
        if any(p.proc and p.proc.poll() is None for p in procs):
            q.delete_all_jobs(api_client, namespace)
        for p in procs:
            p.stop()


def _holder_pid(api_client: client.ApiClient, namespace: str) -> int | None:
    try:
        lease = client.CoordinationV1Api(api_client).read_namespaced_lease(LEASE, namespace)
    except client.ApiException:
        return None
    match = re.search(r"-(\d+)-[0-9a-f]{6}$", (lease.spec and lease.spec.holder_identity) or "")
    return int(match.group(1)) if match else None


def test_one_replica_acts_and_a_killed_leader_is_replaced_without_losing_or_duplicating_jobs(
        api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, azurite_connection_string: str,
        replicas: list[OperatorProcess]) -> None:
    ns = namespace
    q.storage_secret(core, ns, azurite_connection_string)
    q.workspace(api_client, ns)
    q.create(api_client, ns, "providers", {"kind": "Provider", "metadata": {"name": "plan"}, "spec": {
        "workspace": "ws", "providerId": "microsoft-qio", "billingPlan": {"name": "two",
                                                                         "limits": {"maxConcurrentJobs": 2}}}})
    pid = wait_for(lambda: _holder_pid(api_client, ns), timeout=60, what="a leader")
    leader = next(p for p in replicas if p.proc and p.proc.pid == pid)
    standby = next(p for p in replicas if p is not leader)
    names = [f"job-{i}" for i in range(6)]
    for name in names:
        q.sa_job(api_client, ns, name, sweeps=20000)
    wait_for(lambda: any(q.job_status(api_client, ns, n).get("state") == "Executing" for n in names) or None,
             timeout=120, what="a job executing")
    assert "kuantum.job" not in standby.log(), "the standby reconciled nothing"
    leader.kill()
    new_pid = wait_for(lambda: (p := _holder_pid(api_client, ns)) != pid and p, timeout=60, what="a new leader")
    assert standby.proc and new_pid == standby.proc.pid
    for name in names:
        assert q.wait_state(api_client, ns, name, q.FINAL, timeout=180)["state"] == "Succeeded", name
    pods = core.list_namespaced_pod(ns, label_selector="kuantum.dev/job-id").items
    per_job = Counter(p.metadata.labels["kuantum.dev/job-id"] for p in pods)
    assert len(per_job) == len(names) and set(per_job.values()) == {1}, per_job
    for name in names:
        events = [r for _, r, _ in q.events_for(core, ns, name)]
        assert events.count("Succeeded") == 1, (name, events)
