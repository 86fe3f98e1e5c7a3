"""A session's state from its jobs, its spec and the clock: the one authority on session states. Pure.

- Waiting: open, none of its jobs has begun executing. Executing: one has. Failure(s): a job failed under the
  Continue policy and the session is still open.
- Failed: under Abort, at the first failed job (its waiting jobs are then cancelled, later jobs refused);
  under Continue, once the closed session's jobs are final and one of them failed.
- Succeeded: closed, every job final, none failed (cancelled jobs are no failure).
- TimedOut: open, and no job joined, ran or ended for the idle timeout (a session whose job runs for an hour
  is not idle).
Final states never change (only the job counts go on following the jobs). Jobs refused by the session
(SESSION_REFUSALS) are no part of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ..conditions import remove_condition, set_condition
from ..models import ErrorData, JobState, QuantumSessionSpec, QuantumSessionStatus
from ..models.job import FINAL_STATES
from ..models.session import FINAL_SESSION_STATES, JobFailurePolicy, SessionState
from ..runtime.timeutil import parse, seconds_between

# Error codes of jobs a session refused (they never joined it).
SESSION_CLOSED = "SessionClosed"
SESSION_NOT_FOUND = "SessionNotFound"
INVALID_SESSION = "InvalidSession"
SESSION_REFUSALS = frozenset({SESSION_CLOSED, SESSION_NOT_FOUND, INVALID_SESSION})
DEFAULT_IDLE_TIMEOUT_SECONDS = 600  # Azure Quantum's


@dataclass(frozen=True)
class Member:
    """What the policy reads of one job of the session."""

    name: str
    state: str | None
    created: str  # the object's creationTimestamp
    begin: str | None = None
    end: str | None = None  # endExecutionTime, else cancellationTime
    error: ErrorData | None = None

    @property
    def refused(self) -> bool:
        return self.state == JobState.FAILED and self.error is not None and self.error.code in SESSION_REFUSALS

    @property
    def failed(self) -> bool:
        return self.state == JobState.FAILED and not self.refused

    @property
    def active(self) -> bool:
        return self.state is None or self.state not in FINAL_STATES


@dataclass(frozen=True)
class Verdict:
    status: QuantumSessionStatus
    recheck_after: float | None  # seconds until the idle timeout falls due (None: nothing to wait for)


def is_final(state: SessionState | str | None) -> bool:
    return state is not None and SessionState(state) in FINAL_SESSION_STATES


def idle_timeout(spec: QuantumSessionSpec, default: int) -> int:
    return spec.idleTimeoutSeconds or default


def _latest(stamps: Iterable[str | None]) -> str | None:
    found = [s for s in stamps if s]
    return max(found, key=parse) if found else None


def evaluate(spec: QuantumSessionSpec, old: QuantumSessionStatus, session_id: str, created: str,
             jobs: Iterable[Member], now: str, default_idle_seconds: int = DEFAULT_IDLE_TIMEOUT_SECONDS,
             generation: int | None = None) -> Verdict:
    """The session's status now, and when to look again for its idle timeout."""
    members = [j for j in jobs if not j.refused]
    counts = dict(sorted(Counter(j.state or JobState.WAITING.value for j in members).items()))
    if is_final(old.state):
        # The state and its times stay; the counts still follow its jobs (a cancelled waiting job, say).
        return Verdict(old if counts == old.jobCounts else old.model_copy(update={"jobCounts": counts}), None)
    new = old.model_copy(deep=True)
    new.id = old.id or session_id
    new.creationTime = old.creationTime or created
    new.observedGeneration = generation
    new.jobCounts = counts
    new.beginExecutionTime = old.beginExecutionTime or _earliest_begin(members)
    failed = sorted((j for j in members if j.failed), key=lambda j: (parse(j.end or j.created), j.name))
    active = any(j.active for j in members)
    last_activity = _latest([new.creationTime, *(j.created for j in members), *(j.end for j in members)])
    timeout = idle_timeout(spec, default_idle_seconds)
    idle_for = seconds_between(last_activity or now, now)
    closed = spec.close or old.closeTime is not None  # a closed session is never reopened
    recheck = None
    if spec.jobFailurePolicy == JobFailurePolicy.ABORT and failed:
        first = failed[0]
        code = first.error.code if first.error else "Failed"
        message = first.error.message if first.error else "failed"
        _end(new, SessionState.FAILED, now, generation, ErrorData(
            code="JobFailed", message=f"job {first.name} failed ({code}: {message}); under the Abort policy the "
                                      "session ends: its waiting jobs are cancelled, new jobs refused"))
    elif not closed and not active and idle_for >= timeout:
        _end(new, SessionState.TIMED_OUT, now, generation, None)
    elif closed and not active:
        if failed:
            _end(new, SessionState.FAILED, now, generation, ErrorData(
                code="JobsFailed", message=f"{len(failed)} of its {len(members)} jobs failed "
                                           f"(first: {failed[0].name})"))
        else:
            _end(new, SessionState.SUCCEEDED, now, generation, None)
    else:
        state = (SessionState.FAILURES if failed else
                 SessionState.EXECUTING if new.beginExecutionTime else SessionState.WAITING)
        _open(new, state, closed, len(failed), now, generation)
        if not closed and not active:
            recheck = max(0.0, timeout - idle_for)
    if closed and new.closeTime is None:
        new.closeTime = now  # from here on, jobs created later are refused
    return Verdict(new, recheck)


