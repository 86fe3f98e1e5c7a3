"""The session state machine (sessions/policy.py): states from jobs, spec and clock; kstatus conditions; final
states never change. Pure: no cluster, no clock."""

from __future__ import annotations

from typing import Any

import pytest
from kuantum.models import ErrorData, QuantumSessionSpec, QuantumSessionStatus
from kuantum.sessions.policy import Member, Verdict, evaluate

T0 = "2026-11-28T10:00:00Z"
ID = "7d19d4a8-cd3b-11f0-8000-0242ac120002"


def spec(**changes: Any) -> QuantumSessionSpec:
    return QuantumSessionSpec.model_validate({"workspace": "ws", "provider": "ionq", "target": "ionq.simulator",
                                              **changes})


def job(name: str, state: str | None, created: str = T0, begin: str | None = None, end: str | None = None,
        code: str | None = None) -> Member:
    return Member(name=name, state=state, created=created, begin=begin, end=end,
                  error=ErrorData(code=code, message="went wrong") if code else None)


def run(jobs: list[Member], now: str = "2026-11-28T10:01:00Z", old: QuantumSessionStatus | None = None,
        idle: int = 600, **changes: Any) -> Verdict:
    return evaluate(spec(**changes), old or QuantumSessionStatus(), ID, T0, jobs, now, idle, generation=1)


def condition(status: QuantumSessionStatus, kind: str) -> tuple[str, str] | None:
    found = next((c for c in status.conditions if c.type == kind), None)
    return (found.status, found.reason) if found else None


def test_an_open_session_waits_until_a_job_begins_then_executes() -> None:
    waiting = run([]).status
    assert waiting.state == "Waiting" and waiting.id == ID and waiting.creationTime == T0
    assert condition(waiting, "Reconciling") == ("True", "Waiting") and condition(waiting, "Ready")[0] == "False"
    executing = run([job("a", "Executing", begin="2026-11-28T10:00:05Z"), job("b", "Waiting")], old=waiting).status
    assert executing.state == "Executing" and executing.beginExecutionTime == "2026-11-28T10:00:05Z"
    assert executing.jobCounts == {"Executing": 1, "Waiting": 1}
    assert executing.closeTime is None


def test_abort_ends_the_session_failed_at_the_first_failed_job() -> None:
    verdict = run([job("a", "Succeeded", begin=T0, end=T0), job("b", "Failed", begin=T0, end=T0, code="Boom"),
                   job("c", "Waiting")])
    status = verdict.status
    assert status.state == "Failed" and status.errorData is not None and status.errorData.code == "JobFailed"
    assert "job b failed (Boom" in status.errorData.message
    assert status.closeTime == status.endExecutionTime == "2026-11-28T10:01:00Z"
    # kstatus: Failed (Stalled=True), no longer Reconciling.
    assert condition(status, "Stalled") == ("True", "JobFailed") and condition(status, "Reconciling") is None
    assert condition(status, "Ready") == ("False", "Failed")
    assert verdict.recheck_after is None


def test_continue_shows_failures_while_open_and_ends_failed_when_closed() -> None:
    jobs = [job("a", "Failed", begin=T0, end=T0, code="Boom"), job("b", "Executing", begin=T0)]
    open_ = run(jobs, jobFailurePolicy="Continue").status
    assert open_.state == "Failure(s)" and condition(open_, "Reconciling") == ("True", "JobFailures")
    closing = run(jobs, old=open_, jobFailurePolicy="Continue", close=True).status
    assert closing.state == "Failure(s)" and closing.closeTime is not None  # its jobs still run
    assert condition(closing, "Closed") == ("True", "CloseRequested")
    done = [jobs[0], job("b", "Succeeded", begin=T0, end=T0)]
    ended = run(done, old=closing, jobFailurePolicy="Continue", close=True).status
    assert ended.state == "Failed" and ended.errorData is not None and ended.errorData.code == "JobsFailed"
    assert condition(ended, "Stalled") == ("True", "JobsFailed")


def test_a_closed_session_succeeds_once_its_jobs_are_final_without_failure() -> None:
    running = run([job("a", "Executing", begin=T0)], close=True).status
    assert running.state == "Executing" and running.closeTime == "2026-11-28T10:01:00Z"
    ended = run([job("a", "Succeeded", begin=T0, end=T0), job("b", "Cancelled", end=T0)], old=running,
                close=True).status
    assert ended.state == "Succeeded" and condition(ended, "Ready") == ("True", "Succeeded")
    assert ended.closeTime == running.closeTime  # when it stopped accepting jobs: the first time it was seen closed
    assert run([], close=True).status.state == "Succeeded"  # closed before any job


def test_an_idle_session_times_out_and_says_when_to_look_again_before() -> None:
    quiet = run([job("a", "Succeeded", begin=T0, end="2026-11-28T10:00:30Z")], now="2026-11-28T10:05:00Z")
    assert quiet.status.state == "Executing" and quiet.recheck_after == pytest.approx(330.0)
    gone = run([job("a", "Succeeded", begin=T0, end="2026-11-28T10:00:30Z")], now="2026-11-28T10:10:30Z",
               old=quiet.status).status
    assert gone.state == "TimedOut" and condition(gone, "Ready") == ("True", "TimedOut")
    # A running job is activity: no timeout however long it runs; a shorter timeout from the spec or setting.
    busy = run([job("a", "Executing", begin=T0)], now="2026-11-28T12:00:00Z")
    assert busy.status.state == "Executing" and busy.recheck_after is None
    assert run([], now="2026-11-28T10:00:06Z", idleTimeoutSeconds=5).status.state == "TimedOut"
    assert run([], now="2026-11-28T10:00:06Z", idle=5).status.state == "TimedOut"


def test_final_states_never_change_and_refused_jobs_are_no_part_of_it() -> None:
    ended = run([job("a", "Waiting")], jobFailurePolicy="Abort", close=True).status
    ended = run([job("a", "Succeeded", begin=T0, end=T0)], old=ended, close=True).status
    assert ended.state == "Succeeded"
    later = run([job("a", "Succeeded", begin=T0, end=T0), job("b", "Failed", code="Boom")], old=ended,
                close=True, now="2026-11-28T11:00:00Z").status
    assert later.model_copy(update={"jobCounts": ended.jobCounts}) == ended  # only its counts follow its jobs
    assert later.jobCounts == {"Failed": 1, "Succeeded": 1}
    refused = [job("late", "Failed", code="SessionClosed"), job("a", "Waiting")]
    status = run(refused).status
    assert status.state == "Waiting" and status.jobCounts == {"Waiting": 1}


def test_a_closed_session_is_never_reopened() -> None:
    closing = run([job("a", "Executing", begin=T0)], close=True).status
    reopened = run([job("a", "Succeeded", begin=T0, end=T0)], old=closing, close=False).status
    assert reopened.state == "Succeeded"
