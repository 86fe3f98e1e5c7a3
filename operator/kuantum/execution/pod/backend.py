"""The pod backend: a batch Job running the solver image, given its SAS URLs through a per-job Secret.

Runs every local target (QIO solvers, the statevector simulator, Rigetti's and Pasqal's simulators, the resource
estimator) and hardware targets in emulation (`Provider.spec.targets[].backend: local`). Progress comes from the
watched pods: the node's view of the container (started, exited with a code and a termination message) becomes
lifecycle events.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kuantum_solvers.formats.contract import parse_termination_message

from kuantum.catalog import KUANTUM, Target, target_by_id, targets_of
from kuantum.conditions import get_condition
from kuantum.jobs.statemachine import Completed, Event, Failed, Noted, Started
from kuantum.models import JobState, QuantumJobStatus
from kuantum.models.provider import TargetOverride
from kuantum.objects import JobObject, ProviderObject
from kuantum.runtime import tracing
from kuantum.runtime.settings import Settings
from kuantum.runtime.timeutil import now_iso, parse, seconds_between
from kuantum.runtime.writer import Kube
from kuantum.storage.blobs import INPUT_BLOB, LOG_LIMIT, OUTPUT_BLOB, container_name, in_thread

from ..base import Cancellation, Observation, Run, Slots, usage_between
from . import builders, startup

log = logging.getLogger("kuantum.backends.pod")
EMULATOR_TARGET = "kuantum.simulator"
STOP_POLL_SECONDS = 2.0
# A job that ended this lately, and this soon after this process started, may have left its SAS Secret to a
# process that died.
RECENTLY_ENDED_SECONDS = 300.0
# How long past timeoutSeconds the operator leaves it to the Job controller's activeDeadlineSeconds before it
# stops the solver itself (a busy or restarted controller-manager enforces the deadline late, or not at all).
TIMEOUT_GRACE_SECONDS = 10.0


def target_override(provider: ProviderObject, target: str) -> TargetOverride:
    """The Provider's per-target override (image, cpu, memory, gpus, backend); empty when it has none."""
    for item in provider.spec.targets if provider.spec is not None else []:
        if item.id == target:
            return item
    return TargetOverride(id=target)


@dataclass(frozen=True)
class Solver:
    """What runs a job's solver: the solver target, the image and the container's size."""

    target: Target
    image: str
    cpu: str
    memory: str
    gpus: int | None


def solver_of(run: Run, settings: Settings) -> Solver:
    """The Provider's override for the job's target where it sets one, else the target's defaults."""
    override = target_override(run.provider, run.spec.target)
    target = runnable_target(run.resolved.target)
    return Solver(target, override.image or settings.solver_image, override.cpu or target.default_cpu,
                  override.memory or target.default_memory, override.gpus)


def runnable_target(target: Target) -> Target:
    """The solver target the pod runs: the target itself where the solver knows it (Rigetti's and Pasqal's QPU
    ids are emulated by the solver under their own ids), else the local statevector simulator (IonQ's and
    Quantinuum's targets in emulation: same formats)."""
    return target if target.in_solver_catalog else target_by_id(target.emulator) or targets_of(KUANTUM)[
        EMULATOR_TARGET]


def input_sas(run: Run, valid: Any) -> str:
    """A read-only SAS URL of the job's input: its own upload, or the blob it names."""
    if run.spec.input.blobUri:
        located = run.storage.locate(run.spec.input.blobUri)
        if located is None:
            return run.spec.input.blobUri  # carries its own SAS token (checked at upload)
        return run.storage.sas_url(located[0], located[1], write=False, valid_for=valid)
    return run.storage.sas_url(container_name(run.job_id), INPUT_BLOB, write=False, valid_for=valid)


class Children(Protocol):
    """The store's view of the jobs' solver Jobs and pods (by job id), as the watches deliver them."""

    @property
    def batch_jobs(self) -> Mapping[str, dict[str, Any]]: ...
    @property
    def pods(self) -> Mapping[str, Mapping[str, dict[str, Any]]]: ...
    @property
    def deleted_pods(self) -> Mapping[str, int]: ...


