"""Controller event routing: a child's change (a solver Job or pod of a job holding a slot) is reconciled before a
workspace's backlog of new jobs, so a freed slot passes on at once."""

from __future__ import annotations

from typing import Any

from kuantum.controller import Controller
from kuantum.models.common import LABEL_JOB_ID
from kuantum.reconcilers.job import job_id_for
from kuantum.settings import Settings
from kubernetes import client

NS = "team-a"


def _job(name: str) -> dict[str, Any]:
    return {"apiVersion": "kuantum.dev/v1alpha1", "kind": "QuantumJob",
            "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "resourceVersion": "1",
                         "generation": 1, "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"workspace": "ws", "provider": "microsoft-qio", "target": "microsoft.simulatedannealing.cpu",
                     "input": {"inline": {}}}}


def _served(controller: Controller, count: int) -> list[str]:
    served = []
    for _ in range(count):
        item = controller.queue._pop()
        if item is None:
            break
        served.append(item)
    return served


def test_a_pod_change_of_a_running_job_is_reconciled_before_a_backlog_of_new_jobs() -> None:
    controller = Controller(client.ApiClient(), Settings(), [NS])
    try:
        running = _job("running")
        running["metadata"]["labels"] = {LABEL_JOB_ID: job_id_for("uid-running")}
        running["status"] = {"id": job_id_for("uid-running"), "state": "Executing"}
        controller.on_resource_event("QuantumJob", "ADDED", running)
        _served(controller, 10)
        for i in range(50):
            controller.on_resource_event("QuantumJob", "ADDED", _job(f"new-{i}"))
        pod = {"metadata": {"name": "kuantum-x-abcde", "namespace": NS,
                            "labels": {LABEL_JOB_ID: job_id_for("uid-running")}},
               "status": {"phase": "Running"}}
        controller.on_child_event("Pod", "MODIFIED", pod)
        assert _served(controller, 1) == [f"QuantumJob|{NS}/running"]
        rest = _served(controller, 200)
        assert f"QuantumJob|{NS}/running" not in rest, "served once, not again from its older place"
        assert f"QuantumJob|{NS}/new-49" in rest, "the backlog is still served"
    finally:
        controller.api_client.close()
