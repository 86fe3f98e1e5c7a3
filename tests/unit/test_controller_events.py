"""Controller event routing: a child's change (a solver Job or pod of a job holding a slot) is reconciled before a
workspace's backlog of new jobs, so a freed slot passes on at once."""

from __future__ import annotations

from typing import Any

from kuantum.controller import Controller
from kuantum.models.common import LABEL_JOB_ID
from kuantum.objects import job_id_for
from kuantum.runtime.settings import Settings
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


def _queued(name: str) -> dict[str, Any]:
    body = _job(name)
    body["status"] = {"id": job_id_for(f"uid-{name}"), "state": "Waiting", "conditions": [
        {"type": "Queued", "status": "True", "reason": "Queued", "message": "queued",
         "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
    return body


def _provider(generation: int, limit: int) -> dict[str, Any]:
    return {"apiVersion": "kuantum.dev/v1alpha1", "kind": "Provider",
            "metadata": {"name": "microsoft-qio", "namespace": NS, "uid": "uid-p", "resourceVersion": "1",
                         "generation": generation, "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"workspace": "ws", "providerId": "microsoft-qio",
                     "billingPlan": {"name": "plan", "limits": {"maxConcurrentJobs": limit}}}}


async def test_a_resync_revisits_queued_jobs_only_every_full_round_and_other_jobs_every_round() -> None:
    controller = Controller(client.ApiClient(), Settings(full_resync_rounds=3), [NS])
    try:
        controller.on_resource_event("Provider", "ADDED", _provider(1, 1))
        running = _job("running")
        running["status"] = {"id": job_id_for("uid-running"), "state": "Executing"}
        controller.on_resource_event("QuantumJob", "ADDED", running)
        controller.on_child_event("Job", "ADDED", {"metadata": {  # its solver Job: it holds the plan's one slot
            "name": f"kuantum-{job_id_for('uid-running')}", "namespace": NS,
            "labels": {LABEL_JOB_ID: job_id_for("uid-running")}}})
        controller.on_resource_event("QuantumJob", "ADDED", _queued("queued"))
        controller.on_resource_event("QuantumJob", "ADDED", _job("new"))
        _served(controller, 50)
        rounds = []
        for _ in range(3):
            await controller._resync()
            rounds.append({item for item in _served(controller, 50) if item.startswith("QuantumJob")})
        every_round = {f"QuantumJob|{NS}/new", f"QuantumJob|{NS}/running"}
        assert rounds[0] == rounds[1] == every_round, "jobs not queued for their turn: every round"
        assert rounds[2] == every_round | {f"QuantumJob|{NS}/queued"}, "every job on a full round"
    finally:
        controller.api_client.close()


def test_an_edited_provider_revisits_its_workspaces_queued_jobs_but_its_status_writes_do_not() -> None:
    controller = Controller(client.ApiClient(), Settings(), [NS])
    try:
        controller.on_resource_event("Provider", "ADDED", _provider(1, 1))
        controller.on_resource_event("QuantumJob", "ADDED", _queued("queued"))
        _served(controller, 50)
        status_written = _provider(1, 1)
        status_written["status"] = {"observedGeneration": 1}
        controller.on_resource_event("Provider", "MODIFIED", status_written)
        assert f"QuantumJob|{NS}/queued" not in _served(controller, 50)
        controller.on_resource_event("Provider", "MODIFIED", _provider(2, 4))
        assert f"QuantumJob|{NS}/queued" in _served(controller, 50)
    finally:
        controller.api_client.close()