def _earliest_begin(members: list[Member]) -> str | None:
    begun = [j.begin for j in members if j.begin]
    return min(begun, key=parse) if begun else None


def _open(new: QuantumSessionStatus, state: SessionState, closed: bool, failures: int, now: str,
          generation: int | None) -> None:
    new.state = state
    conds = new.conditions
    messages = {SessionState.WAITING: "the session is open; none of its jobs has begun executing",
                SessionState.EXECUTING: "the session is open and running its jobs",
                SessionState.FAILURES: f"{failures} of its jobs failed; under the Continue policy it goes on"}
    reason = "JobFailures" if state == SessionState.FAILURES else state.value
    conds = set_condition(conds, "Reconciling", True, reason, messages[state], now, generation)
    conds = set_condition(conds, "Ready", False, reason, messages[state], now, generation)
    if closed:
        conds = set_condition(conds, "Closed", True, "CloseRequested",
                              "the session accepts no new jobs; it ends when its jobs are final", now, generation)
    new.conditions = conds


def _end(new: QuantumSessionStatus, state: SessionState, now: str, generation: int | None,
         error: ErrorData | None) -> None:
    """A final state: kstatus Current (Ready=True) for Succeeded and TimedOut, Failed (Stalled=True) for Failed."""
    new.state = state
    new.endExecutionTime = now
    new.closeTime = new.closeTime or now
    new.errorData = error
    conds = remove_condition(new.conditions, "Reconciling")
    conds = set_condition(conds, "Closed", True, state.value, "the session has ended; it accepts no new jobs",
                          now, generation)
    if state == SessionState.FAILED:
        assert error is not None
        conds = set_condition(conds, "Ready", False, "Failed", f"{error.code}: {error.message}", now, generation)
        conds = set_condition(conds, "Stalled", True, error.code, error.message, now, generation)
    elif state == SessionState.TIMED_OUT:
        # Ended as sessions left open end: nothing failed and nothing will change (kstatus Current, like a
        # cancelled job); status.state tells it apart from Succeeded.
        conds = set_condition(conds, "Ready", True, "TimedOut",
                              "no job joined, ran or ended for the idle timeout; the session ended", now, generation)
    else:
        conds = set_condition(conds, "Ready", True, "Succeeded", "the session was closed and all its jobs "
                                                                 "finished without failure", now, generation)
    new.conditions = conds
