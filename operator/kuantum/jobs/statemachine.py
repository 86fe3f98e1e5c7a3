"""The one authority on job states: which transitions exist and what each writes into status.

Pure: takes a status and an event, returns the new status. Final states never change: any event
on a Succeeded, Failed or Cancelled job returns the status untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..conditions import remove_condition, set_condition
from ..models import ErrorData, JobState, QuantumJobStatus
from ..models.job import FINAL_STATES
from ..runtime.timeutil import seconds_between

# Allowed moves; everything else (backwards, or out of a final state) is ignored.
ALLOWED: dict[JobState | None, frozenset[JobState]] = {
    None: frozenset({JobState.WAITING, JobState.FAILED, JobState.CANCELLED}),
    JobState.WAITING: frozenset({JobState.EXECUTING, JobState.FAILED, JobState.CANCELLED}),
    JobState.EXECUTING: frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}),
}


@dataclass(frozen=True)
class Enqueued:
    """The job is accepted and waits (its input and queue place come with InputUploaded and QueueMoved)."""

    id: str


@dataclass(frozen=True)
class Started:
    begin_time: str


@dataclass(frozen=True)
class Completed:
    output_data_uri: str
    end_time: str
    usage: dict[str, float]
    logs_uri: str | None = None  # the solver's log, kept in the job's container


@dataclass(frozen=True)
class Failed:
    code: str
    message: str
    end_time: str | None = None
    usage: dict[str, float] | None = None
    logs_uri: str | None = None  # the solver's log: the error's message points to it


@dataclass(frozen=True)
class Cancelled:
    time: str
    usage: dict[str, float] | None = None


@dataclass(frozen=True)
class SubmitAttempted:
    """A remote backend is about to send the job to the provider: recorded before the request, so that after
    an unclear answer (or a restart) the operator looks for the job at the provider before sending it again."""

    time: str


@dataclass(frozen=True)
class Submitted:
    """The provider accepted the job (or it was found there) under this id."""

    provider_job_id: str


@dataclass(frozen=True)
class InputUploaded:
    """The job's input is in the workspace's storage at this URI."""

    uri: str


@dataclass(frozen=True)
class QueueMoved:
    """The job's 1-based place among the waiting jobs of its queue (None: not queued)."""

    position: int | None


@dataclass(frozen=True)
class Noted:
    """A condition that explains the job within its state: what it waits for (Queued), an ignored spec change
    (SpecChangeIgnored), a cancel that cannot take effect yet (CancelRequested)."""

    type: str
    status: bool
    reason: str
    message: str


# Events that record a step within the current state; they never change the state.
Note = SubmitAttempted | Submitted | InputUploaded | QueueMoved | Noted
Event = Enqueued | Started | Completed | Failed | Cancelled | Note
_TARGET_STATE: dict[type, JobState] = {
    Enqueued: JobState.WAITING, Started: JobState.EXECUTING, Completed: JobState.SUCCEEDED,
    Failed: JobState.FAILED, Cancelled: JobState.CANCELLED,
}


def is_final(state: JobState | str | None) -> bool:
    return state is not None and JobState(state) in FINAL_STATES


def can_move(current: JobState | str | None, target: JobState) -> bool:
    return target in ALLOWED.get(JobState(current) if current else None, frozenset())


def _duration(begin: str | None, end: str | None) -> str | None:
    if not begin or not end:
        return None
    seconds = round(seconds_between(begin, end))
    return f"{seconds // 60}m{seconds % 60}s" if seconds >= 60 else f"{seconds}s"


