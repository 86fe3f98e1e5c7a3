"""The job reconciler on an admitted job's way to its end, whatever runs it, over tests/support/job_world.py's World.

A cancel of a new or a queued job, a workspace's deletion cancelling its jobs; a spec edit after acceptance
(ignored, said once, folded into the same status write as a transition); the API server's conflicts (a stale
metadata write, a status write over a state that moved); the deletion of a waiting job and its finalizer; what
happens to a final job (TTL after finished, a final status never written again); and the final Event recorded
exactly once across a killed process, an old job and an API server that refused it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kuantum.execution.pod import builders
from kuantum.models.common import LABEL_TARGET
from kuantum.runtime.writer import Conflict
from kuantum.storage.blobs import OUTPUT_BLOB, container_name
from kubernetes.client.rest import ApiException

from tests.support.job_world import (
    NS,
    SA,
    WS,
    Pass,
    World,
    _condition,
    _events,
    _hours_ago,
    _started_pod_job,
)


# ----------------------------------------------------------------------------------------------------- cancel
async def test_cancel_of_a_new_job_is_cancelled_with_no_upload_and_no_child() -> None:
    w = World()
    w.qio_job("j", cancel=True)
    p = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Cancelled"
    assert status["id"] == w.job_id("j")
    assert p.status_writes == 1
    assert not w.storage.uploads() and not w.kube.secrets and not w.kube.batch_jobs
    assert _events(p) == ["Cancelled"]


async def test_cancel_while_waiting_in_the_queue_is_cancelled_and_never_started() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.qio_job("first", created="2024-01-01T00:00:00Z")
    await w.reconcile("first")
    w.qio_job("j", created="2024-01-01T00:00:01Z")
    await w.reconcile("j")
    assert w.status("j")["state"] == "Waiting"
    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    assert p.writes() == ["patch_status", "event"]
    assert p.of("patch_status")[0].args["patch"][0] == {"op": "test", "path": "/status/state", "value": "Waiting"}
    status = w.status("j")
    assert status["state"] == "Cancelled" and status["cancellationTime"]
    assert "beginExecutionTime" not in status
    assert [k[1] for k in w.kube.batch_jobs] == [builders.child_name(w.job_id("first"))]


async def test_a_workspace_being_deleted_cancels_its_waiting_and_executing_jobs() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    job_id = await _started_pod_job(w, "running")
    w.qio_job("queued")
    await w.reconcile("queued")
    assert w.status("queued")["state"] == "Waiting"
    workspace = copy.deepcopy(w.store.workspaces[f"{NS}/{WS}"].body)
    workspace["metadata"]["deletionTimestamp"] = "2024-01-02T00:00:00Z"  # as the watch delivers a deletion
    w.store.put("QuantumWorkspace", workspace)

    await w.reconcile("queued")
    assert w.status("queued")["state"] == "Cancelled", "a waiting job is cancelled at once"
    p = await w.reconcile("running")
    assert p.of("delete_job") and p.of("delete_job")[0].args["name"] == builders.child_name(job_id)
    w.pod("running", "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.01), exit_code=143, message="")
    await w.reconcile("running")
    assert w.status("running")["state"] == "Cancelled", "the executing one once its pod stopped"


# ----------------------------------------------------------------------------------------------- spec changes
async def test_spec_change_and_a_transition_are_one_status_write() -> None:
    w = World()
    await _started_pod_job(w)
    w.edit_spec("j", target="microsoft.tabu.cpu")
    w.pod("j", "Succeeded", started=_hours_ago(0.1), finished=_hours_ago(0.05))
    w.storage.put_blob(container_name(w.job_id("j")), OUTPUT_BLOB, b"{}")
    p = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Succeeded"
    assert _condition(status, "SpecChangeIgnored") is not None
    assert p.status_writes <= 1


async def test_spec_change_is_ignored_and_said_once() -> None:
    w = World()
    await _started_pod_job(w)
    w.edit_spec("j", target="microsoft.tabu.cpu")
    p = await w.reconcile("j")
    assert p.status_writes == 1 and _events(p) == ["SpecChangeIgnored"]
    cond = _condition(w.status("j"), "SpecChangeIgnored")
    assert cond is not None and "target" in cond["message"]
    assert (await w.reconcile("j")).writes() == []
    assert not w.kube.of("delete_job")
    assert w.status("j")["state"] == "Executing"


async def test_ignored_spec_change_keeps_the_accepted_labels() -> None:
    w = World()
    await _started_pod_job(w)
    w.edit_spec("j", target="microsoft.tabu.cpu")
    p = await w.reconcile("j")
    assert not p.of("patch_meta")
    assert w.job("j")["metadata"]["labels"][LABEL_TARGET] == SA


# ------------------------------------------------------------------------------------------------------ races
async def test_metadata_write_on_a_stale_object_is_a_conflict() -> None:
    w = World()
    w.qio_job("j")
    w.kube.objects[("QuantumJob", NS, "j")]["metadata"]["resourceVersion"] = w.kube.next_rv()  # edited meanwhile
    with pytest.raises(Conflict):
        await w.reconcile("j")
    assert not w.storage.uploads() and not w.kube.of("patch_status")


async def test_status_write_over_a_state_that_moved_is_a_conflict() -> None:
    w = World()
    await _started_pod_job(w)
    w.kube.objects[("QuantumJob", NS, "j")]["status"]["state"] = "Cancelled"  # another writer won the race
    w.pod("j", "Succeeded", started=_hours_ago(0.1), finished=_hours_ago(0.05))
    w.storage.put_blob(container_name(w.job_id("j")), OUTPUT_BLOB, b"{}")
    with pytest.raises(Conflict):
        await w.reconcile("j")
    assert w.status("j")["state"] == "Cancelled", "a final state is never overwritten"


# -------------------------------------------------------------------------------------------- deletion, final
async def _deleted_while_waiting(w: World) -> None:
    """Job j, queued behind `first` (the plan runs one at a time), deleted (its deletion not yet reconciled)."""
    w.qio_job("first", created="2024-01-01T00:00:00Z")
    await w.reconcile("first")
    w.qio_job("j", created="2024-01-01T00:00:01Z")
    await w.reconcile("j")
    await w.kube.delete_custom("QuantumJob", NS, "j")
    w.store.put("QuantumJob", w.job("j"))


async def _delete_while_waiting(w: World) -> Pass:
    """As _deleted_while_waiting; the reconcile of its deletion."""
    await _deleted_while_waiting(w)
    return await w.reconcile("j")


async def test_deleting_a_waiting_job_cancels_it_and_releases_the_finalizer() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    p = await _delete_while_waiting(w)
    # The Secret delete (a 404 here) is for a job an earlier process may have begun to launch, in the first
    # minutes after a start (see test_reconciler_pod.py).
    # Its cancellation is announced (an Event, the metrics), not written: the object's status is going with it.
    assert p.writes() == ["event", "delete_secret", "patch_meta"]
    assert p.of("event")[0].args["reason"] == "Cancelled"
    assert w.kube.get("QuantumJob", NS, "j") is None
    assert not p.of("delete_job") and not p.of("create_job")


async def test_a_deleted_jobs_cancellation_is_announced_once_when_its_finalizers_release_is_retried() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.backends.pod.started_at = _hours_ago(1)
    await _deleted_while_waiting(w)
    w.kube.fail_next["patch_meta"] = [ApiException(status=500, reason="the API server is away")]
    with pytest.raises(ApiException):
        await w.reconcile("j")
    assert [c.args["reason"] for c in w.kube.of("event")].count("Cancelled") == 1
    again = await w.reconcile("j")
    assert again.writes() == ["patch_meta"], "no second Cancelled Event"
    assert w.kube.get("QuantumJob", NS, "j") is None


async def test_deleting_a_job_that_never_had_its_turn_long_after_a_start_deletes_no_secret() -> None:
    """Bulk deletes of waiting jobs cost an Event and the finalizer's release each, no status write and no 404s:
    only a process that started lately can have been preceded by one that began this job's launch."""
    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.backends.pod.started_at = _hours_ago(1)
    p = await _delete_while_waiting(w)
    assert p.writes() == ["event", "patch_meta"]
    assert w.kube.get("QuantumJob", NS, "j") is None


