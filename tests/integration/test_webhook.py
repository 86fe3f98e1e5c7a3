"""The optional validating webhook: immutable fields and malformed specs refused by the API server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support import quantum as q
from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def webhook_operator(cluster: Any, api_client: client.ApiClient, namespace: str,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    port = free_port()
    proc = OperatorProcess(cluster.kubeconfig, namespace, tmp_path_factory.mktemp("webhook"),
                           env={"KUANTUM_WEBHOOK_PORT": str(port), "KUANTUM_WEBHOOK_HOST": "127.0.0.1"}).start()
    admission = client.AdmissionregistrationV1Api(api_client)
    name = f"kuantum-{namespace}.kuantum.dev"
    try:
        wait_for(lambda: [c for c in admission.list_validating_webhook_configuration().items
                          if c.metadata.name == name], timeout=60, what="webhook configuration")
        yield proc
    finally:
        q.delete_all_jobs(api_client, namespace)
        proc.stop()
        try:
            admission.delete_validating_webhook_configuration(name)
        except ApiException as e:
            if e.status != 404:
                raise


def test_webhook_refuses_immutable_changes_and_bad_specs(
    api_client: client.ApiClient, namespace: str, webhook_operator: OperatorProcess,
) -> None:
    ns = namespace

    def create_bad() -> ApiException | None:
        try:
            q.create(api_client, ns, "quantumjobs", {"kind": "QuantumJob", "metadata": {"name": "two-inputs"},
                                                     "spec": {"workspace": "ws", "provider": "kuantum",
                                                              "target": "kuantum.simulator",
                                                              "input": {"inline": "x", "blobUri": "http://a/b"}}})
        except ApiException as e:
            return e
        q.delete_all_jobs(api_client, ns)  # the webhook was not serving yet; try again
        return None

    error = wait_for(create_bad, timeout=60, what="webhook refusing a spec with two inputs")
    assert error.status == 422 and "exactly one of" in str(error.body)
    q.sa_job(api_client, ns, "fixed", workspace="nowhere")
    with pytest.raises(ApiException) as refused:
        q.patch(api_client, ns, "quantumjobs", "fixed", {"spec": {"target": "microsoft.tabu.cpu"}})
    assert "immutable" in str(refused.value.body) and "target" in str(refused.value.body)
    q.patch(api_client, ns, "quantumjobs", "fixed", {"spec": {"cancel": True, "tags": ["ok"]}})
    assert q.wait_state(api_client, ns, "fixed", "Cancelled")["state"] == "Cancelled"