def apply(status: QuantumJobStatus, event: Event, now: str, generation: int | None = None) -> QuantumJobStatus:
    """The status after event, or the same object when the event does not apply in this state."""
    if isinstance(event, SubmitAttempted | Submitted | InputUploaded | QueueMoved | Noted):
        return _note(status, event, now, generation)
    target = _TARGET_STATE[type(event)]
    if not can_move(status.state, target):
        return status
    new = status.model_copy(deep=True)
    new.state = target
    new.observedGeneration = generation
    conds = new.conditions
    if isinstance(event, Enqueued):
        new.id = event.id
        new.creationTime = new.creationTime or now
        conds = set_condition(conds, "Queued", True, "Queued", "waiting for the target", now, generation)
        conds = set_condition(conds, "Reconciling", True, "Waiting", "the job is waiting in the queue", now, generation)
        conds = set_condition(conds, "Ready", False, "Waiting", "the job has not run yet", now, generation)
    elif isinstance(event, Started):
        new.beginExecutionTime = event.begin_time
        new.queuePosition = None
        conds = set_condition(conds, "Queued", False, "Started", "the job left the queue", now, generation)
        conds = set_condition(conds, "Executing", True, "Executing", "the target is running the job", now, generation)
        conds = set_condition(conds, "Reconciling", True, "Executing", "the job is executing", now, generation)
        conds = set_condition(conds, "Ready", False, "Executing", "the job is executing", now, generation)
    else:
        new.queuePosition = None
        conds = remove_condition(conds, "Reconciling")
        conds = set_condition(conds, "Queued", False, "Finished", "the job is no longer queued", now, generation)
        if new.beginExecutionTime:
            conds = set_condition(conds, "Executing", False, "Finished", "the job is no longer executing", now,
                                  generation)
        new.logsUri = getattr(event, "logs_uri", None) or new.logsUri
        if isinstance(event, Completed):
            new.outputDataUri = event.output_data_uri
            new.endExecutionTime = event.end_time
            new.usage = event.usage
            new.errorData = None
            conds = set_condition(conds, "Ready", True, "Succeeded", "the job succeeded; output written", now,
                                  generation)
        elif isinstance(event, Failed):
            message = event.message + (f" (the solver's log: {event.logs_uri})" if event.logs_uri else "")
            new.errorData = ErrorData(code=event.code, message=message)
            new.endExecutionTime = event.end_time or (now if new.beginExecutionTime else None)
            new.usage = event.usage or new.usage
            conds = set_condition(conds, "Ready", False, "Failed", f"{event.code}: {message}", now, generation)
            conds = set_condition(conds, "Stalled", True, event.code, message, now, generation)
        elif isinstance(event, Cancelled):
            new.cancellationTime = event.time
            if new.beginExecutionTime:
                new.endExecutionTime = event.time
            new.usage = event.usage or new.usage
            # Final and as asked (spec.cancel or deletion): Ready=True, so kstatus (Flux, kubectl wait,
            # cli-utils) reads Current, not InProgress forever; no Stalled, a cancel is not a failure.
            # status.state tells it apart from Succeeded (and there is no output).
            conds = set_condition(conds, "Ready", True, "Cancelled", "the job was cancelled; it has no output", now,
                                  generation)
        new.duration = _duration(new.beginExecutionTime, new.endExecutionTime)
    new.conditions = conds
    return new


def _note(status: QuantumJobStatus, event: Note, now: str, generation: int | None) -> QuantumJobStatus:
    """Records a step within the state of a job that is not final (a final job never changes)."""
    if status.state is None or is_final(status.state):
        return status
    if isinstance(event, SubmitAttempted):
        if status.providerSubmitTime is not None:
            return status  # the first attempt is the one to search from
        return status.model_copy(update={"providerSubmitTime": event.time})
    if isinstance(event, Submitted):
        if status.providerJobId == event.provider_job_id:
            return status
        return status.model_copy(update={"providerJobId": event.provider_job_id})
    if isinstance(event, InputUploaded):
        return status if status.inputDataUri == event.uri else status.model_copy(update={"inputDataUri": event.uri})
    if isinstance(event, QueueMoved):
        position = event.position if status.state == JobState.WAITING else None
        return status if status.queuePosition == position else status.model_copy(update={"queuePosition": position})
    existing = next((c for c in status.conditions if c.type == event.type), None)
    wanted = "True" if event.status else "False"
    if existing and existing.status == wanted and existing.reason == event.reason and existing.message == event.message:
        return status
    conditions = set_condition(status.conditions, event.type, event.status, event.reason, event.message, now,
                               generation)
    return status.model_copy(update={"conditions": conditions})
