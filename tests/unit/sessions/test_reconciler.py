"""Sessions with the real job reconciler, dispatcher and session reconciler over the in-memory API server
(tests/support/job_world.py): a job waits for its session, joins it, is refused by a closed one, is cancelled
with an aborted one; a session's jobs run ahead of standalone ones; a job's priority change re-orders it."""

from __future__ import annotations

from typing import Any

from kuantum.models.common import ANNOTATION_CREATED_BY, GATEWAY
from kuantum.runtime.timeutil import now_iso
from kuantum.sessions.reconciler import SessionReconciler
from kuantum.storage.blobs import OUTPUT_BLOB, container_name

from tests.support.job_world import NS, SA, WS, World, _condition, _hours_ago


def add_session(w: World, name: str = "s", **spec: Any) -> None:
    w._put("QuantumSession", {"apiVersion": "kuantum.dev/v1alpha1", "kind": "QuantumSession",
                              "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}",
                                           "creationTimestamp": "2024-01-01T00:00:00Z", "generation": 1},
                              "spec": {"workspace": WS, "provider": "microsoft-qio", "target": SA, **spec}})


def session(w: World, name: str = "s") -> dict[str, Any]:
    found = w.kube.get("QuantumSession", NS, name)
    assert found is not None
    return found


async def reconcile_session(w: World, name: str = "s") -> None:
    await w.run(SessionReconciler(w.ctx), f"{NS}/{name}")
    w.store.put("QuantumSession", session(w, name))


def close(w: World, name: str = "s") -> None:
    obj = w.kube.objects[("QuantumSession", NS, name)]
    obj["spec"]["close"] = True
    obj["metadata"]["generation"] += 1
    obj["metadata"]["resourceVersion"] = w.kube.next_rv()
    w.store.put("QuantumSession", session(w, name))


async def finish(w: World, name: str, ok: bool = True) -> None:
    """The job's pod ran and ended; the job reconciler writes its final state."""
    w.deliver_children()
    if ok:
        w.storage.put_blob(container_name(w.job_id(name)), OUTPUT_BLOB, b"{}")
        w.pod(name, "Succeeded", started=_hours_ago(0.1), finished=_hours_ago(0.05))
    else:
        w.pod(name, "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.05), exit_code=1,
              message='{"code": "InvalidInputData", "message": "bad problem"}')
    await w.reconcile(name)


async def test_a_job_waits_for_its_session_then_joins_it_and_the_session_follows_its_jobs() -> None:
    w = World()
    w.qio_job("a", session="s")
    await w.reconcile("a")
    status = w.status("a")
    assert status["state"] == "Waiting" and _condition(status, "Queued")["reason"] == "SessionNotFound"  # type: ignore[index]
    add_session(w)
    await reconcile_session(w)
    assert session(w)["status"]["state"] == "Waiting"
    await w.reconcile("a")  # queued and launched
    w.deliver_children()
    w.pod("a", "Running", started=_hours_ago(0.1))
    await w.reconcile("a")
    await reconcile_session(w)
    got = session(w)["status"]
    assert got["state"] == "Executing" and got["jobCounts"] == {"Executing": 1}
    close(w)
    await reconcile_session(w)
    assert session(w)["status"]["state"] == "Executing"  # closed, its job still runs
    await finish(w, "a")
    await reconcile_session(w)
    got = session(w)["status"]
    assert got["state"] == "Succeeded" and got["jobCounts"] == {"Succeeded": 1}
    assert [e["reason"] for e in w.kube.events if e["kind"] == "QuantumSession"] == [
        "Waiting", "Executing", "Succeeded"]


async def test_a_gateway_job_for_a_missing_session_fails_naming_it() -> None:
    w = World()
    w.add_job("a", provider="microsoft-qio", target=SA, input={"inline": {}}, session="gone")
    obj = w.kube.objects[("QuantumJob", NS, "a")]
    obj["metadata"]["annotations"] = {ANNOTATION_CREATED_BY: GATEWAY}
    w.store.put("QuantumJob", w.job("a"))
    await w.reconcile("a")
    status = w.status("a")
    assert status["state"] == "Failed" and status["errorData"]["code"] == "SessionNotFound"
    assert "gone" in status["errorData"]["message"]