@pytest.mark.parametrize(("ttl", "ended_hours_ago", "deleted"), [(0, 0.0, True), (60, 2.0, True),
                                                                  (7200, 1.0, False)])
async def test_ttl_after_finished(ttl: int, ended_hours_ago: float, deleted: bool) -> None:
    w = World()
    ended = _hours_ago(ended_hours_ago)
    w.qio_job("j", ttlSecondsAfterFinished=ttl,
              status={"id": w.job_id("j"), "state": "Succeeded", "creationTime": _hours_ago(3),
                      "beginExecutionTime": _hours_ago(3), "endExecutionTime": ended,
                      "outputDataUri": "x"})
    p = await w.reconcile("j")
    assert [c.args for c in p.of("delete_custom")] == ([{"kind": "QuantumJob", "namespace": NS, "name": "j"}]
                                                      if deleted else [])
    if not deleted:
        assert [key for key, _ in w.enqueued_after] == [f"{NS}/j"]
        assert p.writes() == []


async def test_final_status_is_never_written_again() -> None:
    w = World()
    w.qio_job("j", status={"id": w.job_id("j"), "state": "Failed", "creationTime": _hours_ago(1),
                           "errorData": {"code": "X", "message": "y"}})
    w.edit_spec("j", target="microsoft.tabu.cpu", cancel=True)
    p = await w.reconcile("j")
    assert p.status_writes == 0 and not p.of("patch_meta")


