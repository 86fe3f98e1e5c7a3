"""QuantumJob reconciler: moves one job along Waiting -> Executing -> Succeeded | Failed | Cancelled.

Level-based: every call looks at the job, its workspace and provider, its solver Job and pod and
its blobs, and does the next step. Every step is idempotent (deterministic names, idempotent
uploads), so it may run any number of times, also after an operator restart. Status is written
only when it changed, and a state is never written over a final one (JSON-patch test on state).
"""

from __future__ import annotations

import logging
from typing import Any

from .. import accepted_spec
from ..catalog import canonical_provider_id, targets_of
from ..conditions import get_condition
from ..context import Context
from ..execution.base import Backend, Cancellation, Observation, Pending, Run
from ..execution.pod.backend import parse_termination_message, usage_between
from ..execution.registry import Backends
from ..labels import label_value
from ..models import JobState, QuantumJobSpec, QuantumJobStatus
from ..models.common import (
    ANNOTATION_CREATED_BY,
    FINALIZER,
    GATEWAY,
    LABEL_JOB_ID,
    LABEL_PROVIDER,
    LABEL_TARGET,
    LABEL_WORKSPACE,
)
from ..objects import JobObject, ProviderObject, job_id_for, parse_job
from ..runtime import metrics
from ..runtime.lookup import provider_for_job, workspace_deleting, workspace_of
from ..runtime.result import Result, sooner
from ..runtime.timeutil import month_of, now_iso, seconds_between
from ..scheduling.usage import MonthlyUsage, jobs_quota_exceeded, monthly_usage, plan_limits, seconds_quota_exceeded
from ..storage.blobs import StorageError, WorkspaceStorage, in_thread
from ..storage.registry import StorageNotConfigured
from .draft import Draft
from .inputs import InputPending, InvalidInput, check_json, read_input
from .statemachine import (
    Cancelled,
    Completed,
    Enqueued,
    Event,
    Failed,
    InputUploaded,
    QueueMoved,
    is_final,
)
from .validation import JobInvalid, Resolved, resolve

__all__ = ["ACCEPTED_SPEC", "MUTABLE_FIELDS", "JobReconciler", "immutable_part", "job_id_for", "job_id_of",
           "parse_termination_message"]

log = logging.getLogger("kuantum.job")
ACCEPTED_SPEC = accepted_spec.ANNOTATION
MUTABLE_FIELDS = accepted_spec.MUTABLE_FIELDS
immutable_part = accepted_spec.immutable_part
PENDING_RETRY_SECONDS = 10.0
FRONT_OF_QUEUE = 5  # queue positions up to this are kept exact in the job's status
MISSED_EVENT_WINDOW_SECONDS = 300.0  # jobs final this long before a start are checked for their final Event
MISSED_EVENT_RETRY_SECONDS = 5.0


def job_id_of(body: dict[str, Any]) -> str:
    """The client's id (spec.id, lower-cased as Azure writes UUIDs) or the one derived from the uid."""
    return parse_job(body).job_id