class PodBackend:
    name = "pod"

    def __init__(self, children: Children, kube: Kube, settings: Settings, slots: Slots) -> None:
        self.children = children
        self.kube = kube
        self.settings = settings
        self.slots = slots
        self.stopping: set[str] = set()  # job ids whose solver Job we deleted
        self.cleaned: set[str] = set()  # uids whose SAS Secret is already deleted
        self.started_at = now_iso()
        self.pods_deleted: set[str] = set()  # orphaned solver pods we deleted ourselves

    # ------------------------------------------------------------------ submit
    async def submit(self, run: Run) -> Observation:
        job_id = run.job_id
        valid = builders.sas_lifetime(run.spec.timeoutSeconds, self.settings)
        input_url = input_sas(run, valid)
        output_url = run.storage.sas_url(container_name(job_id), OUTPUT_BLOB, write=True, valid_for=valid)
        solver = solver_of(run, self.settings)
        secret = builders.sas_secret(run.job, job_id, input_url, output_url, run.resolved.params)
        batch_job = builders.solver_job(
            run.job, job_id, solver.target, solver.image, run.resolved.input_format, run.resolved.output_format,
            run.spec.timeoutSeconds, solver.cpu, solver.memory, solver.gpus,
            tracing.traceparent(), self.settings.solver_otlp_endpoint or tracing.endpoint())
        self.slots.claim(run.job)
        try:
            await self.kube.create_secret(secret)
            await self.kube.create_job(batch_job)
        except BaseException:
            # Not known to exist (an API server going away mid-create): the job is not launched, so it goes back
            # to its queue and is admitted again (creates are idempotent), rather than being ExecutionLost.
            self.slots.unclaim(run.job)
            raise
        log.debug("job %s: created solver Job %s", run.job.key, batch_job["metadata"]["name"])
        return Observation()

    # ------------------------------------------------------------------ observe
    def _pods(self, job_id: str) -> list[dict[str, Any]]:
        pods = list(self.children.pods.get(job_id, {}).values())
        return sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "")

    async def observe(self, run: Run) -> Observation:
        job_id = run.job_id
        pods = self._pods(job_id)
        pod = pods[-1] if pods else None
        events: list[Event] = []
        begin = _container_time(pod, "startedAt") if pod else None
        phase = ((pod or {}).get("status") or {}).get("phase")
        if pod and phase in ("Running", "Succeeded", "Failed") and run.status.state == JobState.WAITING:
            events.append(Started(begin or now_iso()))
        if phase == "Succeeded":
            events.append(await self._completed(run, pod, await self._keep_log(run, pod)))
        elif phase == "Failed":
            events.append(self._failed_pod(run, pod, begin, await self._keep_log(run, pod)))
        elif self._pod_deleted(job_id, pod):
            logs = await self._keep_log(run, pod)
            if self._timed_out(run, begin):
                events.append(Failed("Timeout", f"the job ran longer than timeoutSeconds={run.spec.timeoutSeconds}",
                                     usage=usage_between(begin, now_iso()), logs_uri=logs))
            else:
                events.append(Failed("PodDeleted", "the solver pod was deleted while the job was executing",
                                     usage=usage_between(begin, now_iso()), logs_uri=logs))
        elif (deadline := _job_condition(self.children.batch_jobs.get(job_id), "DeadlineExceeded")) is not None:
            events.append(Failed("Timeout", f"the job ran longer than timeoutSeconds={run.spec.timeoutSeconds}: "
                                            f"{deadline}", usage=usage_between(begin, now_iso()),
                                 logs_uri=await self._keep_log(run, pod)))
        elif await self._execution_lost(run.namespace, job_id, pod):
            events.append(Failed("ExecutionLost", "the solver Job disappeared while the job was executing"))
        elif pod is not None and phase == "Pending" and (seen := await self._not_started(run, pod)) is not None:
            return seen
        elif (left := self._until_overdue(run, begin)) is not None:
            if left > 0:
                return Observation(tuple(events), recheck_after=left)
            await self.stop(run.job, job_id)
            events.append(Failed("Timeout", f"the job ran longer than timeoutSeconds={run.spec.timeoutSeconds} "
                                            "(stopped by the operator: the Job's activeDeadlineSeconds did not)",
                                 usage=usage_between(begin, now_iso())))
        return Observation(tuple(events))

    async def _not_started(self, run: Run, pod: dict[str, Any]) -> Observation | None:
        """A Pending pod that cannot start says why in the job's Queued condition, and its job fails (the solver
        Job stopped) where that will not resolve itself in time; once the pod is on its way again the condition
        is reset. None: nothing to say (the timeout checks follow)."""
        problem = startup.start_problem(pod, now_iso())
        overdue = self._until_overdue(run, None)
        if overdue is not None and overdue <= 0:
            return None
        shown = get_condition(run.status.conditions, "Queued")
        if problem is None:
            if shown is not None and shown.status == "False" and shown.reason in startup.REASONS:
                return Observation((Noted("Queued", True, "Starting", "the solver pod is starting"),),
                                   recheck_after=overdue)
            return None
        if problem.fail_after == 0:
            await self.stop(run.job, run.job_id)
            return Observation((Failed(problem.code, problem.message),))
        recheck = min((t for t in (problem.fail_after, overdue) if t is not None), default=None)
        return Observation((Noted("Queued", False, problem.reason, problem.message),), recheck_after=recheck)

    async def _keep_log(self, run: Run, pod: dict[str, Any] | None) -> str | None:
        """The solver's log (its last LOG_LIMIT bytes), read through the API server before the pod goes and kept in
        the job's container (blob `logs`); its URI, or None where there is none. Best effort: a log that cannot be
        read or kept never holds a job back from its final state (a warning says why)."""
        if pod is None or not ((pod.get("status") or {}).get("containerStatuses")):
            return None
        try:
            data = await self.kube.read_pod_log(run.namespace, pod["metadata"]["name"], builders.CONTAINER, LOG_LIMIT)
            if data is None:
                return None
            return await in_thread(run.storage.upload_logs, run.job_id, data)
        except Exception as e:
            log.warning("job %s: the solver's log was not kept: %s", run.job.key, " ".join(str(e).split())[:300])
            return None

    async def _completed(self, run: Run, pod: dict[str, Any] | None, logs: str | None = None) -> Event:
        begin = _container_time(pod, "startedAt") or run.status.beginExecutionTime or now_iso()
        end = _container_time(pod, "finishedAt") or now_iso()
        if not await in_thread(run.storage.exists, run.job_id, OUTPUT_BLOB):
            return Failed("OutputMissing", "the solver exited 0 but wrote no output blob", end,
                          usage_between(begin, end), logs)
        return Completed(run.storage.blob_url(run.job_id, OUTPUT_BLOB), end, usage_between(begin, end), logs)

    def _failed_pod(self, run: Run, pod: dict[str, Any] | None, begin: str | None, logs: str | None = None
                    ) -> Event:
        pod_status = (pod or {}).get("status") or {}
        end = _container_time(pod, "finishedAt") or now_iso()
        usage = usage_between(begin, end)
        if pod_status.get("reason") == "DeadlineExceeded" or self._timed_out(run, begin):
            return Failed("Timeout", f"the job ran longer than timeoutSeconds={run.spec.timeoutSeconds}", end, usage,
                          logs)
        terminated = _terminated(pod)
        message = str(terminated.get("message") or "")
        parsed = parse_termination_message(message)
        if parsed:
            return Failed(parsed[0], parsed[1], end, usage, logs)
        if pod_status.get("reason") == "Terminated" or (pod or {}).get("metadata", {}).get("deletionTimestamp"):
            return Failed("PodDeleted", "the solver pod was deleted while the job was executing", end, usage, logs)
        code = terminated.get("exitCode")
        if terminated.get("reason") == "OOMKilled":
            return Failed("OutOfMemory", f"the kernel killed the solver at its memory limit of {memory_limit(pod)} "
                                         f"(OOMKilled, exit code {code}); give the target more memory (the "
                                         "Provider's spec.targets[].memory) or submit a smaller problem", end, usage,
                          logs)
        return Failed("SolverFailed", f"the solver exited with code {code}: {message[-500:] or 'no message'}", end,
                      usage, logs)

    def _timed_out(self, run: Run, begin: str | None) -> bool:
        """Past timeoutSeconds, counted as activeDeadlineSeconds counts: from the solver Job's start (its pod may
        be gone before the job was ever seen executing)."""
        timeout = run.spec.timeoutSeconds
        if not timeout:
            return False
        start = self._started(run, begin)
        return bool(start and seconds_between(start, now_iso()) >= timeout)

    def _started(self, run: Run, begin: str | None) -> str | None:
        """When the solver Job started: the earliest of the times known for it."""
        batch = self.children.batch_jobs.get(run.job_id) or {}
        starts = [begin, run.status.beginExecutionTime, (batch.get("status") or {}).get("startTime"),
                  (batch.get("metadata") or {}).get("creationTimestamp")]
        return min((s for s in starts if s), key=lambda s: parse(s), default=None)

    def _until_overdue(self, run: Run, begin: str | None) -> float | None:
        """Seconds until a running job with timeoutSeconds is overdue (past it by the grace); None without one."""
        timeout = run.spec.timeoutSeconds
        start = self._started(run, begin)
        if not timeout or start is None:
            return None
        return timeout + TIMEOUT_GRACE_SECONDS - seconds_between(start, now_iso())

    def _pod_deleted(self, job_id: str, pod: dict[str, Any] | None) -> bool:
        """The job's pod is being deleted, or was and none runs in its place. A deletion beside a live pod is
        not the job's: after an API server restart the Job controller may create a surplus pod and delete it."""
        if job_id in self.stopping:
            return False
        if pod is not None:
            return bool(pod["metadata"].get("deletionTimestamp"))
        return bool(self.children.deleted_pods.get(job_id))

    async def _execution_lost(self, namespace: str, job_id: str, pod: dict[str, Any] | None) -> bool:
        """Only after the API server confirms it: the store may not have seen the child yet."""
        if pod is not None or job_id in self.children.batch_jobs:
            return False
        return not await self.kube.job_exists(namespace, builders.child_name(job_id))

    # ------------------------------------------------------------------ cancel and cleanup
    async def cancel(self, run: Run) -> Cancellation:
        return await self.stop(run.job, run.job_id)

    def execution_began(self, job_id: str) -> str | None:
        pods = self._pods(job_id)
        return _container_time(pods[-1], "startedAt") if pods else None

    async def stop(self, job: JobObject, job_id: str) -> Cancellation:
        """Deletes the solver Job (its pod gets SIGTERM); done once no pod of the job is left running, else
        looked at again shortly (a pod's end comes as a watch event, unless the watch is away)."""
        if self.slots.has_child(job) and job_id not in self.stopping:
            self.stopping.add(job_id)
            await self.kube.delete_job(job.meta.namespace, builders.child_name(job_id))
        alive = [p for p in self._pods(job_id) if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        orphans = [p for p in alive if not p["metadata"].get("deletionTimestamp")
                   and p["metadata"]["name"] not in self.pods_deleted]
        if orphans and job_id not in self.children.batch_jobs \
                and not await self.kube.job_exists(job.meta.namespace, builders.child_name(job_id)):
            # Its solver Job is gone (deleted by a process killed right after): no one else stops these pods
            # soon, as the garbage collector lags after an API server restart. Only once the API server says
            # so: the store may not have seen the Job yet (a relist), and a pod deleted under a live Job is
            # replaced by the Job controller, a second run of the job.
            for pod in orphans:
                self.pods_deleted.add(pod["metadata"]["name"])
                await self.kube.delete_pod(job.meta.namespace, pod["metadata"]["name"])
        return Cancellation(not alive, STOP_POLL_SECONDS if alive else None)

    async def cleanup(self, job: JobObject, status: QuantumJobStatus) -> float | None:
        """The SAS Secret goes at once; the solver Job (and its pod) after child_retention_seconds, for logs."""
        if not status.id:
            return None
        uid, namespace = job.meta.uid, job.meta.namespace
        ended = status.endExecutionTime or status.cancellationTime
        # Launched by this process, or maybe by an earlier one that died before deleting the Secret: it may have
        # been killed between creating the Secret and the solver Job too, leaving a job that looks never launched.
        # Checked for jobs that ended lately and soon after this start (an admitted job is launched again at once),
        # not for every job that is cancelled or deleted before its turn (a 404 each, thousands in a bulk delete).
        left_by_earlier = not job.submitted_to_provider and ended is not None \
            and seconds_between(ended, now_iso()) < RECENTLY_ENDED_SECONDS \
            and seconds_between(self.started_at, ended) < RECENTLY_ENDED_SECONDS
        launched = status.id in self.children.batch_jobs or self.slots.claimed(job) \
            or status.id in self.stopping or left_by_earlier
        if uid not in self.cleaned and launched:
            await self.kube.delete_secret(namespace, builders.secret_name(status.id))
        self.cleaned.add(uid)
        if status.id not in self.children.batch_jobs or job.meta.deleting:
            return None  # none left, or the QuantumJob's own deletion takes its children (owner references)
        kept = seconds_between(ended, now_iso()) if ended else float("inf")
        if kept < self.settings.child_retention_seconds:
            return self.settings.child_retention_seconds - kept + 0.5
        self.stopping.add(status.id)  # its pod's deletion is ours, not a failure
        await self.kube.delete_job(namespace, builders.child_name(status.id))
        return None


def _terminated(pod: dict[str, Any] | None) -> dict[str, Any]:
    for cs in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated")
        if term:
            return dict(term)
    return {}


def memory_limit(pod: dict[str, Any] | None) -> str:
    """The memory limit of the pod's first container that has one, as written (e.g. `1Gi`)."""
    for container in ((pod or {}).get("spec") or {}).get("containers") or []:
        limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
        if limit:
            return str(limit)
    return "(none set)"


def _container_time(pod: dict[str, Any] | None, field: str) -> str | None:
    for cs in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
        for state in (cs.get("state") or {}).values():
            if isinstance(state, dict) and state.get(field):
                return str(state[field])
    if field == "startedAt":
        return ((pod or {}).get("status") or {}).get("startTime")
    return None


def _job_condition(batch_job: dict[str, Any] | None, reason: str) -> str | None:
    for cond in ((batch_job or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Failed" and cond.get("status") == "True" and cond.get("reason") == reason:
            return str(cond.get("message") or reason)
    return None
