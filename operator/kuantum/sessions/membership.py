"""What a job's session means for the job while it waits: join it, wait for it to exist, be refused by it, or
be cancelled with it. Pure: reads the job and its session as the store holds them.

A job belongs to its session when it was created before the session stopped accepting jobs
(`status.closeTime`); one created later is refused (Failed, code SessionClosed, naming the session), so jobs
submitted just before a close still run, as the SDK's `with target.open_session(): ...` expects.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog import canonical_provider_id
from ..models import QuantumJobSpec
from ..models.common import ANNOTATION_CREATED_BY, GATEWAY
from ..models.session import JobFailurePolicy, SessionState
from ..objects import JobObject, SessionObject
from ..runtime.timeutil import parse
from .policy import INVALID_SESSION, SESSION_CLOSED, SESSION_NOT_FOUND


@dataclass(frozen=True)
class Wait:
    """The session does not exist (yet): the job waits for it, as for a missing workspace."""

    reason: str
    message: str


@dataclass(frozen=True)
class Refuse:
    """The session does not take the job: it fails with this code."""

    code: str
    message: str


@dataclass(frozen=True)
class CancelWithSession:
    """The session failed under Abort: its waiting jobs are cancelled."""

    message: str


Decision = Wait | Refuse | CancelWithSession | None  # None: the job goes on (in its session, or alone)


def describe(session: SessionObject) -> str:
    return f"session {session.meta.name} ({session.session_id})"


def _same_provider(a: str, b: str) -> bool:
    ca, cb = canonical_provider_id(a), canonical_provider_id(b)
    return ca == cb if ca is not None and cb is not None else a.lower() == b.lower()


def created_after_close(job: JobObject, session: SessionObject) -> bool:
    closed = session.status.closeTime
    return closed is not None and bool(job.meta.created) and parse(job.meta.created) > parse(closed)


def judge(job: JobObject, spec: QuantumJobSpec, session: SessionObject | None,
          failed_peer: JobObject | None = None) -> Decision:
    """The session's verdict on a job that has not been launched (state None or Waiting). `failed_peer`: a job of
    the session that failed, as the store holds it: under Abort it cancels the job at once, before the session's
    own status says Failed (a slot freed meanwhile must not start the job)."""
    if not spec.session:
        return None
    new = job.state is None
    if session is None:
        if not new:
            return None  # it joined; the session object was deleted since: the job goes on alone
        message = f"QuantumSession {spec.session} does not exist in {job.meta.namespace}"
        if job.meta.annotations.get(ANNOTATION_CREATED_BY) == GATEWAY:
            return Refuse(SESSION_NOT_FOUND, message)  # as Azure answers a job for an unknown session
        return Wait(SESSION_NOT_FOUND, message)
    if new:
        if session.spec is None:
            return Refuse(INVALID_SESSION, f"{describe(session)} is invalid: {session.spec_error}")
        wrong = [f"{field} {mine!r} (the session's: {theirs!r})" for field, mine, theirs in (
            ("workspace", spec.workspace, session.spec.workspace), ("target", spec.target, session.spec.target))
            if mine != theirs]
        if not _same_provider(spec.provider, session.spec.provider):
            wrong.append(f"provider {spec.provider!r} (the session's: {session.spec.provider!r})")
        if wrong:
            return Refuse(INVALID_SESSION, f"the job's {', '.join(wrong)} differ from {describe(session)}'s")
        if created_after_close(job, session):
            return Refuse(SESSION_CLOSED, f"{describe(session)} is {_ended(session)}: it accepts no new jobs")
    if session.spec is None or session.spec.jobFailurePolicy != JobFailurePolicy.ABORT:
        return None
    if session.state == SessionState.FAILED:
        error = session.status.errorData
        return CancelWithSession(f"{describe(session)} failed under its Abort policy"
                                 + (f" ({error.message})" if error else "") + "; its waiting jobs are cancelled")
    if failed_peer is not None:
        return CancelWithSession(f"{describe(session)} fails under its Abort policy (its job {failed_peer.meta.name} "
                                 "failed); its waiting jobs are cancelled")
    return None


def _ended(session: SessionObject) -> str:
    state = session.state
    if state is None or state not in (SessionState.SUCCEEDED, SessionState.FAILED, SessionState.TIMED_OUT):
        return "closed"
    return {SessionState.SUCCEEDED: "closed (Succeeded)", SessionState.FAILED: "Failed",
            SessionState.TIMED_OUT: "TimedOut"}[state]
