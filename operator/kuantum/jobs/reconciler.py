"""QuantumJob reconciler: moves one job along Waiting -> Executing -> Succeeded | Failed | Cancelled.

Level-based: every call looks at the job, its workspace and provider, what runs it (through its backend) and
its blobs, and does the next step. Every step is idempotent (deterministic names, idempotent uploads), so it may
run any number of times, also after an operator restart. Status is written only when it changed, and a state is
never written over a final one (jobs/status.py). The reconciler asks backends only through execution/base.py:
their interface and the optional capabilities they may offer.
"""

from __future__ import annotations

import logging

from ..catalog import canonical_provider_id, targets_of
from ..context import Context
from ..execution.base import (
    Backend,
    Cancellation,
    DeferredSubmit,
    ExecutionClock,
    Observation,
    Pending,
    Run,
    StopsWithoutRun,
    usage_between,
)
from ..execution.registry import Backends
from ..models import JobState, QuantumJobSpec, QuantumJobStatus
from ..models.common import FINALIZER
from ..objects import JobObject, ProviderObject, job_id_for
from ..runtime import tracing
from ..runtime.lookup import workspace_deleting
from ..runtime.result import Result, sooner
from ..runtime.timeutil import month_of, now_iso, seconds_between
from ..scheduling.queues import SHOWN_POSITIONS, shown_position
from ..scheduling.usage import jobs_quota_exceeded, monthly_usage, plan_limits, seconds_quota_exceeded
from ..sessions import membership
from ..storage.blobs import WorkspaceStorage
from .acceptance import ensure_metadata, note_spec_changes
from .draft import Draft
from .duplicates import DUPLICATE_JOB_ID, duplicate_message, id_holder
from .inputs import InvalidInput
from .prerequisites import prerequisites, unavailable, upload_input
from .statemachine import Cancelled, Completed, Enqueued, Event, Failed, InputUploaded, QueueMoved, Started, is_final
from .status import StatusWriter
from .validation import JobInvalid, Resolved

log = logging.getLogger("kuantum.job")
PENDING_RETRY_SECONDS = 10.0
MISSED_EVENT_RETRY_SECONDS = 5.0


def _describe_outcome(span: tracing.SpanDraft, before: JobObject, after: JobObject | None) -> None:
    # A write marked the span used already (runtime/writer.py), unless it only moved the job in its queue.
    if after is None or after.status.state != before.status.state:
        span.keep()  # the job is gone, or changed state
    if after is not None:
        span.set_attributes(**{"kuantum.state.after": after.status.state})
        if after.status.errorData is not None and after.status.state != before.status.state:
            span.failed(f"{after.status.errorData.code}: {after.status.errorData.message}"[:300])


