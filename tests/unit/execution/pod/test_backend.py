"""The pod backend (kuantum/execution/pod/backend.py) over the fakes of tests/support/job_world.py (its World): a
blob input's SAS, which of several pods is the job's, the pod's own start time, the solver Job's DeadlineExceeded
condition as the API server sends it (parsed JSON: strings compared by value), how long a finished job's solver
Job is kept for its logs, and the solver's termination message."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kuantum.execution.pod import backend as pod
from kuantum.execution.pod import builders, startup
from kuantum.models.common import LABEL_JOB_ID
from kuantum.runtime.timeutil import format_time, now_iso
from kuantum.storage.blobs import OUTPUT_BLOB, container_name
from kuantum_solvers.formats.contract import parse_termination_message

from tests.support.fake_storage import BLOB_BASE
from tests.support.job_world import NS, World, _hours_ago, _started_pod_job


def _pod(job_id: str, suffix: str, phase: str, created: str, status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": f"kuantum-{job_id}-{suffix}", "namespace": NS, "labels": {LABEL_JOB_ID: job_id},
                         "creationTimestamp": created},
            "status": {"phase": phase, **(status or {})}}


async def _launched(w: World, name: str = "j", **spec: Any) -> str:
    w.qio_job(name, **spec)
    await w.reconcile(name)
    w.deliver_children()
    return w.job_id(name)


async def test_a_blob_input_in_the_workspace_gets_a_read_sas_and_a_foreign_one_is_passed_as_given() -> None:
    w = World()
    own = f"{BLOB_BASE}/data/problems/p1.json"
    w.qio_job("own", input={"blobUri": own})
    foreign = "https://elsewhere.example/c/p.json?sv=2021&sig=abc"
    w.qio_job("foreign", input={"blobUri": foreign})
    await w.reconcile("own")
    await w.reconcile("foreign")
    urls = {name: w.kube.secrets[(NS, builders.secret_name(w.job_id(name)))]["stringData"][builders.INPUT_URL_KEY]
            for name in ("own", "foreign")}
    assert urls["foreign"] == foreign, "a URL outside the workspace carries its own SAS token"
    request = next(r for r in w.storage.sas_requests if r.url == urls["own"])
    assert (request.container, request.blob, request.write) == ("data", "problems/p1.json", False)


async def test_the_newest_pod_is_the_jobs_whatever_order_the_watch_gave() -> None:
    w = World()
    job_id = await _launched(w)
    running = {"startTime": _hours_ago(0.01),
               "containerStatuses": [{"name": "solver", "state": {"running": {"startedAt": _hours_ago(0.01)}}}]}
    w.store.put_child("Pod", _pod(job_id, "new", "Running", "2024-01-01T00:05:00Z", running), deleted=False)
    w.store.put_child("Pod", _pod(job_id, "old", "Failed", "2024-01-01T00:00:00Z"), deleted=False)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Executing", "the older, failed pod is not the job's current run"
    assert w.reconciler.backends.pod.execution_began(job_id) == running["startTime"]


async def test_execution_began_is_the_latest_pods_start() -> None:
    w = World()
    job_id = await _launched(w)
    newer = _pod(job_id, "b", "Running", "2024-01-01T00:05:00Z", {"startTime": "2024-01-01T00:05:01Z"})
    older = _pod(job_id, "a", "Failed", "2024-01-01T00:00:00Z", {"startTime": "2024-01-01T00:00:01Z"})
    w.store.put_child("Pod", newer, deleted=False)
    w.store.put_child("Pod", older, deleted=False)
    assert w.reconciler.backends.pod.execution_began(job_id) == "2024-01-01T00:05:01Z"


async def test_a_pod_without_container_times_begins_at_its_start_time() -> None:
    """Before the kubelet reports the container, or for a pod evicted before it ran, the pod's startTime counts."""
    w = World()
    job_id = await _launched(w)
    started = _hours_ago(0.02)
    w.store.put_child("Pod", _pod(job_id, "x", "Running", "2024-01-01T00:00:00Z", {
        "startTime": started, "containerStatuses": [{"name": "solver", "state": {"waiting": {"reason": "Pulling"}}}]}),
        deleted=False)
    await w.reconcile("j")
    assert w.status("j")["beginExecutionTime"] == started
    evicted = _pod(job_id, "x", "Failed", "2024-01-01T00:00:00Z", {"startTime": started, "reason": "Evicted"})
    w.store.put_child("Pod", evicted, deleted=False)
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == "SolverFailed"
    assert status["usage"]["executionSeconds"] >= 60, "from the pod's start to now, not zero"


