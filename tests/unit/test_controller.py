"""The controller: the informers load what its namespaces ask for before it reconciles; events are routed
(a child's change, a solver Job or pod of a job holding a slot, before a workspace's backlog of new jobs, so a
freed slot passes on at once; an edited provider revisits its queued jobs); resyncs; the work queue's tenants;
failures described in one line."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from kuantum.controller import Controller
from kuantum.models.common import LABEL_JOB_ID
from kuantum.objects import job_id_for
from kuantum.runtime import informer as informer_module
from kuantum.runtime.settings import Settings
from kubernetes import client

NAMESPACES = ["default", "team-a", "t-0123456789", "bench-ab12", "kuantum-demo"]


def _obj(kind: str, ns: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "kuantum.dev/v1alpha1", "kind": kind,
            "metadata": {"name": name, "namespace": ns, "uid": f"{ns}-{name}", "resourceVersion": "1",
                         "labels": {"kuantum.dev/job-id": f"{ns}-{name}"}}}


class Listed:
    """A raw list or watch response (_preload_content=False): a watch with nothing to say holds a moment."""

    def __init__(self, items: list[dict[str, Any]] | None) -> None:
        self.status = 200
        self.data = json.dumps({"metadata": {"resourceVersion": "1"}, "items": items or []}).encode()

    def stream(self, amt: Any = None, decode_content: bool = False) -> Any:
        threading.Event().wait(0.01)
        return iter(())

    def release_conn(self) -> None:
        pass


class FakeApis:
    """The official client's list functions, cluster-wide and per namespace, answering lists and watches."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def _answer(self, kind: str, ns: str | None, kwargs: dict[str, Any]) -> Listed:
        if kwargs.get("watch"):
            return Listed(None)
        self.calls.append((kind, ns))
        return Listed([_obj(kind, n, "x" if kind[0].islower() else "c") for n in (NAMESPACES if ns is None else [ns])])

    def custom(self, _: Any) -> Any:
        def cluster(group: str, version: str, plural: str, **kwargs: Any) -> Listed:
            return self._answer(plural, None, kwargs)

        def namespaced(group: str, version: str, ns: str, plural: str, **kwargs: Any) -> Listed:
            return self._answer(plural, ns, kwargs)
        return SimpleNamespace(list_cluster_custom_object=cluster, list_namespaced_custom_object=namespaced)

    def _children(self, kind: str) -> tuple[Any, Any]:
        def everywhere(**kwargs: Any) -> Listed:
            return self._answer(kind, None, kwargs)

        def one(ns: str, **kwargs: Any) -> Listed:
            return self._answer(kind, ns, kwargs)
        return everywhere, one

    def batch(self, _: Any) -> Any:
        everywhere, one = self._children("Job")
        return SimpleNamespace(list_job_for_all_namespaces=everywhere, list_namespaced_job=one)

    def core(self, _: Any) -> Any:
        everywhere, one = self._children("Pod")
        return SimpleNamespace(list_pod_for_all_namespaces=everywhere, list_namespaced_pod=one)


@pytest.mark.parametrize("watch, scopes, expected", [
    ([], {None}, set(NAMESPACES)),
    (["team-a", "default"], {"team-a", "default"}, {"team-a", "default"}),
    (["!t-*,!bench-*"], {None}, {"default", "team-a", "kuantum-demo"}),
    (["team-*", "kuantum-demo"], {None}, {"team-a", "kuantum-demo"}),
])
async def test_the_informers_load_what_the_namespaces_ask_for_before_reconciling(
        monkeypatch: pytest.MonkeyPatch, watch: list[str], scopes: set[str | None], expected: set[str]) -> None:
    """Plain namespace names are listed one by one (what a namespaced Role allows); patterns cluster-wide,
    filtered here. start() returns once every kind was listed, so capacity is counted right after a restart."""
    fake = FakeApis()
    monkeypatch.setattr(informer_module.client, "CustomObjectsApi", fake.custom)
    monkeypatch.setattr(informer_module.client, "BatchV1Api", fake.batch)
    monkeypatch.setattr(informer_module.client, "CoreV1Api", fake.core)
    controller = Controller(client.ApiClient(), Settings(), watch)
    try:
        controller.informers.start()
        assert await controller.informers.wait_synced(10)
    finally:
        await controller.informers.stop()
        controller.api_client.close()
    assert {ns for _, ns in fake.calls} == scopes
    loaded = {"QuantumWorkspace": {o.meta.namespace for o in controller.store.workspaces.values()},
              "Provider": {o.meta.namespace for o in controller.store.providers.values()},
              "QuantumJob": {o.meta.namespace for o in controller.store.jobs.values()},
              "Job": {job_id.split("-c")[0] for job_id in controller.store.batch_jobs},
              "Pod": {job_id.split("-c")[0] for job_id in controller.store.pods}}
    assert loaded == {kind: expected for kind in loaded}


def test_the_work_queues_tenants_are_workspaces() -> None:
    controller = Controller(client.ApiClient(), Settings(), [])
    controller.store.put("QuantumJob", {"metadata": {"name": "j", "namespace": "ns", "uid": "u"},
                                        "spec": {"workspace": "ws", "provider": "microsoft-qio", "target": "t",
                                                 "input": {"inline": {}}}})
    controller.store.put("Provider", {"metadata": {"name": "p", "namespace": "ns", "uid": "v"},
                                      "spec": {"workspace": "ws", "providerId": "ionq"}})
    tenant = controller._workspace_of_item
    assert tenant("QuantumJob|ns/j") == tenant("Provider|ns/p") == tenant("QuantumWorkspace|ns/ws") == "ns/ws"
    assert tenant("QuantumJob|ns/unknown") == "ns"


