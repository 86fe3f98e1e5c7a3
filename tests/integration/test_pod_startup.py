"""Solver pods the real node cannot start: the waiting job says why (Queued condition and a warning Event), on
the dev cluster's kubelet and scheduler; a cancel still ends it and leaves no pod behind."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from tests.support import quantum as q
from tests.support.kube import wait_for

TARGET = "microsoft.simulatedannealing.cpu"


def _waiting_because(api_client: client.ApiClient, ns: str, name: str, reasons: tuple[str, ...]) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        status = q.job_status(api_client, ns, name)
        queued = q.condition(status, "Queued")
        return status if queued is not None and queued["reason"] in reasons else None
    return wait_for(probe, timeout=90, what=f"job {name}'s Queued condition to read one of {reasons}")



def _cancelled_and_gone(api_client: client.ApiClient, core: client.CoreV1Api, ns: str, name: str) -> None:
    q.patch(api_client, ns, "quantumjobs", name, {"spec": {"cancel": True}})
    assert q.wait_state(api_client, ns, name, q.FINAL, timeout=60)["state"] == "Cancelled"
    wait_for(lambda: not core.list_namespaced_pod(ns, label_selector="app.kubernetes.io/managed-by=kuantum").items,
             timeout=60, what="the job's solver pod to be gone")


def test_an_image_the_node_cannot_pull_is_named_on_the_waiting_job(
    api_client: client.ApiClient, core: client.CoreV1Api, ready_workspace: str,
) -> None:
    ns = ready_workspace
    image = "127.0.0.1:1/kuantum-solver:missing"  # nothing listens there: the pull is refused at once
    q.provider(api_client, ns, "qio", "microsoft-qio", targets=[{"id": TARGET, "image": image}])
    q.sa_job(api_client, ns, "unpullable")
    status = _waiting_because(api_client, ns, "unpullable", ("ErrImagePull", "ImagePullBackOff"))
    assert status["state"] == "Waiting", status
    assert image in q.condition(status, "Queued")["message"]  # type: ignore[index]
    warned = [(kind, reason) for kind, reason, _ in q.events_for(core, ns, "unpullable")]
    assert any(kind == "Warning" and reason in ("ErrImagePull", "ImagePullBackOff") for kind, reason in warned), warned
    _cancelled_and_gone(api_client, core, ns, "unpullable")


def test_a_pod_no_node_has_room_for_keeps_its_job_waiting_with_the_schedulers_reason(
    api_client: client.ApiClient, core: client.CoreV1Api, ready_workspace: str,
) -> None:
    ns = ready_workspace
    q.provider(api_client, ns, "qio", "microsoft-qio", targets=[{"id": TARGET, "memory": "4Ti"}])
    q.sa_job(api_client, ns, "too-big")
    status = _waiting_because(api_client, ns, "too-big", ("Unschedulable",))
    assert status["state"] == "Waiting", status
    assert "Insufficient memory" in q.condition(status, "Queued")["message"]  # type: ignore[index]
    _cancelled_and_gone(api_client, core, ns, "too-big")