async def test_a_pod_deleted_before_it_ever_started_used_no_execution_time() -> None:
    w = World()
    job_id = await _launched(w)
    pending = _pod(job_id, "p", "Pending", "2024-01-01T00:00:00Z")
    w.store.put_child("Pod", pending, deleted=False)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Waiting"
    w.store.put_child("Pod", pending, deleted=True)
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == "PodDeleted"
    assert status["usage"] == {"executionSeconds": 0.0}


def _deadline_condition(reason: str, status: str = "True") -> dict[str, Any]:
    # As the watch delivers it: decoded JSON, whose strings are not the interned literals of this module.
    return json.loads(json.dumps({"type": "Failed", "status": status, "reason": reason,
                                  "message": "Job was active longer than specified deadline"}))


async def test_the_solver_jobs_deadline_exceeded_condition_fails_the_job_with_a_timeout() -> None:
    w = World()
    job_id = await _started_pod_job(w, timeoutSeconds=3600)
    batch = copy.deepcopy(w.store.batch_jobs[job_id])
    batch["status"] = {"conditions": [_deadline_condition("DeadlineExceeded")]}
    w.store.put_child("Job", batch, deleted=False)
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == "Timeout"
    assert "longer than specified deadline" in status["errorData"]["message"]


async def test_other_or_unset_solver_job_conditions_are_not_a_timeout() -> None:
    w = World()
    job_id = await _started_pod_job(w, timeoutSeconds=3600)
    batch = copy.deepcopy(w.store.batch_jobs[job_id])
    batch["status"] = {"conditions": [_deadline_condition("PodFailurePolicy"),
                                      _deadline_condition("DeadlineExceeded", status="False"),
                                      {**_deadline_condition("DeadlineExceeded"), "type": "Suspended"},
                                      # Kubernetes 1.31+ marks the failure to come before the pods are gone:
                                      # the Failed condition follows and is the one that counts.
                                      {**_deadline_condition("DeadlineExceeded"), "type": "FailureTarget"},
                                      {**_deadline_condition("DeadlineExceeded"), "type": "Complete"}]}
    w.store.put_child("Job", batch, deleted=False)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Executing"


async def test_a_pod_failed_by_its_deadline_is_a_timeout_whatever_the_clock_says() -> None:
    """The kubelet's DeadlineExceeded is the authority (activeDeadlineSeconds counts from the Job's start,
    which may be earlier than any time the operator saw)."""
    w = World()
    job_id = await _started_pod_job(w, timeoutSeconds=3600)
    failed = _pod(job_id, "abcde", "Failed", "2024-01-01T00:00:00Z", {
        "reason": "DeadlineExceeded",
        "containerStatuses": [{"name": "solver", "state": {"terminated": {
            "exitCode": 137, "startedAt": _hours_ago(0.1), "finishedAt": now_iso(), "message": ""}}}]})
    w.store.put_child("Pod", failed, deleted=False)
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == "Timeout", status