class JobReconciler:
    def __init__(self, ctx: Context, backends: Backends | None = None) -> None:
        self.ctx = ctx
        self.backends = backends or Backends(ctx)
        self._started_at = now_iso()
        self._final_known: set[str] = set()  # uids of final jobs whose final Event is known to exist

    # ------------------------------------------------------------------ entry point
    async def reconcile(self, key: str) -> Result:
        job = self.ctx.store.jobs.get(key)
        if job is None:
            return Result()
        status = job.status
        if job.meta.deleting:
            return await self._on_deletion(job, status)
        if is_final(status.state):
            return await self._after_final(job, status)
        job = await self._ensure_metadata(job)
        draft = Draft(job, status)
        spec = job.spec
        if spec is None:
            draft.apply(Failed("InvalidSpec", job.spec_error or "spec: invalid"))
        else:
            if workspace_deleting(self.ctx.store, job.meta.namespace, spec.workspace) and not spec.cancel:
                spec = spec.model_copy(update={"cancel": True})  # a workspace's deletion cancels its jobs
            self._note_spec_changes(draft)
            if status.state is None or (status.state == JobState.WAITING and not self.ctx.dispatcher.has_child(job)):
                await self._waiting(draft, spec)
            else:
                await self._running(draft, spec)
        return (await self._flush(draft))[1]

    # ------------------------------------------------------------------ metadata
    async def _ensure_metadata(self, job: JobObject) -> JobObject:
        """One metadata write per job: finalizer, labels and the accepted spec, together."""
        meta = job.meta
        # Labels describe what the job runs with (its accepted spec), not an ignored edit.
        labels = {LABEL_JOB_ID: job.job_id, LABEL_WORKSPACE: label_value(job.workspace),
                  LABEL_PROVIDER: label_value(job.provider.lower()), LABEL_TARGET: label_value(job.target)}
        if FINALIZER in meta.finalizers and all(meta.labels.get(k) == v for k, v in labels.items()) \
                and ACCEPTED_SPEC in meta.annotations:
            return job
        patch: dict[str, Any] = {"metadata": {
            "labels": labels,
            "finalizers": list(meta.finalizers) if FINALIZER in meta.finalizers else [*meta.finalizers, FINALIZER],
            "annotations": {ACCEPTED_SPEC: meta.annotations.get(ACCEPTED_SPEC) or accepted_spec.encode(job.raw_spec)},
            "resourceVersion": meta.resource_version or None,  # refuse to build on a stale spec
        }}
        updated = await self.ctx.kube.patch_meta("QuantumJob", meta.namespace, meta.name, patch)
        return self.ctx.store.put_job(updated)

    def _note_spec_changes(self, draft: Draft) -> None:
        raw = draft.job.meta.annotations.get(ACCEPTED_SPEC)
        if not raw:
            return
        changed = accepted_spec.changed_fields(accepted_spec.decode(raw), draft.job.raw_spec)
        if not changed:
            return
        message = (f"spec fields {', '.join(changed)} cannot change after creation; the job keeps running with "
                   "the spec it was created with (only cancel, ttlSecondsAfterFinished and tags may change)")
        draft.note("SpecChangeIgnored", True, "ImmutableField", message, event=True, warning=True)

    # ------------------------------------------------------------------ waiting
    async def _waiting(self, draft: Draft, spec: QuantumJobSpec) -> None:
        job = draft.job
        job_id = job.job_id
        first_time = draft.old.inputDataUri is None
        draft.apply(Enqueued(job_id))  # no-op once Waiting
        if spec.cancel:
            draft.apply(Cancelled(now_iso()))
            return
        try:
            provider, storage, resolved = await self._prerequisites(job, spec)
            if draft.new.inputDataUri is None:
                if quota := self._jobs_quota_exceeded(job, spec, provider):
                    draft.apply(Failed("QuotaExceeded", quota))
                    return
                draft.apply(InputUploaded(await self._upload(job, job_id, spec, resolved, storage)))
        except Pending as p:
            self._pending(draft, p)
            return
        except JobInvalid as e:
            draft.apply(Failed(e.code, e.message))
            return
        except InvalidInput as e:
            draft.apply(Failed("InvalidInputData", str(e)))
            return
        if (unavailable := _unavailable(provider, spec.target)) is not None:
            self._pending(draft, Pending("TargetUnavailable", unavailable))
            draft.apply(QueueMoved(self._queue_position(job)))
            return
        draft.note("Queued", True, "Queued", f"queued for {spec.target} in workspace {spec.workspace}")
        position = self._queue_position(job)
        if draft.new.queuePosition is None or (position is not None and position <= FRONT_OF_QUEUE):
            # Exact at the front, where it moves a job closer to running; deeper in a long queue a refresh on
            # every start would cost a write per waiting job per start (the Provider's status lists the queue).
            draft.apply(QueueMoved(position))
        if first_time:
            draft.notify("Queued", f"job {job_id} queued for {spec.target}")
        if job.key in self.ctx.dispatcher.admitted(job.group, joining=job):
            await self._start(draft, spec, resolved, storage, provider)

    async def _prerequisites(self, job: JobObject, spec: QuantumJobSpec
                             ) -> tuple[ProviderObject, WorkspaceStorage, Resolved]:
        """The job's Provider (the one that counts for its id), its workspace's storage and its target."""
        namespace = job.meta.namespace
        workspace = workspace_of(self.ctx.store, namespace, spec.workspace)
        if workspace is None:
            raise Pending("WorkspaceNotFound", f"QuantumWorkspace {spec.workspace} does not exist in {namespace}")
        found = provider_for_job(self.ctx.store, namespace, spec.workspace, spec.provider)
        if found is None:
            if canonical_provider_id(spec.provider) is None and f"{namespace}/{spec.provider}" not in \
                    self.ctx.store.providers:
                missing = Pending("ProviderNotFound", f"no provider {spec.provider!r} in workspace {spec.workspace}: "
                                                      "not a known provider id nor a Provider object here")
            else:
                missing = Pending("ProviderNotFound", f"provider {spec.provider} is not added to workspace "
                                                      f"{spec.workspace} (no Provider object for it)")
            if job.meta.annotations.get(ANNOTATION_CREATED_BY) == GATEWAY:
                # Submitted as to Azure Quantum, which fails such a job rather than letting it wait.
                raise JobInvalid("InvalidProvider", missing.message)
            raise missing
        provider, canonical = found
        resolved = resolve(spec, canonical)
        storage_ready = get_condition(workspace.status.conditions, "StorageReady")
        if storage_ready is not None and storage_ready.status == "False":
            # The workspace already found its storage unreachable: wait at once, with its words, rather than
            # after this reconcile's own connection attempts time out (the job would show no status meanwhile).
            raise Pending("WorkspaceNotReady", f"workspace {spec.workspace}: {storage_ready.message}")
        try:
            storage = await self.ctx.storages.for_workspace(workspace)
        except StorageNotConfigured as e:
            raise Pending("WorkspaceNotReady", f"workspace {spec.workspace}: {e.message}") from e
        except StorageError as e:
            raise Pending("WorkspaceNotReady", f"workspace {spec.workspace}: {e}") from e
        return provider, storage, resolved

    def _pending(self, draft: Draft, p: Pending) -> None:
        """The job waits for something that does not exist yet: a Queued=False condition names it (an Event
        when the reason is new), and the job is looked at again later."""
        draft.note("Queued", False, p.reason, p.message, event=True, warning=True)
        draft.recheck_after(PENDING_RETRY_SECONDS)

    async def _upload(self, job: JobObject, job_id: str, spec: QuantumJobSpec, resolved: Resolved,
                      storage: WorkspaceStorage) -> str:
        if spec.input.blobUri:
            if storage.locate(spec.input.blobUri) is None and "?" not in spec.input.blobUri:
                raise InvalidInput(f"spec.input.blobUri {spec.input.blobUri} is not in the workspace's storage "
                                   f"account {storage.account_name} and carries no SAS token to read it with")
            await in_thread(storage.ensure_container, job_id)
            return spec.input.blobUri
        namespace = job.meta.namespace
        objects: dict[tuple[str, str], dict[str, Any] | None] = {}
        for kind, ref in (("configmap", spec.input.configMapKeyRef), ("secret", spec.input.secretKeyRef)):
            if ref is not None:
                objects[(kind, ref.name)] = await self.ctx.kube.read_data_object(kind, namespace, ref.name)
        try:
            data = read_input(spec.input, lambda kind, name: objects.get((kind, name)))
        except InputPending as e:
            raise Pending("InputNotFound", str(e)) from e
        check_json(data, resolved.input_format)
        try:
            return await in_thread(storage.upload_input, job_id, data, resolved.input_format)
        except StorageError as e:
            raise Pending("StorageUnavailable", str(e)) from e

    # ------------------------------------------------------------------ quotas and queue
    def _month_usage(self, job: JobObject) -> MonthlyUsage:
        """This month's use of the job's provider plan by the other jobs of its workspace."""
        return monthly_usage(self.ctx.dispatcher.members(job.group), month_of(now_iso()), excluding_uid=job.meta.uid)

    def _jobs_quota_exceeded(self, job: JobObject, spec: QuantumJobSpec, provider: ProviderObject) -> str | None:
        limits = plan_limits(provider)
        if limits.maxJobsPerMonth is None:
            return None  # no need to count the group's jobs
        return jobs_quota_exceeded(limits, self._month_usage(job), spec.provider)

    def _seconds_quota_exceeded(self, job: JobObject, spec: QuantumJobSpec, provider: ProviderObject) -> str | None:
        limits = plan_limits(provider)
        if limits.maxExecutionSecondsPerMonth is None:
            return None
        return seconds_quota_exceeded(limits, self._month_usage(job), spec.provider)

    def _queue_position(self, job: JobObject) -> int | None:
        return self.ctx.dispatcher.position(job.group, job)

    # ------------------------------------------------------------------ start
    async def _start(self, draft: Draft, spec: QuantumJobSpec, resolved: Resolved, storage: WorkspaceStorage,
                     provider: ProviderObject) -> None:
        """The job was admitted: its backend launches it."""
        if quota := self._seconds_quota_exceeded(draft.job, spec, provider):
            draft.apply(Failed("QuotaExceeded", quota))
            return
        backend = self.backends.for_target(resolved.target, provider)
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
    async def _run_of(self, job: JobObject, status: QuantumJobStatus, spec: QuantumJobSpec
                      ) -> tuple[Backend, Run]:
        provider, storage, resolved = await self._prerequisites(job, spec)
        backend = self.backends.for_target(resolved.target, provider)
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
        if spec.cancel and backend is not self.backends.pod and not draft.new.providerJobId:
            # Cancelled before the provider confirmed it: never send it (a recorded attempt is looked for first).
            if self._cancelled(draft, await backend.cancel(run)):
                draft.apply(Cancelled(now_iso()))
            return
        seen = await backend.observe(run)
        events = list(seen.events)
        if spec.cancel and not any(isinstance(e, Completed) for e in events):
            if self._cancellable(draft.new, spec, events):
                # Before looking at a failure: stopping the run for the cancel makes it fail.
                if self._cancelled(draft, await backend.cancel(run)):
                    begin = draft.new.beginExecutionTime or self.backends.pod.execution_began(run.job_id)
                    started = [e for e in events if not isinstance(e, Failed | Completed | Cancelled)]
                    draft.apply(*started, Cancelled(now_iso(), usage_between(begin, now_iso()) if begin else None))
                return
            self._cancel_refused(draft, spec)
        draft.observe(Observation(tuple(events), seen.recheck_after))

    # ------------------------------------------------------------------ cancel
    @staticmethod
    def _cancelled(draft: Draft, outcome: Cancellation) -> bool:
        if outcome.recheck_after is not None:
            draft.recheck_after(outcome.recheck_after)
        return outcome.done

    def _cancellable(self, status: QuantumJobStatus, spec: QuantumJobSpec, events: list[Event]) -> bool:
        """Waiting jobs always are; executing ones where the target can cancel while executing."""
        executing = status.state == JobState.EXECUTING or any(e.__class__.__name__ == "Started" for e in events)
        target = targets_of(canonical_provider_id(spec.provider) or "").get(spec.target)
        return not executing or target is None or target.cancel_while_executing

    @staticmethod
    def _cancel_refused(draft: Draft, spec: QuantumJobSpec) -> None:
        """The job runs on; a CancelRequested condition (and one Event) says why."""
        message = f"target {spec.target} cannot cancel a job while it executes; the job runs to completion"
        draft.note("CancelRequested", True, "NotCancellableWhileExecuting", message, event=True, warning=True)

    async def _stop(self, job: JobObject, status: QuantumJobStatus, spec: QuantumJobSpec | None) -> Cancellation:
        """Stops whatever runs the job, on every backend that may have it; done once nothing runs."""
        if spec is not None:
            try:
                backend, run = await self._run_of(job, status, spec)
                if backend is not self.backends.pod:
                    return await backend.cancel(run)
            except (Pending, JobInvalid):
                pass  # nothing left to reach the provider through: nothing more can be stopped there
        return await self.backends.pod.stop(job, str(status.id))

    # ------------------------------------------------------------------ final and deletion
    async def _after_final(self, job: JobObject, status: QuantumJobStatus) -> Result:
        again: float | None = None
        if job.meta.uid not in self._final_known:
            if await self._announce_if_missed(job, status):
                self._final_known.add(job.meta.uid)
            else:  # the API server was away: look again soon
                again = MISSED_EVENT_RETRY_SECONDS
        if self.ctx.dispatcher.claimed(job):  # released at its final write, unless that write's answer was lost
            self.ctx.dispatcher.release(job)
        for backend in self.backends.all():
            again = sooner(again, await backend.cleanup(job, status))
        ttl = job.spec.ttlSecondsAfterFinished if job.spec is not None else None
        if ttl is not None:
            finished = status.endExecutionTime or status.cancellationTime or now_iso()
            remaining = float(ttl) - seconds_between(finished, now_iso())
            if remaining <= 0:
                await self.ctx.kube.delete_custom("QuantumJob", job.meta.namespace, job.meta.name)
            else:
                again = sooner(again, remaining + 0.5)
        return Result(again)

    async def _announce_if_missed(self, job: JobObject, status: QuantumJobStatus) -> bool:
        """A process killed between a job's final status write and its Event, or an API server that refused the
        Event, leaves the job without one: it is recorded now, for jobs that ended after (or shortly before)
        this process started (older ones were announced). False when that could not be settled now."""
        ended = status.endExecutionTime or status.cancellationTime
        if ended is None or seconds_between(ended, self._started_at) > MISSED_EVENT_WINDOW_SECONDS:
            return True
        reasons = await self.ctx.kube.event_reasons(job)
        if reasons is None:
            return False
        return str(status.state) in reasons or await self._final_event(job, status)

    async def _on_deletion(self, job: JobObject, status: QuantumJobStatus) -> Result:
        """Deleting a job cancels it first; the blobs stay (they are the user's data)."""
        meta = job.meta
        if FINALIZER not in meta.finalizers:
            return Result()
        result = Result()
        if not is_final(status.state) and status.state is not None:
            stopped = await self._stop(job, status, job.spec)
            if not stopped.done:
                return Result(stopped.recheck_after)
            job, result = await self._write(job, status, [Cancelled(now_iso())])
            status = job.status
        for backend in self.backends.all():
            await backend.cleanup(job, status)  # the job's deletion takes what is kept: nothing to look at later
        remaining = [f for f in meta.finalizers if f != FINALIZER]
        await self.ctx.kube.patch_meta("QuantumJob", meta.namespace, meta.name, {"metadata": {"finalizers": remaining}})
        self.ctx.dispatcher.release(job)  # a waiting job's deletion frees no slot: nothing more may start
        if status.id:
            self.ctx.store.forget_job_children(status.id)
        self._final_known.discard(job.meta.uid)
        return result

    # ------------------------------------------------------------------ writing
    async def _write(self, job: JobObject, status: QuantumJobStatus, events: list[Event]) -> tuple[JobObject, Result]:
        """Applies events through the state machine, writes the status once, and records Events."""
        draft = Draft(job, status)
        draft.apply(*events)
        return await self._flush(draft)

    async def _flush(self, draft: Draft) -> tuple[JobObject, Result]:
        """The reconcile's one status write (when anything changed), then its Events; and when to look again:
        at once for a job that just ended (its clean-up and TTL), else when the pass asked to."""
        new = draft.new
        if new.id is None and new.state is not None:
            new = new.model_copy(update={"id": draft.job.job_id})
        job = await self._write_status(draft.job, draft.old, new)
        if new.state != draft.old.state:
            await self._record_transition(job, draft.old, new)
        for reason, message, warning in draft.notices:
            await self.ctx.kube.event(job, reason, message, warning=warning)
        if is_final(new.state):
            return job, Result(0.0 if new.state != draft.old.state else None)
        return job, Result(draft.recheck)

    async def _write_status(self, job: JobObject, old: QuantumJobStatus, new: QuantumJobStatus) -> JobObject:
        new = new.model_copy(update={"observedGeneration": job.meta.generation})
        if new == old:
            return job
        meta = job.meta
        body = new.model_dump(mode="json", exclude_none=True)
        if old.state is None:
            patch: Any = {"status": body}
            updated = await self.ctx.kube.patch_status("QuantumJob", meta.namespace, meta.name, patch)
        else:
            # The test makes the API server refuse the write if the state moved meanwhile (never over a final one).
            patch = [{"op": "test", "path": "/status/state", "value": str(old.state)},
                     {"op": "replace", "path": "/status", "value": body}]
            updated = await self.ctx.kube.patch_status("QuantumJob", meta.namespace, meta.name, patch,
                                                       json_patch=True)
        return self.ctx.store.put_job(updated)

    async def _record_transition(self, job: JobObject, old: QuantumJobStatus, new: QuantumJobStatus) -> None:
        state = JobState(new.state) if new.state else None
        if state is None:
            return
        metrics.TRANSITIONS.labels(state=state.value).inc()
        detail = f" ({new.errorData.code}: {new.errorData.message[:200]})" if new.errorData else ""
        log.info("job %s (%s): %s -> %s%s", job.key, new.id, old.state or "new", state.value, detail)
        if new.beginExecutionTime and not old.beginExecutionTime and new.creationTime:
            metrics.TIME_IN_QUEUE.observe(seconds_between(new.creationTime, new.beginExecutionTime))
            await self.ctx.kube.event(job, "Executing", f"job {new.id} started executing")
        if state == JobState.SUCCEEDED and new.beginExecutionTime and new.endExecutionTime:
            metrics.EXECUTION_TIME.observe(seconds_between(new.beginExecutionTime, new.endExecutionTime))
        if is_final(state):
            self.ctx.dispatcher.release(job)  # the next job starts while the Event is written
            if await self._final_event(job, new):
                self._final_known.add(job.meta.uid)  # else the clean-up pass looks for it again

    async def _final_event(self, job: JobObject, status: QuantumJobStatus) -> bool:
        """The one Event of a job's final state (its reason is the state); False when it was not recorded."""
        if status.state == JobState.SUCCEEDED:
            return await self.ctx.kube.event(job, "Succeeded",
                                             f"job {status.id} succeeded; output at {status.outputDataUri}")
        if status.state == JobState.FAILED:
            error = status.errorData
            return await self.ctx.kube.event(job, "Failed", f"{error.code}: {error.message}" if error else "failed",
                                             warning=True)
        return await self.ctx.kube.event(job, "Cancelled", f"job {status.id} was cancelled")


def _unavailable(provider: ProviderObject, target: str) -> str | None:
    """Why the target takes no jobs now (its Provider lists it Unavailable), or None."""
    for listed in provider.status.targets:
        if listed.id == target and listed.availability == "Unavailable":
            return (f"target {target} is unavailable (Provider {provider.meta.name}); the job waits "
                    "until it is available again")
    return None
