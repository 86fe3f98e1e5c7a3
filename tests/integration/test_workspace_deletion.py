"""Deleting a QuantumWorkspace cancels its active jobs first, as Azure Quantum does, and says so."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.support import quantum as q
from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess

pytestmark = pytest.mark.integration


def test_deleting_a_workspace_cancels_its_jobs_then_goes(
        api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, azurite_connection_string: str,
        operator: OperatorProcess) -> None:
    ns = namespace
    q.storage_secret(core, ns, azurite_connection_string)
    q.workspace(api_client, ns)
    q.create(api_client, ns, "providers", {"kind": "Provider", "metadata": {"name": "plan"}, "spec": {
        "workspace": "ws", "providerId": "microsoft-qio", "billingPlan": {"name": "one",
                                                                         "limits": {"maxConcurrentJobs": 1}}}})
    wait_for(lambda: "kuantum.dev/cleanup" in (q.get(api_client, ns, "quantumworkspaces", "ws") or {})
             .get("metadata", {}).get("finalizers", []) or None, timeout=30, what="the workspace's finalizer")
    q.long_job(api_client, ns, "running")
    q.wait_state(api_client, ns, "running", "Executing", timeout=120)
    q.sa_job(api_client, ns, "queued")
    q.wait_state(api_client, ns, "queued", "Waiting")
    q.custom(api_client).delete_namespaced_custom_object(q.GROUP, q.VERSION, ns, "quantumworkspaces", "ws")
    assert q.wait_state(api_client, ns, "running", q.FINAL, timeout=60)["state"] == "Cancelled"
    assert q.wait_state(api_client, ns, "queued", q.FINAL, timeout=60)["state"] == "Cancelled"
    wait_for(lambda: q.get(api_client, ns, "quantumworkspaces", "ws") is None or None, timeout=60,
             what="the workspace gone")
    reasons = [r for _, r, _ in q.events_for(core, ns, "ws")]
    assert "CancellingJobs" in reasons
    # A job's SAS Secret goes in its cleanup, right after its final status (which is what the workspace waited for).
    wait_for(lambda: not core.list_namespaced_secret(ns, label_selector="kuantum.dev/job-id").items or None,
             timeout=60, what="no SAS Secret left behind")
