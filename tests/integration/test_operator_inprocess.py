"""The operator can also run inside the test process, through Kopf's KopfRunner."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from tests.support import quantum as q
from tests.support.kube import wait_for
from tests.support.operator import in_process

pytestmark = pytest.mark.integration


def test_operator_runs_in_process_with_kopf_runner(
    cluster: Any, api_client: client.ApiClient, core: client.CoreV1Api, namespace: str,
    azurite_connection_string: str,
) -> None:
    q.storage_secret(core, namespace, azurite_connection_string)
    with in_process(cluster.kubeconfig, namespace) as runner:
        q.workspace(api_client, namespace)

        def ready() -> bool:
            status = (q.get(api_client, namespace, "quantumworkspaces", "ws") or {}).get("status") or {}
            return (q.condition(status, "Ready") or {}).get("status") == "True"

        wait_for(ready, timeout=60, what="workspace Ready")
        q.delete_all_jobs(api_client, namespace)
    assert runner.exception is None
    assert runner.exit_code == 0
