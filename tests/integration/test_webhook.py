"""The optional validating webhook: immutable fields and malformed specs refused by the API server."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support import quantum as q
from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess, free_port

pytestmark = pytest.mark.integration


def two_inputs_job(name: str) -> dict[str, Any]:
    """A QuantumJob the webhook refuses: its input names two sources."""
    return {"kind": "QuantumJob", "metadata": {"name": name},
            "spec": {"workspace": "ws", "provider": "kuantum", "target": "kuantum.simulator",
                     "input": {"inline": "x", "blobUri": "http://a/b"}}}


@contextlib.contextmanager
def serving_webhook(cluster: Any, api_client: client.ApiClient, namespace: str,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """An operator for namespace that serves the webhook, until its configuration is published."""
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
        # Kopf empties both configurations on exit but leaves them in place.
        for delete in (admission.delete_validating_webhook_configuration,
                       admission.delete_mutating_webhook_configuration):
            try:
                delete(name)
            except ApiException as e:
                if e.status != 404:
                    raise


@pytest.fixture
def webhook_operator(cluster: Any, api_client: client.ApiClient, namespace: str,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    with serving_webhook(cluster, api_client, namespace, tmp_path_factory) as proc:
        yield proc


def test_webhook_refuses_immutable_changes_and_bad_specs(
    api_client: client.ApiClient, namespace: str, webhook_operator: OperatorProcess,
) -> None:
    ns = namespace

    def create_bad() -> ApiException | None:
        try:
            q.create(api_client, ns, "quantumjobs", two_inputs_job("two-inputs"))
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


def test_a_job_created_before_the_webhook_served_still_fails_and_can_be_deleted(
    cluster: Any, api_client: client.ApiClient, namespace: str, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The webhook must not refuse the operator's own writes (status, finalizer) on a spec it would refuse
    today: such a job was stuck without a status and its deletion hung (a CI failure of the test above)."""
    ns = namespace
    q.create(api_client, ns, "quantumjobs", two_inputs_job("from-before"))
    with serving_webhook(cluster, api_client, ns, tmp_path_factory):
        status = q.wait_state(api_client, ns, "from-before", "Failed", timeout=60)
        assert "exactly one of" in status["errorData"]["message"]
        q.custom(api_client).delete_namespaced_custom_object(q.GROUP, q.VERSION, ns, "quantumjobs", "from-before")
        wait_for(lambda: q.get(api_client, ns, "quantumjobs", "from-before") is None, timeout=60,
                 what="the job deleted (its finalizer removed)")