class JobReconciler:
    def __init__(self, ctx: Context, backends: Backends) -> None:
        self.ctx = ctx
        self.backends = backends
        self.writer = StatusWriter(ctx.kube, ctx.store, ctx.dispatcher)

    # ------------------------------------------------------------------ entry point
    async def reconcile(self, key: str) -> Result:
        job = self.ctx.store.jobs.get(key)
        if job is None:
            return Result()
        if not tracing.enabled():
            return await self._reconcile(job)
        # The job's trace (the gateway's request, else its first reconcile): each reconcile that changed the job
        # (or started what runs it, or called a provider: tracing marks those itself) is a span of it.
        with tracing.span_if_used("reconcile QuantumJob", parent=job.meta.annotations.get(tracing.ANNOTATION),
                                  attributes={"kuantum.job.namespace": job.meta.namespace,
                                              "kuantum.job.name": job.meta.name, "kuantum.job.id": job.job_id,
                                              "kuantum.target": job.target, "kuantum.state": job.status.state}
                                  ) as span:
            result = await self._reconcile(job)
            if span is not None:
                _describe_outcome(span, job, self.ctx.store.jobs.get(key))
            return result

    async def _reconcile(self, job: JobObject) -> Result:
        status = job.status
        if job.meta.deleting:
            return await self._on_deletion(job, status)
        if is_final(status.state):
            return await self._after_final(job, status)
        if status.state is None and (holder := id_holder(job, self.ctx.store.same_id(job))) is not None:
            # Before anything is written for it (no finalizer, job-id label or container), and with an id of its own
            # (from its uid), never the one it asked for: nothing of the other job is ever looked up by it.
            draft = Draft(job, status, job_id=job_id_for(job.meta.uid))
            draft.apply(Failed(DUPLICATE_JOB_ID, duplicate_message(job, holder)))
            return (await self.writer.flush(draft))[1]
        job = await ensure_metadata(self.ctx.kube, self.ctx.store, job)
        draft = Draft(job, status)
        spec = job.spec
        if spec is None:
            draft.apply(Failed("InvalidSpec", job.spec_error or "spec: invalid"))
        else:
            if workspace_deleting(self.ctx.store, job.meta.namespace, spec.workspace) and not spec.cancel:
                spec = spec.model_copy(update={"cancel": True})  # a workspace's deletion cancels its jobs
            note_spec_changes(draft)
            if status.state is None or (status.state == JobState.WAITING and not self.ctx.dispatcher.has_child(job)):
                await self._waiting(draft, spec)
            else:
                await self._running(draft, spec)
        return (await self.writer.flush(draft))[1]

    # ------------------------------------------------------------------ waiting
    async def _waiting(self, draft: Draft, spec: QuantumJobSpec) -> None:
        job = draft.job
        job_id = job.job_id
        first_time = draft.old.inputDataUri is None
        draft.apply(Enqueued(job_id))  # no-op once Waiting
        if spec.cancel:
            draft.apply(Cancelled(now_iso()))
            return
        if not self._in_its_session(draft, spec):
            return
        try:
            provider, storage, resolved = await prerequisites(self.ctx.store, self.ctx.storages, job, spec)
            if draft.new.inputDataUri is None:
                if quota := self._over_quota(job, spec, provider, seconds=False):
                    draft.apply(Failed("QuotaExceeded", quota))
                    return
                uploaded = await upload_input(self.ctx.kube, job, job_id, spec, resolved, storage)
                draft.apply(InputUploaded(uploaded))
        except Pending as p:
            self._pending(draft, p)
            return
        except JobInvalid as e:
            draft.apply(Failed(e.code, e.message))
            return
        except InvalidInput as e:
            draft.apply(Failed("InvalidInputData", str(e)))
            return
        if (why := unavailable(provider, spec.target)) is not None:
            self._pending(draft, Pending("TargetUnavailable", why))
            draft.apply(QueueMoved(shown_position(self._queue_position(job))))
            return
        draft.note("Queued", True, "Queued", f"queued for {spec.target} in workspace {spec.workspace}")
        draft.apply(QueueMoved(shown_position(self._queue_position(job))))
        if draft.new.queuePosition is not None and draft.new.queuePosition != draft.old.queuePosition:
            self._wake_shifted(draft, job)
        if first_time:
            draft.notify("Queued", f"job {job_id} queued for {spec.target}")
        if job.key in self.ctx.dispatcher.admitted(job.group, joining=job):
            await self._start(draft, spec, resolved, storage, provider)

    def _in_its_session(self, draft: Draft, spec: QuantumJobSpec) -> bool:
        """Applies the session's verdict (sessions/membership.py); False when the job goes no further now."""
        if not spec.session:
            return True
        namespace = draft.job.meta.namespace
        session = self.ctx.store.sessions.get(f"{namespace}/{spec.session}")
        failed = next((peer for peer in self.ctx.store.jobs_of_session(namespace, spec.session)
                       if peer.state == JobState.FAILED and peer.key != draft.job.key), None)
        verdict = membership.judge(draft.job, spec, session, failed)
        if isinstance(verdict, membership.Wait):
            self._pending(draft, Pending(verdict.reason, verdict.message))
            return False
        if isinstance(verdict, membership.Refuse):
            draft.apply(Failed(verdict.code, verdict.message))
            return False
        if isinstance(verdict, membership.CancelWithSession):
            draft.notify("SessionFailed", verdict.message, warning=True)
            draft.apply(Cancelled(now_iso()))
            return False
        return True

    @staticmethod
    def _pending(draft: Draft, p: Pending) -> None:
        """The job waits for something that does not exist yet: a Queued=False condition names it (an Event
        when the reason is new), and the job is looked at again later."""
        draft.note("Queued", False, p.reason, p.message, event=True, warning=True)
        draft.recheck_after(PENDING_RETRY_SECONDS)

    # ------------------------------------------------------------------ quotas and queue
    def _over_quota(self, job: JobObject, spec: QuantumJobSpec, provider: ProviderObject, seconds: bool
                    ) -> str | None:
        """Why the plan refuses the job: its jobs per month when it is submitted, its execution seconds when it
        starts. None where the plan sets no such limit (then the group's jobs are not even counted)."""
        limits = plan_limits(provider)
        if (limits.maxExecutionSecondsPerMonth if seconds else limits.maxJobsPerMonth) is None:
            return None
        # This month's use of the job's provider plan by the other jobs of its workspace.
        used = monthly_usage(self.ctx.dispatcher.members(job.group), month_of(now_iso()), excluding_uid=job.meta.uid)
        return (seconds_quota_exceeded if seconds else jobs_quota_exceeded)(limits, used, spec.provider)

    def _queue_position(self, job: JobObject) -> int | None:
        return self.ctx.dispatcher.position(job.group, job)

    def _wake_shifted(self, draft: Draft, job: JobObject) -> None:
        """A job that took a place at the front of its queue moves the jobs behind it (one of them out of the
        front): those whose shown position is now stale are reconciled next, so that no two jobs show one place for
        longer than that takes."""
        front = self.ctx.dispatcher.front(job.group, job.target, SHOWN_POSITIONS + 1, joining=job)
        for place, key in enumerate(front, start=1):
            other = self.ctx.store.jobs.get(key)
            if key != job.key and other is not None and other.status.queuePosition != shown_position(place):
                draft.wake.append(("QuantumJob", key))

    # ------------------------------------------------------------------ start
    async def _start(self, draft: Draft, spec: QuantumJobSpec, resolved: Resolved, storage: WorkspaceStorage,
                     provider: ProviderObject) -> None:
        """The job was admitted: its backend launches it."""
        if quota := self._over_quota(draft.job, spec, provider, seconds=True):
            draft.apply(Failed("QuotaExceeded", quota))
            return
        backend = self.backends.for_target(resolved.target, provider, draft.job.job_id)
        try:
            seen = await backend.submit(Run(draft.job, spec, draft.new, resolved, provider, storage))
        except Pending as p:
            self._pending(draft, p)
            return
        except JobInvalid as e:
            draft.apply(Failed(e.code, e.message))
            return
        draft.observe(seen)

    # ------------------------------------------------------------------ running
    async def _run_of(self, job: JobObject, status: QuantumJobStatus, spec: QuantumJobSpec) -> tuple[Backend, Run]:
        provider, storage, resolved = await prerequisites(self.ctx.store, self.ctx.storages, job, spec)
        backend = self.backends.for_target(resolved.target, provider, str(status.id) if status.id else None)
        return backend, Run(job, spec, status, resolved, provider, storage)

    async def _running(self, draft: Draft, spec: QuantumJobSpec) -> None:
        try:
            backend, run = await self._run_of(draft.job, draft.new, spec)
        except (Pending, JobInvalid) as e:
            # What it runs on went away under a launched job (workspace, Provider, storage): it stays as it is
            # until that is back or the job is cancelled or deleted.
            log.warning("job %s: %s; checking again in %.0fs", draft.job.key, e, PENDING_RETRY_SECONDS)
            draft.recheck_after(PENDING_RETRY_SECONDS)
            return
        if spec.cancel and isinstance(backend, DeferredSubmit) and not backend.sent(run):
            # Cancelled before the provider confirmed it: never send it (a recorded attempt is looked for first).
            if _done(draft, await backend.cancel(run)):
                draft.apply(Cancelled(now_iso()))
            return
        seen = await backend.observe(run)
        events = list(seen.events)
        if spec.cancel and not any(isinstance(e, Completed) for e in events):
            if _cancellable(draft.new, spec, events):
                # Before looking at a failure: stopping the run for the cancel makes it fail.
                if _done(draft, await backend.cancel(run)):
                    begin = draft.new.beginExecutionTime or (
                        backend.execution_began(run.job_id) if isinstance(backend, ExecutionClock) else None)
                    started = [e for e in events if not isinstance(e, Failed | Completed | Cancelled)]
                    draft.apply(*started, Cancelled(now_iso(), usage_between(begin, now_iso()) if begin else None))
                return
            _cancel_refused(draft, spec)
        draft.observe(Observation(tuple(events), seen.recheck_after, seen.wake))

    async def _stop(self, job: JobObject, status: QuantumJobStatus, spec: QuantumJobSpec | None) -> Cancellation:
        """Stops whatever runs the job: through its backend, or, where what a Run needs is gone, on every
        backend that can stop a run from the job alone. Done once nothing runs."""
        if spec is not None:
            try:
                backend, run = await self._run_of(job, status, spec)
            except (Pending, JobInvalid):
                pass  # nothing left to reach the job's own backend through
            else:
                return await backend.cancel(run)
        outcomes = [await b.stop(job, str(status.id)) for b in self.backends.all() if isinstance(b, StopsWithoutRun)]
        again = None
        for outcome in outcomes:
            again = sooner(again, outcome.recheck_after)
        return Cancellation(all(o.done for o in outcomes), again)

    # ------------------------------------------------------------------ final and deletion
    async def _after_final(self, job: JobObject, status: QuantumJobStatus) -> Result:
        again = None if await self.writer.final_event_settled(job, status) else MISSED_EVENT_RETRY_SECONDS
        if self.ctx.dispatcher.claimed(job):  # released at its final write, unless that write's answer was lost
            self.ctx.dispatcher.release(job)
        again = sooner(again, await self.backends.cleanup(job, status))
        ttl = job.spec.ttlSecondsAfterFinished if job.spec is not None else None
        if ttl is not None:
            finished = status.endExecutionTime or status.cancellationTime or now_iso()
            remaining = float(ttl) - seconds_between(finished, now_iso())
            if remaining <= 0:
                await self.ctx.kube.delete_custom("QuantumJob", job.meta.namespace, job.meta.name)
            else:
                again = sooner(again, remaining + 0.5)
        return Result(again)

    async def _on_deletion(self, job: JobObject, status: QuantumJobStatus) -> Result:
        """Deleting a job cancels it first; the blobs stay (they are the user's data)."""
        meta = job.meta
        if FINALIZER not in meta.finalizers:
            return Result()
        if not is_final(status.state) and status.state is not None:
            stopped = await self._stop(job, status, job.spec)
            if not stopped.done:
                return Result(stopped.recheck_after)
            status = await self.writer.announce_gone(job, status, [Cancelled(now_iso())])
        await self.backends.cleanup(job, status)  # the job's deletion takes what is kept: nothing to look at later
        remaining = [f for f in meta.finalizers if f != FINALIZER]
        await self.ctx.kube.patch_meta("QuantumJob", meta.namespace, meta.name, {"metadata": {"finalizers": remaining}})
        self.ctx.dispatcher.release(job)  # a waiting job's deletion frees no slot: nothing more may start
        if status.id:
            self.ctx.store.forget_job_children(status.id)
        self.writer.forget(job)
        return Result()


def _done(draft: Draft, outcome: Cancellation) -> bool:
    """Whether a cancel is done; if not, the draft looks again when the backend said."""
    if outcome.recheck_after is not None:
        draft.recheck_after(outcome.recheck_after)
    return outcome.done


def _cancellable(status: QuantumJobStatus, spec: QuantumJobSpec, events: list[Event]) -> bool:
    """Waiting jobs always are; executing ones where the target can cancel while executing."""
    executing = status.state == JobState.EXECUTING or any(isinstance(e, Started) for e in events)
    target = targets_of(canonical_provider_id(spec.provider) or "").get(spec.target)
    return not executing or target is None or target.cancel_while_executing


def _cancel_refused(draft: Draft, spec: QuantumJobSpec) -> None:
    """The job runs on; a CancelRequested condition (and one Event) says why."""
    message = f"target {spec.target} cannot cancel a job while it executes; the job runs to completion"
    draft.note("CancelRequested", True, "NotCancellableWhileExecuting", message, event=True, warning=True)