# ----------------------------------------------------------------------------------------------------- events
async def test_a_job_finished_by_a_killed_process_gets_its_final_event_from_the_next_one() -> None:
    """The status write landed, the Event did not (SIGKILL in between): the next process records it, once."""
    w = World()
    ended = _hours_ago(0.01)
    w.qio_job("j")
    w.kube.objects[("QuantumJob", NS, "j")]["status"] = {
        "state": "Succeeded", "id": w.job_id("j"), "beginExecutionTime": _hours_ago(0.02),
        "endExecutionTime": ended, "outputDataUri": "http://blob/out"}
    w.store.put("QuantumJob", w.job("j"))
    p = await w.reconcile("j")
    assert _events(p) == ["Succeeded"]
    assert _events(await w.reconcile("j")) == [], "once"
    w.restart()
    assert _events(await w.reconcile("j")) == [], "a process that finds the Event records none"


async def test_a_job_that_ended_long_before_the_process_started_is_not_looked_up() -> None:
    w = World()
    w.qio_job("j")
    w.kube.objects[("QuantumJob", NS, "j")]["status"] = {
        "state": "Failed", "id": w.job_id("j"), "endExecutionTime": _hours_ago(2),
        "errorData": {"code": "SolverFailed", "message": "m"}}
    w.store.put("QuantumJob", w.job("j"))
    p = await w.reconcile("j")
    assert not p.of("event_reasons") and _events(p) == []


async def test_a_freed_slot_is_handed_on_before_the_final_event_is_written() -> None:
    """The next job's start must not wait for the finished job's Event (an API call, seconds under load)."""
    w = World(qio_limits={"maxConcurrentJobs": 1})
    await _started_pod_job(w, "first")
    w.qio_job("next")
    await w.reconcile("next")
    assert w.status("next")["state"] == "Waiting"
    w.enqueued.clear()
    enqueued_at_event: list[list[str]] = []
    record_event = w.kube.event

    async def event(obj: Any, reason: str, message: str, warning: bool = False) -> bool:
        enqueued_at_event.append(list(w.enqueued))
        return await record_event(obj, reason, message, warning)

    w.kube.event = event  # type: ignore[method-assign]
    w.pod("first", "Succeeded", started=_hours_ago(0.1), finished=_hours_ago(0.05))
    w.storage.put_blob(container_name(w.job_id("first")), OUTPUT_BLOB, b"{}")
    await w.reconcile("first")
    assert w.status("first")["state"] == "Succeeded"
    assert enqueued_at_event and f"{NS}/next" in enqueued_at_event[0]


async def test_a_final_event_the_api_server_refused_is_recorded_on_a_later_pass() -> None:
    """During an API server restart an Event create may be refused (503): the job's final Event comes later."""
    w = World()
    await _started_pod_job(w)
    w.pod("j", "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.0), message='{"code": "X", "message": "y"}')
    w.kube.refuse_events = True
    await w.reconcile("j")
    assert w.status("j")["state"] == "Failed"
    assert "Failed" not in [e["reason"] for e in w.kube.events]
    await w.reconcile("j")  # the clean-up pass: still refused, looked at again later
    assert (f"{NS}/j", 5.0) in w.enqueued_after
    w.kube.refuse_events = False
    await w.reconcile("j")
    await w.reconcile("j")
    assert [e["reason"] for e in w.kube.events].count("Failed") == 1