async def test_an_unreachable_api_server_is_one_line_not_a_traceback() -> None:
    import urllib3
    from kuantum.runtime.workqueue import HandlerError

    controller = Controller(client.ApiClient(), Settings(), [])

    class Refused:
        async def reconcile(self, key: str) -> None:
            raise urllib3.exceptions.MaxRetryError(
                None, "/apis", urllib3.exceptions.NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]

    controller.reconcilers["QuantumJob"] = Refused()
    with pytest.raises(HandlerError, match="API server unreachable: NewConnectionError"):
        await controller._handle("QuantumJob|ns/j")


async def test_a_failed_storage_call_is_one_line_not_a_traceback() -> None:
    """Seen in the scale benchmark: Azurite reset a connection while a finished job's output was checked."""
    from kuantum.runtime.workqueue import HandlerError
    from kuantum.storage.blobs import StorageError

    controller = Controller(client.ApiClient(), Settings(), [])

    class Reset:
        async def reconcile(self, key: str) -> None:
            raise StorageError("checking blob outputData failed: ('Connection aborted.', ConnectionResetError(104))")

    controller.reconcilers["QuantumJob"] = Reset()
    with pytest.raises(HandlerError, match="storage: checking blob outputData failed"):
        await controller._handle("QuantumJob|ns/j")


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


def _gauge(name: str) -> dict[tuple[tuple[str, str], ...], float]:
    from prometheus_client import REGISTRY

    return {tuple(sorted(s.labels.items())): s.value for m in REGISTRY.collect() for s in m.samples
            if s.name == name and s.labels.get("namespace") == "metrics-ns"}


def test_the_gauges_are_bounded_by_label_and_replaced_each_round() -> None:
    """kuantum_jobs, kuantum_queue_depth, kuantum_queue_admissible_jobs, kuantum_jobs_executing_past_timeout and the
    Providers' gauges, read from the store: a target the catalog does not know, and a workspace that does not exist,
    are `other` (never free text); a job id is never a label; series of what is gone go."""
    ns = "metrics-ns"
    controller = Controller(client.ApiClient(), Settings(), [ns])
    try:
        controller.store.put("QuantumWorkspace", {"metadata": {"name": "ws", "namespace": ns, "uid": "w"}})
        provider = _provider(1, 4)
        provider["metadata"]["namespace"] = ns
        listed = {"kind": "solver", "outputFormat": "microsoft.qio-results.v2", "hardware": "CPU",
                  "cancelWhileExecuting": True}
        provider["status"] = {"providerId": "microsoft-qio", "targets": [
            {"id": "microsoft.simulatedannealing.cpu", "availability": "Available", **listed},
            {"id": "microsoft.tabu.cpu", "availability": "Unavailable", **listed}]}
        controller.on_resource_event("Provider", "ADDED", provider)
        bodies = []
        for name, target, state, workspace in (("a", "microsoft.simulatedannealing.cpu", "Waiting", "ws"),
                                               ("b", "no.such.target-1234", "Failed", "ws"),
                                               ("c", "microsoft.simulatedannealing.cpu", "Executing", "nope"),
                                               ("d", "microsoft.simulatedannealing.cpu", "Executing", "ws")):
            body = _queued(name) if state == "Waiting" else _job(name)
            body["metadata"]["namespace"] = ns
            body["spec"].update(target=target, workspace=workspace, timeoutSeconds=5)
            if state != "Waiting":
                body["status"] = {"id": job_id_for(f"uid-{name}"), "state": state,
                                  "beginExecutionTime": "2024-01-01T00:00:00Z"}
            bodies.append(body)
            controller.on_resource_event("QuantumJob", "ADDED", body)
        controller._refresh_metrics()
        sa = "microsoft.simulatedannealing.cpu"

        def key(**labels: str) -> tuple[tuple[str, str], ...]:
            return tuple(sorted({"namespace": ns, "provider": "microsoft-qio", **labels}.items()))

        assert _gauge("kuantum_jobs") == {
            key(workspace="ws", target=sa, state="Waiting"): 1, key(workspace="ws", target="other", state="Failed"): 1,
            key(workspace="other", target=sa, state="Executing"): 1,
            key(workspace="ws", target=sa, state="Executing"): 1}
        assert _gauge("kuantum_jobs_executing_past_timeout") == {
            key(workspace="ws", target=sa): 1, key(workspace="ws", target="other"): 0,
            key(workspace="other", target=sa): 1}
        assert _gauge("kuantum_queue_depth") == {
            key(workspace="ws", target=sa, priority="Standard"): 1, key(workspace="ws", target="other",
                                                                        priority="Standard"): 0,
            key(workspace="other", target=sa, priority="Standard"): 0}
        assert _gauge("kuantum_provider_target_available") == {
            key(workspace="ws", target=sa): 1, key(workspace="ws", target="microsoft.tabu.cpu"): 0}
        assert set(_gauge("kuantum_queue_admissible_jobs")) == {key(workspace="ws"), key(workspace="other")}
        for body in bodies:
            controller.on_resource_event("QuantumJob", "DELETED", body)
        controller._refresh_metrics()
        assert _gauge("kuantum_jobs") == {} and _gauge("kuantum_queue_depth") == {}
    finally:
        controller.api_client.close()
