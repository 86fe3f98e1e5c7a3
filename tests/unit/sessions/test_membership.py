"""What a job's session means for it (sessions/membership.py): join, wait, be refused, be cancelled."""

from __future__ import annotations

from typing import Any

from kuantum.models.common import ANNOTATION_CREATED_BY, GATEWAY
from kuantum.objects import parse_job, parse_session
from kuantum.sessions.membership import CancelWithSession, Refuse, Wait, judge

SESSION_SPEC = {"workspace": "ws", "provider": "ionq", "target": "ionq.simulator"}


def session(status: dict[str, Any] | None = None, **spec: Any) -> Any:
    return parse_session({"metadata": {"name": "s", "namespace": "ns", "uid": "u-s"},
                          "spec": {**SESSION_SPEC, **spec}, "status": status or {}})


def job(state: str | None = None, created: str = "2026-11-28T10:00:00Z", gateway: bool = False, **spec: Any) -> Any:
    body = {"metadata": {"name": "j", "namespace": "ns", "uid": "u-j", "creationTimestamp": created,
                         "annotations": {ANNOTATION_CREATED_BY: GATEWAY} if gateway else {}},
            "spec": {"workspace": "ws", "provider": "IonQ", "target": "ionq.simulator", "input": {"inline": {}},
                     "session": "s", **spec},
            "status": {"state": state} if state else {}}
    parsed = parse_job(body)
    return parsed, parsed.spec


def test_an_open_session_takes_its_jobs() -> None:
    j, s = job()
    assert judge(j, s, session({"state": "Executing"})) is None
    j, s = job(session=None)
    assert judge(j, s, None) is None  # a standalone job


def test_a_missing_session_is_waited_for_unless_the_job_came_through_the_gateway() -> None:
    j, s = job()
    assert isinstance(judge(j, s, None), Wait)
    j, s = job(gateway=True)
    verdict = judge(j, s, None)
    assert isinstance(verdict, Refuse) and verdict.code == "SessionNotFound"
    j, s = job(state="Waiting")
    assert judge(j, s, None) is None  # it joined; the session object went since


def test_a_job_on_another_target_is_refused() -> None:
    j, s = job(target="ionq.qpu.aria-1")
    verdict = judge(j, s, session())
    assert isinstance(verdict, Refuse) and verdict.code == "InvalidSession" and "ionq.qpu.aria-1" in verdict.message


def test_jobs_created_after_the_close_are_refused_those_before_it_run() -> None:
    closed = session({"state": "Executing", "closeTime": "2026-11-28T10:00:00Z"}, close=True)
    before, s = job(created="2026-11-28T10:00:00Z")
    assert judge(before, s, closed) is None  # e.g. submitted inside `with target.open_session():`
    after, s = job(created="2026-11-28T10:00:01Z")
    verdict = judge(after, s, closed)
    assert isinstance(verdict, Refuse) and verdict.code == "SessionClosed"
    assert "session s (" in verdict.message and "closed" in verdict.message


def test_an_aborted_session_cancels_its_waiting_jobs() -> None:
    failed = session({"state": "Failed", "closeTime": "2026-11-28T10:00:00Z",
                      "errorData": {"code": "JobFailed", "message": "job x failed"}})
    j, s = job(state="Waiting")
    verdict = judge(j, s, failed)
    assert isinstance(verdict, CancelWithSession) and "Abort" in verdict.message
    continued = session({"state": "Failed", "closeTime": "2026-11-28T10:00:00Z"}, jobFailurePolicy="Continue")
    assert judge(j, s, continued) is None


def test_a_failed_job_cancels_its_abort_sessions_waiting_jobs_before_the_session_says_failed() -> None:
    """A slot freed between a job's failure and the session's status write must not start a waiting job."""
    open_session = session({"state": "Executing"})
    peer, _ = job(state="Failed")
    j, s = job(state="Waiting")
    verdict = judge(j, s, open_session, failed_peer=peer)
    assert isinstance(verdict, CancelWithSession) and "its job j failed" in verdict.message
    assert judge(j, s, open_session) is None
    assert judge(j, s, session({"state": "Executing"}, jobFailurePolicy="Continue"), failed_peer=peer) is None