async def test_the_solvers_log_is_kept_next_to_the_output_and_the_error_points_to_it() -> None:
    """A failed pod's log (its last MiB) goes to job-<id>/logs before the pod goes; status.logsUri links it and the
    error's message names it. A pod whose log cannot be read does not hold the job back."""
    from kuantum.storage.blobs import LOG_LIMIT, LOGS_BLOB

    w = World()
    job_id = await _started_pod_job(w)
    failed = _pod(job_id, "abcde", "Failed", "2024-01-01T00:00:00Z", {
        "containerStatuses": [{"name": "solver", "state": {"terminated": {
            "exitCode": 2, "startedAt": _hours_ago(0.1), "finishedAt": now_iso(),
            "message": '{"code": "InvalidInputData", "message": "no terms"}'}}}]})
    w.kube.pod_logs[(NS, failed["metadata"]["name"])] = b"x" * LOG_LIMIT + b"reading input\nno terms\n"
    w.store.put_child("Pod", failed, deleted=False)
    await w.reconcile("j")
    status = w.status("j")
    uri = f"{BLOB_BASE}/{container_name(job_id)}/{LOGS_BLOB}"
    assert status["state"] == "Failed" and status["logsUri"] == uri, status
    assert status["errorData"] == {"code": "InvalidInputData", "message": f"no terms (the solver's log: {uri})"}
    kept = w.storage.blobs[(container_name(job_id), LOGS_BLOB)]
    assert len(kept.data) == LOG_LIMIT and kept.data.endswith(b"reading input\nno terms\n")

    w2 = World()
    job_id = await _started_pod_job(w2)
    done = _pod(job_id, "fghij", "Succeeded", "2024-01-01T00:00:00Z", {
        "containerStatuses": [{"name": "solver", "state": {"terminated": {
            "exitCode": 0, "startedAt": _hours_ago(0.1), "finishedAt": now_iso()}}}]})
    w2.storage.put_blob(container_name(job_id), OUTPUT_BLOB, b"{}")
    w2.store.put_child("Pod", done, deleted=False)  # the kubelet has no log for it: none kept, the job goes on
    await w2.reconcile("j")
    assert w2.status("j")["state"] == "Succeeded" and "logsUri" not in w2.status("j")


async def test_a_running_job_with_a_timeout_is_looked_at_again_when_it_becomes_overdue() -> None:
    w = World()
    await _started_pod_job(w, timeoutSeconds=3600)  # its pod started 6 minutes ago
    w.enqueued_after.clear()
    await w.reconcile("j")
    assert w.status("j")["state"] == "Executing"
    [(_, after)] = w.enqueued_after
    assert 3600 - 360 < after <= 3600 - 360 + pod.TIMEOUT_GRACE_SECONDS + 1


async def test_a_job_running_past_its_timeout_the_deadline_did_not_stop_is_stopped_and_fails() -> None:
    """A busy (or restarted) controller-manager enforces activeDeadlineSeconds late: the operator does, once the
    job is overdue by the grace, instead of letting it run to a success it was not allowed."""
    w = World()
    job_id = await _launched(w, timeoutSeconds=60)
    w.pod("j", "Running", started=_hours_ago(0.1))  # 6 minutes ago, and it still runs
    p = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == "Timeout", status
    assert "timeoutSeconds=60" in status["errorData"]["message"]
    assert ("delete_job", builders.child_name(job_id)) in [(c.method, c.args.get("name")) for c in p.calls]


async def test_a_finished_jobs_solver_job_is_looked_at_again_when_its_retention_ends(
        monkeypatch: pytest.MonkeyPatch) -> None:
    w = World()
    job_id = await _started_pod_job(w)
    base = datetime.now(UTC).replace(microsecond=0)
    w.pod("j", "Succeeded", started=format_time(base - timedelta(seconds=100)),
          finished=format_time(base - timedelta(seconds=10)))
    w.storage.put_blob(container_name(job_id), OUTPUT_BLOB, b"{}")
    await w.reconcile("j")
    w.enqueued_after.clear()
    monkeypatch.setattr(pod, "now_iso", lambda: format_time(base))  # the backend's clock: 10 s after the end
    p = await w.reconcile("j")
    assert not p.of("delete_job")
    delays = [delay for key, delay in w.enqueued_after if key == f"{NS}/j"]
    assert delays and all(d == w.settings.child_retention_seconds - 10 + 0.5 for d in delays), \
        "just after the retention ends (half a second late: never early, to find it still there)"


