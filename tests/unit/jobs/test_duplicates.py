"""A job id is unique per workspace (case-insensitive): a second job asking for an id in use fails DuplicateJobId
naming the job that holds it, before anything is written for it, and never touches the first job's container or
children. (Two jobs whose spec.id differed only in case both ran on one container, the second overwriting the
first's input and output.)"""

from __future__ import annotations

from kuantum.jobs.duplicates import holder_of, id_holder
from kuantum.objects import parse_job
from kuantum.runtime.store import Store

from tests.support.job_world import NS, World

CLIENT_ID = "0b2c6a5e-8f0e-4c56-9d41-1f4d4e0a7c10"


def _job(name: str, uid: str, created: str, job_id: str | None = None, status_id: str | None = None,
         workspace: str = "ws") -> dict[str, object]:
    body: dict[str, object] = {"metadata": {"name": name, "namespace": NS, "uid": uid, "creationTimestamp": created},
                               "spec": {"workspace": workspace, "provider": "microsoft-qio",
                                        "target": "microsoft.simulatedannealing.cpu", "input": {"inline": "{}"},
                                        **({"id": job_id} if job_id else {})}}
    if status_id:
        body["status"] = {"id": status_id, "state": "Waiting"}
    return body


def test_the_job_given_the_id_holds_it_else_the_oldest_then_by_name() -> None:
    older = parse_job(_job("b", "u1", "2024-01-01T00:00:00Z", CLIENT_ID))
    newer = parse_job(_job("a", "u2", "2024-01-02T00:00:00Z", CLIENT_ID.upper()))
    assert id_holder(newer, [older, newer]) is older
    assert id_holder(older, [older, newer]) is None
    accepted_later = parse_job(_job("c", "u3", "2024-01-03T00:00:00Z", CLIENT_ID, status_id=CLIENT_ID))
    assert holder_of([older, newer, accepted_later]) is accepted_later, "an id given out stays with its job"
    same_time = [parse_job(_job(n, f"u-{n}", "2024-01-01T00:00:00Z", CLIENT_ID)) for n in ("y", "x")]
    assert holder_of(same_time).meta.name == "x"  # type: ignore[union-attr]


def test_the_store_finds_every_job_of_a_workspace_by_id_without_a_scan() -> None:
    store = Store()
    first = store.put_job(_job("first", "u1", "2024-01-01T00:00:00Z", CLIENT_ID))
    store.put_job(_job("second", "u2", "2024-01-02T00:00:00Z", CLIENT_ID.upper()))
    store.put_job(_job("elsewhere", "u3", "2024-01-02T00:00:00Z", CLIENT_ID, workspace="other"))
    assert sorted(j.meta.name for j in store.same_id(first)) == ["first", "second"]
    store.remove("QuantumJob", _job("second", "u2", "2024-01-02T00:00:00Z"))
    assert [j.meta.name for j in store.same_id(first)] == ["first"]


async def test_a_second_job_with_an_id_in_use_fails_before_anything_is_written_for_it() -> None:
    w = World()
    w.qio_job("first", id=CLIENT_ID)
    await w.reconcile("first")
    assert w.status("first")["id"] == CLIENT_ID
    uploads = len(w.storage.uploads())
    w.qio_job("second", id=CLIENT_ID.upper(), inputParams={"params": {"sweeps": 7}})
    p = await w.reconcile("second")
    status = w.status("second")
    assert status["state"] == "Failed"
    assert status["errorData"]["code"] == "DuplicateJobId"
    assert "QuantumJob first" in status["errorData"]["message"] and CLIENT_ID in status["errorData"]["message"]
    assert status["id"] == w.job_id("second"), "an id of its own (from its uid), never the one in use"
    assert len(w.storage.uploads()) == uploads, "the first job's container is untouched"
    second = w.job("second")
    assert not second["metadata"].get("finalizers") and not (second["metadata"].get("labels") or {})
    assert p.writes() == ["patch_status", "event"]
    await w.reconcile("first")
    assert w.status("first")["state"] in ("Waiting", "Executing"), "the first job runs on"


async def test_the_job_that_holds_the_id_is_not_refused_when_the_duplicate_comes_first_to_a_reconcile() -> None:
    w = World()
    w.qio_job("newer", id=CLIENT_ID.upper(), created="2024-01-02T00:00:00Z")
    w.qio_job("older", id=CLIENT_ID, created="2024-01-01T00:00:00Z")
    await w.reconcile("newer")
    assert w.status("newer")["errorData"]["code"] == "DuplicateJobId"
    await w.reconcile("older")
    assert w.status("older")["id"] == CLIENT_ID and w.status("older")["state"] == "Waiting"