async def test_abort_fails_the_session_cancels_its_waiting_jobs_and_refuses_later_ones() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    add_session(w)
    w.qio_job("a", session="s", created="2024-01-01T00:00:01Z")
    w.qio_job("b", session="s", created="2024-01-01T00:00:02Z")
    await w.reconcile("a")
    await w.reconcile("b")
    assert w.status("b")["state"] == "Waiting"  # behind a, one slot
    await finish(w, "a", ok=False)
    assert w.status("a")["state"] == "Failed"
    w.enqueued.clear()
    await reconcile_session(w)
    got = session(w)["status"]
    assert got["state"] == "Failed" and got["errorData"]["code"] == "JobFailed" and got["closeTime"]
    assert f"{NS}/b" in w.enqueued  # its waiting job looks at it again
    await w.reconcile("b")
    assert w.status("b")["state"] == "Cancelled"
    assert any(e["reason"] == "SessionFailed" for e in w.kube.events if e["name"] == "b")
    w.qio_job("late", session="s", created=_hours_ago(-0.01))  # created after the session ended
    await w.reconcile("late")
    late = w.status("late")
    assert late["state"] == "Failed" and late["errorData"]["code"] == "SessionClosed"
    await reconcile_session(w)
    assert session(w)["status"]["jobCounts"] == {"Cancelled": 1, "Failed": 1}  # the refused job is not counted


async def test_continue_runs_on_after_a_failure_and_ends_failed_when_closed() -> None:
    w = World()
    add_session(w, jobFailurePolicy="Continue")
    w.qio_job("a", session="s")
    w.qio_job("b", session="s")
    await w.reconcile("a")
    await w.reconcile("b")
    await finish(w, "a", ok=False)
    await reconcile_session(w)
    assert session(w)["status"]["state"] == "Failure(s)"
    await finish(w, "b")
    close(w)
    await reconcile_session(w)
    got = session(w)["status"]
    assert got["state"] == "Failed" and got["errorData"]["code"] == "JobsFailed"
    assert _condition(got, "Stalled")["status"] == "True"  # type: ignore[index]


async def test_an_idle_session_asks_to_be_looked_at_when_its_timeout_falls_due() -> None:
    w = World()
    w.settings = type(w.settings)(**{**w.settings.__dict__, "session_idle_timeout_seconds": 600})
    w.restart()
    add_session(w, idleTimeoutSeconds=60)
    obj = w.kube.objects[("QuantumSession", NS, "s")]
    obj["metadata"]["creationTimestamp"] = now_iso()
    w.store.put("QuantumSession", session(w))
    await reconcile_session(w)
    key, after = w.enqueued_after[-1]
    assert key == f"{NS}/s" and 59 <= after <= 61


async def test_a_sessions_jobs_run_ahead_of_standalone_jobs_of_the_same_priority() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    add_session(w)
    w.qio_job("running", created="2024-01-01T00:00:00Z")
    await w.reconcile("running")
    for name in ("old1", "old2"):
        w.qio_job(name, created="2024-01-01T00:00:01Z")
        await w.reconcile(name)
    w.qio_job("in-session", session="s", created="2024-01-01T00:00:09Z")
    await w.reconcile("in-session")
    w.qio_job("urgent", priority="High", created="2024-01-01T00:00:10Z")
    await w.reconcile("urgent")
    group = (NS, WS, "microsoft-qio")
    order = [e.key.split("/")[1] for e in w.dispatcher.waiting(group)]
    assert order == ["urgent", "in-session", "old1", "old2"]  # High first, then the session's, then the oldest
    assert w.status("in-session")["queuePosition"] == 1  # written as it was queued (before urgent came)


async def test_a_priority_change_re_orders_a_waiting_job() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.qio_job("running", created="2024-01-01T00:00:00Z")
    await w.reconcile("running")
    for k, name in enumerate(("a", "b", "c")):
        w.qio_job(name, created=f"2024-01-01T00:00:0{k + 1}Z")
        await w.reconcile(name)
    group = (NS, WS, "microsoft-qio")
    assert [e.key.split("/")[1] for e in w.dispatcher.waiting(group)] == ["a", "b", "c"]
    w.edit_spec("c", priority="High", name="renamed")
    p = await w.reconcile("c")
    assert [e.key.split("/")[1] for e in w.dispatcher.waiting(group)] == ["c", "a", "b"]
    assert w.status("c")["queuePosition"] == 1
    assert _condition(w.status("c"), "SpecChangeIgnored") is None  # name and priority may change
    assert not [c for c in p.of("event") if c.args["reason"] == "SpecChangeIgnored"]
