"""The store's queue-group index: the dispatcher's cached queue moves exactly when a queue can change."""

from __future__ import annotations

from typing import Any

from kuantum.runtime.settings import Settings
from kuantum.runtime.store import Store, group_of
from kuantum.scheduling.admission import Dispatcher


def _job(name: str, rv: int, state: str | None = "Waiting", **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"u-{name}", "resourceVersion": str(rv),
                         "creationTimestamp": f"2026-01-01T00:00:0{ord(name[0]) % 10}Z",
                         "labels": {"kuantum.dev/job-id": f"id-{name}"}},
            "spec": {"workspace": "ws", "provider": "Microsoft", "target": "t"},
            "status": {"state": state, "id": f"id-{name}", **status}}


def test_positions_and_slots_follow_the_store_and_only_queue_changes_invalidate() -> None:
    store = Store()
    dispatcher = Dispatcher(store, Settings())
    a, b = _job("a", 1), _job("b", 2)
    store.put("QuantumJob", a)
    store.put("QuantumJob", b)
    group = group_of(a)
    assert group == ("ns", "ws", "microsoft-qio")
    assert [e.key for e in dispatcher.waiting(group)] == ["ns/a", "ns/b"]
    version = store.group_versions[group]
    store.put("QuantumJob", _job("a", 3, queuePosition=1))  # a new position: the queue did not move
    assert store.group_versions[group] == version
    dispatcher.claim(store.jobs["ns/a"])  # a solver Job is being created for a
    assert store.group_versions[group] > version
    assert [e.key for e in dispatcher.waiting(group)] == ["ns/b"] and dispatcher.running(group) == {"t": 1}
    assert dispatcher.position(group, store.jobs["ns/b"]) == 1
    store.put("QuantumJob", _job("a", 4, state="Succeeded"))
    dispatcher.release(store.jobs["ns/a"])
    assert dispatcher.running(group) == {}
    store.remove("QuantumJob", b)
    assert dispatcher.waiting(group) == [] and dispatcher.members(group) == [store.jobs["ns/a"]]
    store.put_child("Job", {"metadata": {"name": "kuantum-id-c", "labels": {"kuantum.dev/job-id": "id-c"}}},
                    deleted=False)
    c = _job("c", 5)
    store.put("QuantumJob", c)
    assert dispatcher.has_child(store.jobs["ns/c"]) and dispatcher.running(group) == {"t": 1}, \
        "a solver Job counts as a slot"


def test_the_store_keeps_no_managed_fields_and_leaves_the_callers_body_alone() -> None:
    """managedFields are nothing the operator reads and most of a small object's memory: dropped, as
    controller-runtime's caches do; the watch's own dict (Kopf's) is not changed."""
    store = Store()
    managed = [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {"f:target": {}}}}]
    body = _job("a", 1)
    body["metadata"]["managedFields"] = managed
    job = store.put_job(body)
    assert "managedFields" not in job.body["metadata"] and job.meta.name == "a"
    assert body["metadata"]["managedFields"] is managed
    pod = {"metadata": {"name": "p", "labels": {"kuantum.dev/job-id": "id-a"}, "managedFields": managed}}
    store.put_child("Pod", pod, deleted=False)
    batch = {"metadata": {"name": "b", "labels": {"kuantum.dev/job-id": "id-a"}, "managedFields": managed}}
    store.put_child("Job", batch, deleted=False)
    assert "managedFields" not in store.pods["id-a"]["p"]["metadata"]
    assert "managedFields" not in store.batch_jobs["id-a"]["metadata"]
    assert "managedFields" in pod["metadata"] and "managedFields" in batch["metadata"]
