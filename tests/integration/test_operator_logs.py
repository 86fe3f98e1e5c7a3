"""What the operator writes to its log: one line per transition, no errors for jobs deleted mid-flight."""

from __future__ import annotations

import re

import pytest
from kubernetes import client

from tests.support import quantum as q
from tests.support.operator import OperatorProcess

pytestmark = pytest.mark.integration


def test_jobs_deleted_mid_reconcile_log_no_error_and_transitions_once(
        api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, azurite_connection_string: str,
        operator: OperatorProcess) -> None:
    q.storage_secret(core, namespace, azurite_connection_string)
    q.workspace(api_client, namespace)
    q.sa_job(api_client, namespace, "kept")
    for i in range(20):
        q.sa_job(api_client, namespace, f"gone-{i}")
    q.wait_state(api_client, namespace, "gone-0", ("Waiting", "Executing", *q.FINAL), timeout=60)
    for i in range(20):  # while their reconciles are queued, running or retrying
        q.custom(api_client).delete_namespaced_custom_object(q.GROUP, q.VERSION, namespace, "quantumjobs",
                                                             f"gone-{i}")
    assert q.wait_state(api_client, namespace, "kept", q.FINAL, timeout=120)["state"] == "Succeeded"
    q.wait_for_events(core, namespace, "kept", "Succeeded")
    q.delete_all_jobs(api_client, namespace)
    log = operator.log()
    assert " ERROR " not in log and "Traceback" not in log, log[-3000:]
    assert "Handler '" not in log  # Kopf's per-event "Handler ... succeeded." lines are DEBUG only
    kept = [line for line in log.splitlines() if re.search(rf"job {namespace}/kept \(", line)]
    assert [line.split(" -> ", 1)[1].split()[0] for line in kept] == ["Waiting", "Executing", "Succeeded"], kept
