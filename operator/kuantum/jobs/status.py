"""A job's status on the API server: the reconcile's one guarded write of what the state machine drafted, the
Events of its transitions, and exactly one final Event per job, also across a process killed in between."""

from __future__ import annotations

import contextlib
import logging

from ..models import JobState, QuantumJobStatus
from ..objects import JobObject
from ..runtime import metrics, tracing
from ..runtime.result import Result
from ..runtime.store import Store
from ..runtime.timeutil import now_iso, seconds_between
from ..runtime.writer import Kube
from ..scheduling.admission import Dispatcher
from .draft import Draft
from .statemachine import Event, is_final

log = logging.getLogger("kuantum.job")
MISSED_EVENT_WINDOW_SECONDS = 300.0  # jobs final this long before a start are checked for their final Event


class StatusWriter:
    def __init__(self, kube: Kube, store: Store, slots: Dispatcher) -> None:
        self.kube = kube
        self.store = store
        self.slots = slots
        self._started_at = now_iso()
        self._final_known: set[str] = set()  # uids of final jobs whose final Event is known to exist

    async def write(self, job: JobObject, status: QuantumJobStatus, events: list[Event]) -> tuple[JobObject, Result]:
        """Applies events through the state machine, writes the status once, and records Events."""
        draft = Draft(job, status)
        draft.apply(*events)
        return await self.flush(draft)

    async def announce_gone(self, job: JobObject, status: QuantumJobStatus, events: list[Event]
                            ) -> QuantumJobStatus:
        """For a job whose object is being deleted: its last transition is announced (Events, metrics, its slot
        released) but not written. No one can read the status of an object whose finalizer is released next, and
        a status patch per job would triple what a bulk delete costs. Announced once, also when the finalizer's
        release has to be retried."""
        draft = Draft(job, status)
        draft.apply(*events)
        new = draft.new
        if new.state != status.state and job.meta.uid not in self._final_known:
            await self._record_transition(job, status, new)
        return new

    async def flush(self, draft: Draft) -> tuple[JobObject, Result]:
        """The reconcile's one status write (when anything changed), then its Events; and when to look again:
        at once for a job that just ended (its clean-up and TTL), else when the pass asked to."""
        new = draft.new
        if new.id is None and new.state is not None:
            new = new.model_copy(update={"id": draft.job_id})
        job = await self._write_status(draft.job, draft.old, new)
        if new.state != draft.old.state:
            await self._record_transition(job, draft.old, new)
        for reason, message, warning in draft.notices:
            await self.kube.event(job, reason, message, warning=warning)
        wake = tuple(draft.wake)
        if is_final(new.state):
            return job, Result(0.0 if new.state != draft.old.state else None, wake)
        return job, Result(draft.recheck, wake)

    async def _write_status(self, job: JobObject, old: QuantumJobStatus, new: QuantumJobStatus) -> JobObject:
        new = new.model_copy(update={"observedGeneration": job.meta.generation})
        if new == old:
            return job
        meta = job.meta
        moved_only = new.model_copy(update={"queuePosition": old.queuePosition}) == old  # its place in the queue
        with tracing.routine_writes() if moved_only else contextlib.nullcontext():
            updated = await self.kube.write_state_guarded("QuantumJob", meta.namespace, meta.name,
                                                          None if old.state is None else str(old.state),
                                                          new.model_dump(mode="json", exclude_none=True))
        return self.store.put_job(updated)

    async def _record_transition(self, job: JobObject, old: QuantumJobStatus, new: QuantumJobStatus) -> None:
        state = JobState(new.state) if new.state else None
        if state is None:
            return
        labels = self.labels(job)
        if old.state is None:
            metrics.job_seen(labels, job.priority)
        metrics.TRANSITIONS.labels(*labels, state.value).inc()
        if state == JobState.FAILED:
            metrics.FAILURES.labels(*labels, metrics.code_label(new.errorData.code if new.errorData else "")).inc()
        detail = f" ({new.errorData.code}: {new.errorData.message[:200]})" if new.errorData else ""
        log.info("job %s (%s): %s -> %s%s", job.key, new.id, old.state or "new", state.value, detail)
        if new.beginExecutionTime and not old.beginExecutionTime and new.creationTime:
            metrics.QUEUE_WAIT.labels(*labels, job.priority).observe(
                seconds_between(new.creationTime, new.beginExecutionTime))
            await self.kube.event(job, "Executing", f"job {new.id} started executing")
        if is_final(state) and new.beginExecutionTime and new.endExecutionTime:
            metrics.EXECUTION.labels(*labels, state.value).observe(
                seconds_between(new.beginExecutionTime, new.endExecutionTime))
        if is_final(state):
            self.slots.release(job)  # the next job starts while the Event is written
            if await self._final_event(job, new):
                self._final_known.add(job.meta.uid)  # else the clean-up pass looks for it again

    def labels(self, job: JobObject) -> metrics.JobLabels:
        """The job's metric labels (namespace, workspace, provider, target), bounded (runtime/metrics.py)."""
        return metrics.job_labels(job.meta.namespace, job.workspace, job.provider, job.target,
                                  lambda namespace, name: f"{namespace}/{name}" in self.store.workspaces)

    async def _final_event(self, job: JobObject, status: QuantumJobStatus) -> bool:
        """The one Event of a job's final state (its reason is the state); False when it was not recorded."""
        if status.state == JobState.SUCCEEDED:
            return await self.kube.event(job, "Succeeded",
                                         f"job {status.id} succeeded; output at {status.outputDataUri}")
        if status.state == JobState.FAILED:
            error = status.errorData
            return await self.kube.event(job, "Failed", f"{error.code}: {error.message}" if error else "failed",
                                         warning=True)
        return await self.kube.event(job, "Cancelled", f"job {status.id} was cancelled")

    async def final_event_settled(self, job: JobObject, status: QuantumJobStatus) -> bool:
        """Whether the final job's one final Event exists, recording it where it is missing: a process killed
        between the final status write and its Event, or an API server that refused the Event, leaves the job
        without one. Only jobs that ended after (or shortly before) this process started are looked at (older
        ones were announced). False when that could not be settled now (the API server is away)."""
        if job.meta.uid in self._final_known:
            return True
        ended = status.endExecutionTime or status.cancellationTime
        if ended is None or seconds_between(ended, self._started_at) > MISSED_EVENT_WINDOW_SECONDS:
            settled = True
        else:
            reasons = await self.kube.event_reasons(job)
            settled = reasons is not None and (str(status.state) in reasons or await self._final_event(job, status))
        if settled:
            self._final_known.add(job.meta.uid)
        return settled

    def forget(self, job: JobObject) -> None:
        """The job is gone: nothing about its Events is kept."""
        self._final_known.discard(job.meta.uid)