# ---------------------------------------------------------------------------------------------- termination message
@pytest.mark.parametrize(("message", "expected"), [
    ('{"code": "InvalidInputData", "message": "bad terms"}', ("InvalidInputData", "bad terms")),
    ('Traceback...\nsomething\n{"code": "InvalidParameters", "message": "sweeps"}\n',
     ("InvalidParameters", "sweeps")),
    ('{"code": "A", "message": "first"}\n{"code": "B", "message": "last"}', ("B", "last")),
    ('{"code": "A", "message": "good"}\n{"code": "B", "mess', ("A", "good")),
    ('{"code": "A", "message": "good"}\n{"other": 1}', ("A", "good")),
    ('   {"code": "X", "message": "indented"}   ', ("X", "indented")),
    ('{"code": 137, "message": null}', ("137", "None")),
])
def test_parse_termination_message(message: str, expected: tuple[str, str]) -> None:
    assert parse_termination_message(message) == expected


@pytest.mark.parametrize("message", [
    "", "   \n  ", "Killed", "{not json}", '{"code": "X"}', '{"message": "no code"}', '["code", "message"]',
    "panic: runtime error\n\tgoroutine 1", "\x00\xff garbage {",
])
def test_parse_termination_message_garbage_is_none(message: str) -> None:
    assert parse_termination_message(message) is None


@given(st.text(max_size=200))
def test_parse_termination_message_never_raises(message: str) -> None:
    result = parse_termination_message(message)
    assert result is None or (isinstance(result[0], str) and isinstance(result[1], str))


@given(st.text(max_size=80), st.text(max_size=80), st.text(max_size=200))
def test_parse_termination_message_finds_the_solver_line_after_any_log(code: str, msg: str, log: str) -> None:
    line = json.dumps({"code": code, "message": msg})
    assert parse_termination_message(f"{log}\n{line}") == (code, msg)


def _pull_failing(job_id: str, reason: str, created: str) -> dict[str, Any]:
    pod = _pod(job_id, "p", "Pending", created, {"containerStatuses": [
        {"name": "solver", "state": {"waiting": {"reason": reason, "message": "dial tcp 127.0.0.1:1: refused"}}}]})
    pod["spec"] = {"containers": [{"name": "solver", "image": "127.0.0.1:1/kuantum-solver:none"}]}
    return pod


async def test_a_pod_whose_image_cannot_be_pulled_says_so_on_the_waiting_job_once_then_the_job_goes_on() -> None:
    w = World()
    job_id = await _launched(w)
    w.store.put_child("Pod", _pull_failing(job_id, "ImagePullBackOff", now_iso()), deleted=False)
    p = await w.reconcile("j")
    status = w.status("j")
    queued = next(c for c in status["conditions"] if c["type"] == "Queued")
    assert status["state"] == "Waiting" and (queued["status"], queued["reason"]) == ("False", "ImagePullBackOff")
    assert "127.0.0.1:1/kuantum-solver:none" in queued["message"]
    assert [c.args["reason"] for c in p.of("event")] == ["ImagePullBackOff"]
    again = await w.reconcile("j")
    assert not again.writes(), "the same problem seen again writes nothing"
    creating = _pod(job_id, "p", "Pending", now_iso(), {"containerStatuses": [
        {"name": "solver", "state": {"waiting": {"reason": "ContainerCreating"}}}]})
    w.store.put_child("Pod", creating, deleted=False)  # pulled at last: the container is being created
    await w.reconcile("j")
    queued = next(c for c in w.status("j")["conditions"] if c["type"] == "Queued")
    assert (queued["status"], queued["reason"]) == ("True", "Starting")
    running = _pod(job_id, "p", "Running", now_iso(), {"containerStatuses": [
        {"name": "solver", "state": {"running": {"startedAt": now_iso()}}}]})
    w.store.put_child("Pod", running, deleted=False)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Executing"


async def test_a_pull_failing_past_the_retry_window_fails_the_job_and_stops_its_solver_job() -> None:
    w = World()
    job_id = await _launched(w)
    w.store.put_child("Pod", _pull_failing(job_id, "ErrImagePull", _hours_ago(1)), deleted=False)
    p = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == "SolverImageUnavailable", status
    assert ("delete_job", builders.child_name(job_id)) in [(c.method, c.args.get("name")) for c in p.calls]


