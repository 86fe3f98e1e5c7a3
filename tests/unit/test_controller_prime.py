"""Controller._prime: plain namespaces are listed one by one; Kopf namespace patterns cluster-wide, filtered."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from kuantum import controller as controller_module
from kuantum.controller import Controller
from kuantum.runtime.settings import Settings
from kubernetes import client

NAMESPACES = ["default", "team-a", "t-0123456789", "bench-ab12", "kuantum-demo"]


def _obj(kind: str, ns: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "kuantum.dev/v1alpha1", "kind": kind,
            "metadata": {"name": name, "namespace": ns, "uid": f"{ns}-{name}", "resourceVersion": "1",
                         "labels": {"kuantum.dev/job-id": f"{ns}-{name}"}}}


class FakeApis:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def custom(self, _: Any) -> Any:
        def cluster(group: str, version: str, plural: str) -> dict[str, Any]:
            self.calls.append((plural, None))
            return {"items": [_obj(plural, ns, "x") for ns in NAMESPACES]}

        def namespaced(group: str, version: str, ns: str, plural: str) -> dict[str, Any]:
            self.calls.append((plural, ns))
            return {"items": [_obj(plural, ns, "x")]}
        return SimpleNamespace(list_cluster_custom_object=cluster, list_namespaced_custom_object=namespaced)

    def _children(self, kind: str) -> tuple[Any, Any]:
        def everywhere(label_selector: str) -> Any:
            self.calls.append((kind, None))
            return SimpleNamespace(items=[_obj(kind, ns, "c") for ns in NAMESPACES])

        def one(ns: str, label_selector: str) -> Any:
            self.calls.append((kind, ns))
            return SimpleNamespace(items=[_obj(kind, ns, "c")])
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
async def test_prime_lists_what_kopf_watches(monkeypatch: pytest.MonkeyPatch, watch: list[str],
                                             scopes: set[str | None], expected: set[str]) -> None:
    fake = FakeApis()
    monkeypatch.setattr(controller_module.client, "CustomObjectsApi", fake.custom)
    monkeypatch.setattr(controller_module.client, "BatchV1Api", fake.batch)
    monkeypatch.setattr(controller_module.client, "CoreV1Api", fake.core)
    controller = Controller(client.ApiClient(), Settings(), watch)
    try:
        seen: list[tuple[str, dict[str, Any]]] = []
        monkeypatch.setattr(controller.store, "put", lambda kind, item: seen.append((kind, item)))
        monkeypatch.setattr(controller.store, "put_child", lambda kind, item, deleted: seen.append((kind, item)))
        await controller._prime()
    finally:
        controller.api_client.close()
    assert {ns for _, ns in fake.calls} == scopes
    by_kind: dict[str, set[str]] = {}
    for kind, item in seen:
        by_kind.setdefault(kind, set()).add(item["metadata"]["namespace"])
    assert by_kind == {kind: expected for kind in ("QuantumWorkspace", "Provider", "QuantumJob", "Job", "Pod")}


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