async def test_a_pull_failing_within_the_window_is_looked_at_again_when_it_ends() -> None:
    w = World()
    job_id = await _launched(w)
    w.store.put_child("Pod", _pull_failing(job_id, "ErrImagePull", now_iso()), deleted=False)
    w.enqueued_after.clear()
    await w.reconcile("j")
    [(_, after)] = w.enqueued_after
    assert 0 < after <= startup.START_RETRY_SECONDS


async def test_an_unschedulable_pod_keeps_its_job_waiting_with_the_schedulers_reason() -> None:
    w = World()
    job_id = await _launched(w)
    w.store.put_child("Pod", _pod(job_id, "p", "Pending", now_iso(), {"conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/1 nodes are available: 1 Insufficient memory."}]}), deleted=False)
    await w.reconcile("j")
    status = w.status("j")
    queued = next(c for c in status["conditions"] if c["type"] == "Queued")
    assert status["state"] == "Waiting" and queued["reason"] == "Unschedulable"
    assert "Insufficient memory" in queued["message"]


async def test_a_pod_without_a_phase_yet_keeps_its_job_waiting() -> None:
    w = World()
    job_id = await _launched(w)
    w.store.put_child("Pod", {"metadata": {"name": f"kuantum-{job_id}-p", "namespace": NS,
                                           "labels": {LABEL_JOB_ID: job_id}, "creationTimestamp": now_iso()},
                              "status": {}}, deleted=False)  # as a watch may deliver it before the kubelet's word
    p = await w.reconcile("j")
    assert w.status("j")["state"] == "Waiting" and not p.of("event")


async def test_a_pod_that_cannot_start_past_the_jobs_timeout_is_a_timeout_from_the_instant_it_is_overdue(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Overdue (timeoutSeconds plus the grace since the solver Job began) is the timeout's, not the start
    problem's, from its first second: the job fails Timeout rather than waiting on for the image."""
    w = World()
    job_id = await _launched(w, timeoutSeconds=60)
    began = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=100)
    batch_job = copy.deepcopy(w.store.batch_jobs[job_id])
    batch_job["metadata"]["creationTimestamp"] = format_time(began)
    w.store.put_child("Job", batch_job, deleted=False)
    w.store.put_child("Pod", _pull_failing(job_id, "ErrImagePull", format_time(began)), deleted=False)
    overdue_at = began + timedelta(seconds=60 + pod.TIMEOUT_GRACE_SECONDS)
    monkeypatch.setattr(pod, "now_iso", lambda: format_time(overdue_at))
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == "Timeout", status


async def test_a_finished_jobs_solver_job_is_deleted_the_instant_its_retention_ends(
        monkeypatch: pytest.MonkeyPatch) -> None:
    w = World()
    job_id = await _started_pod_job(w)
    base = datetime.now(UTC).replace(microsecond=0)
    ended = base - timedelta(seconds=w.settings.child_retention_seconds)
    w.pod("j", "Succeeded", started=format_time(ended - timedelta(seconds=90)), finished=format_time(ended))
    w.storage.put_blob(container_name(job_id), OUTPUT_BLOB, b"{}")
    await w.reconcile("j")
    monkeypatch.setattr(pod, "now_iso", lambda: format_time(base))  # exactly the retention after the end
    p = await w.reconcile("j")
    assert [c.args.get("name") for c in p.of("delete_job")] == [builders.child_name(job_id)]


def test_a_target_whose_emulator_the_solver_does_not_know_runs_on_the_statevector_simulator() -> None:
    from dataclasses import replace

    from kuantum.catalog import targets_of

    aria = targets_of("ionq")["ionq.qpu.aria-1"]
    assert pod.runnable_target(aria).id == pod.EMULATOR_TARGET
    assert pod.runnable_target(replace(aria, emulator="no.such.target")).id == pod.EMULATOR_TARGET
    sa = targets_of("microsoft-qio")["microsoft.simulatedannealing.cpu"]
    assert pod.runnable_target(sa) is sa
