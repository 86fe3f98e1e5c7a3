"""The pool backend: local targets' jobs run by warm solver workers instead of a batch Job each.

A solver pod per job costs its container's start and about a second of CPU before the job begins: on a 2-core node
that caps throughput near one job a second, and a freed slot's next job waits seconds for its pod. A pool keeps up
to `solver_pool_size` workers per shape (a Provider's jobs in one namespace, one image and size: builders.Shape),
each a pod running `kuantum-solve-worker`, which runs one job at a time in a process forked from warm engines (the
worker contract, kuantum_solvers/formats/worker.py). The job is Executing once a worker accepted its run; the
worker's answer to a long poll brings its end. The pool grows while jobs wait for a worker and shrinks when its
workers stay idle.

What a run needs comes in its request: SAS URLs of the job's blobs, its parameters, its trace context. What it
leaves is its output blob and its log, which the operator keeps beside the output as it does a pod's. A worker's
restart or deletion fails the job it ran (OutOfMemory where the kernel killed the worker at its limit); a run the
OOM killer takes inside a worker is reported by the worker itself.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from kuantum_solvers.formats import worker as wire
from kuantum_solvers.formats.contract import parse_termination_message

from kuantum.catalog import Target
from kuantum.jobs.statemachine import Completed, Event, Failed, Noted, Started, is_final
from kuantum.models import JobState, QuantumJobStatus
from kuantum.models.common import LABEL_POOL
from kuantum.objects import JobObject, ProviderObject
from kuantum.runtime import tracing
from kuantum.runtime.settings import Settings
from kuantum.runtime.timeutil import from_epoch, now_iso
from kuantum.runtime.writer import Kube
from kuantum.storage.blobs import OUTPUT_BLOB, container_name, in_thread

from ..base import Cancellation, Observation, Run, SecretReader, Slots, usage_between
from ..pod import builders as pod_builders
from ..pod import startup
from ..pod.backend import TIMEOUT_GRACE_SECONDS, input_sas, memory_limit, solver_of, target_override
from . import builders
from .client import WorkerBusy, WorkerClient, WorkerUnreachable
from .workers import Assignment, Lost, address, container_status, ready, run_lost, running

log = logging.getLogger("kuantum.backends.pool")
POLL_WAIT_SECONDS = 30.0  # a long poll's wait: the worker answers at the run's end, else after this
WAITING_RECHECK_SECONDS = 5.0  # a job waiting for a worker is looked at again (a worker's change wakes it sooner)
STOP_RETRY_SECONDS = 2.0
MIN_IDLE_EXIT_SECONDS = 600
FORGOTTEN_KEPT = 10_000  # a job deleted after its final cleanup is still known as the pool's
# An idle worker is deleted to make room for another pool's only after this long idle: one that just ended a run is
# about to get its pool's next job (a plan's freed slot is handed over in well under a second).
MAKE_ROOM_MIN_IDLE_SECONDS = 5.0
CRASHES_BEFORE_FAILING = 2  # a worker that exits as it starts this often fails the jobs waiting for it
ASK_AGAIN_SECONDS = 2.0  # a worker that did not say what it runs is asked again after this
# A worker that has not said what it runs this long after the operator took the lead is deleted: until then its
# pool's jobs wait, since any of them may run there already.
UNASKED_DELETE_SECONDS = 30.0


@dataclass(frozen=True)
class Unasked:
    """A worker not yet asked what it runs: its pool, since when, when to ask next."""

    pool: str
    since: float
    next_try: float


class WorkerPods(Protocol):
    """The store's view of the pools' pods, as the watch delivers them (pool id -> pod name -> pod), and of the jobs
    they run (job id -> key -> job)."""

    @property
    def worker_pods(self) -> Mapping[str, Mapping[str, dict[str, Any]]]: ...

    @property
    def job_keys(self) -> Mapping[str, str]: ...

    @property
    def jobs(self) -> Mapping[str, JobObject]: ...


class PoolBackend:
    name = "pool"

    def __init__(self, workers: WorkerPods, kube: Kube, settings: Settings, slots: Slots, secrets: SecretReader,
                 wake: Callable[[str], None], client: WorkerClient | None = None) -> None:
        self.workers = workers
        self.kube = kube
        self.settings = settings
        self.slots = slots
        self.secrets = secrets
        self.wake = wake
        self.client = client or WorkerClient()
        self.assignments: dict[str, Assignment] = {}  # job id ->
        self.busy: dict[str, str] = {}  # worker pod name -> the job id it runs
        self.ended: dict[str, wire.RunStatus | Lost] = {}  # job id -> how its run ended (until cleanup)
        self.waiting: dict[str, dict[str, str]] = {}  # pool id -> job id -> job key, in arrival order
        self.tokens: dict[str, str] = {}  # pool id ->
        self.idle_since: dict[str, float] = {}  # worker pod name -> when it last ended a run (or was first seen)
        self.polls: dict[str, asyncio.Task[None]] = {}  # job id -> its long poll
        self.forgotten: deque[str] = deque(maxlen=FORGOTTEN_KEPT)  # the latest jobs whose runs ended and were deleted
        self.seen_ready: set[str] = set()  # workers seen ready once: a crash of theirs is not one as they start
        # pool id -> workers asked for that the watch has not shown yet: counted, or each job waiting meanwhile would
        # start one more than the pool's size allows
        self.creating: dict[str, set[str]] = {}
        # workers deleted to make room for another pool's (name -> namespace), until the watch shows them gone
        self.making_room: dict[str, str] = {}
        self.unasked: dict[str, Unasked] = {}  # worker pod name -> not yet asked what it runs since this one leads

    # ------------------------------------------------------------------ which jobs
    def takes(self, target: Target, provider: ProviderObject | None) -> bool:
        """Whether a new job of this target runs on the pool: pools are on, and its solver needs no GPU (a GPU
        held by an idle worker would be lost to every other pod)."""
        if self.settings.solver_pool_size <= 0:
            return False
        return provider is None or not target_override(provider, target.id).gpus

    def owns(self, job_id: str) -> bool:
        """Whether the job's run is (or waits to be) on a worker of this process's pools."""
        return job_id in self.assignments or any(job_id in jobs for jobs in self.waiting.values())

    def ran(self, job_id: str) -> bool:
        """Whether one of this process's pools ran (or runs) the job: it has nothing of a solver pod's to clean."""
        return self.owns(job_id) or job_id in self.forgotten

    # ------------------------------------------------------------------ submit and observe
    async def submit(self, run: Run) -> Observation:
        self.slots.claim(run.job)
        try:
            return await self._assign(run)
        except BaseException:
            self.slots.unclaim(run.job)  # not launched: back to its queue (as the pod backend does)
            self._unwait(run.job_id)
            raise

    async def observe(self, run: Run) -> Observation:
        job_id = run.job_id
        assignment = self.assignments.get(job_id)
        if assignment is None:
            if run.status.state == JobState.WAITING and self.slots.claimed(run.job):
                return await self._assign(run)  # still waiting for a worker
            return Observation((Failed("ExecutionLost", "no solver worker has the job's run any more (its worker "
                                                        "is gone)"),))
        started = [Started(from_epoch(assignment.started_at))] if run.status.state == JobState.WAITING else []
        outcome = self.ended.get(job_id)
        if outcome is None:
            left = self._until_overdue(run, assignment)
            if left is not None and left <= 0:  # the worker should have killed it: it is stuck, or unreachable
                await self.stop(run.job, job_id)
                return Observation((*started, Failed(
                    "Timeout", f"the job ran longer than timeoutSeconds={run.spec.timeoutSeconds} (stopped by the "
                               "operator: its worker did not end it)", usage=usage_between(
                        from_epoch(assignment.started_at), from_epoch(time.time())))))
            self._ensure_poll(job_id, run.job.key, assignment)
            return Observation(tuple(started), recheck_after=left)
        return Observation((*started, await self._end(run, assignment, outcome)))

    @staticmethod
    def _until_overdue(run: Run, assignment: Assignment) -> float | None:
        """Seconds until a run with timeoutSeconds is past it by the grace (None without one)."""
        if not run.spec.timeoutSeconds:
            return None
        return assignment.started_at + run.spec.timeoutSeconds + TIMEOUT_GRACE_SECONDS - time.time()

    async def _assign(self, run: Run) -> Observation:
        """Hands the run to an idle warm worker of its pool; else it waits for one (the pool grows if it may)."""
        shape = self._shape(run)
        if self.unasked:
            await self._ask_unasked(shape.pool_id)
            if any(unasked.pool == shape.pool_id for unasked in self.unasked.values()):
                return Observation(recheck_after=ASK_AGAIN_SECONDS)  # a worker of the pool may run it already
            if run.job_id in self.assignments:  # a worker just asked runs it
                return await self.observe(run)
        token = await self._token(shape, run.provider)
        request = self._request(run)
        for pod in self._idle(shape.pool_id):
            name = pod["metadata"]["name"]
            if name in self.busy:  # taken meanwhile, by a job asked for while this one awaited a worker
                continue
            self.busy[name] = run.job_id  # reserved while asked: no other job, nor the idle reaper, takes it
            try:
                status = await self.client.start(address(pod), token, request)
            except (WorkerBusy, WorkerUnreachable) as e:  # busy: with a run this process does not know of
                log.debug("pool %s: worker %s did not take job %s: %s", shape.pool_id, name, run.job.key, e)
                if self.busy.get(name) == run.job_id:
                    del self.busy[name]
                continue
            except BaseException:
                if self.busy.get(name) == run.job_id:
                    del self.busy[name]
                raise
            assignment = Assignment(shape.pool_id, shape.namespace, name, status.started_at,
                                    int(container_status(pod).get("restartCount") or 0), shape.memory)
            self._unwait(run.job_id)
            self._assigned(run.job_id, run.job.key, assignment, status)
            log.debug("job %s: run on worker %s", run.job.key, assignment.worker)
            return Observation((Started(from_epoch(status.started_at)),))  # its Queued condition says Started
        self.waiting.setdefault(shape.pool_id, {})[run.job_id] = run.job.key
        problem = self._start_problem(shape.pool_id)
        if problem is not None and problem.fail_after == 0:
            self._unwait(run.job_id)
            return Observation((Failed(problem.code, problem.message),))
        await self._grow(shape, run.provider)
        if problem is not None and problem.reason == "Unschedulable":
            await self._make_room(shape)
        if problem is None:
            return Observation(recheck_after=WAITING_RECHECK_SECONDS)
        return Observation((Noted("Queued", False, problem.reason, problem.message),),
                           recheck_after=min(WAITING_RECHECK_SECONDS, problem.fail_after or WAITING_RECHECK_SECONDS))

    def _start_problem(self, pool: str) -> startup.StartProblem | None:
        """Why the pool has no ready worker, where its workers say so: what keeps a solver pod from starting
        (image, room, container), or a worker that dies as it starts (the kernel killing it at its limit, at once:
        no restart gives it more memory)."""
        now = now_iso()
        for pod in self._live(pool):
            if ready(pod):
                continue
            problem = startup.start_problem(pod, now)
            if problem is not None:
                return problem
            status = container_status(pod)
            last = (status.get("lastState") or {}).get("terminated") or {}
            restarts = int(status.get("restartCount") or 0)
            if pod["metadata"]["name"] in self.seen_ready:
                continue  # it ran before: restarting after a crash (its run, if any, failed for it)
            if last.get("reason") == "OOMKilled":
                return startup.StartProblem(
                    "OOMKilled", f"the kernel killed the solver worker at its memory limit of {memory_limit(pod)} as "
                                 "it started (OOMKilled): the limit is below what the solver needs to start; give the "
                                 "target more memory (the Provider's spec.targets[].memory)", 0.0, "OutOfMemory")
            if restarts >= CRASHES_BEFORE_FAILING:
                return startup.StartProblem(
                    "CrashLoopBackOff", f"the solver worker {pod['metadata']['name']} exits as it starts (exit code "
                                        f"{last.get('exitCode')}, {restarts} restarts): see its log", 0.0)
        return None

    def _live(self, pool: str) -> list[dict[str, Any]]:
        """The pool's pods that are not being deleted and have not ended (an evicted pod's phase is Failed)."""
        return [pod for pod in self.workers.worker_pods.get(pool, {}).values()
                if not pod["metadata"].get("deletionTimestamp")
                and (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded")]

    def _assigned(self, job_id: str, key: str, assignment: Assignment, status: wire.RunStatus) -> None:
        self.assignments[job_id] = assignment
        self.busy[assignment.worker] = job_id
        self.idle_since.pop(assignment.worker, None)
        if status.ended:
            self._record_end(job_id, key, assignment, status)
        else:
            self._ensure_poll(job_id, key, assignment)

    def _request(self, run: Run) -> wire.RunRequest:
        valid = pod_builders.sas_lifetime(run.spec.timeoutSeconds, self.settings)
        solver = solver_of(run, self.settings)
        output = run.storage.sas_url(container_name(run.job_id), OUTPUT_BLOB, write=True, valid_for=valid)
        return wire.RunRequest(
            id=run.job_id, target=solver.target.id, input_format=run.resolved.input_format,
            output_format=run.resolved.output_format, input_url=input_sas(run, valid), output_url=output,
            params=json.dumps(run.resolved.params), timeout_seconds=run.spec.timeoutSeconds or None,
            traceparent=tracing.traceparent(), otlp_endpoint=self.settings.solver_otlp_endpoint or tracing.endpoint())

    def _shape(self, run: Run) -> builders.Shape:
        solver = solver_of(run, self.settings)
        return builders.Shape(run.namespace, run.provider.meta.name, run.spec.workspace, solver.image, solver.cpu,
                              solver.memory)

    # ------------------------------------------------------------------ the end of a run
    async def _end(self, run: Run, assignment: Assignment, outcome: wire.RunStatus | Lost) -> Event:
        begin = from_epoch(assignment.started_at)
        if isinstance(outcome, Lost):
            return Failed(outcome.code, outcome.message, usage=usage_between(begin, from_epoch(time.time())))
        end = from_epoch(outcome.ended_at or time.time())
        usage = usage_between(begin, end)
        logs = await self._keep_log(run, outcome.log)
        if outcome.state == wire.SUCCEEDED:
            if not await in_thread(run.storage.exists, run.job_id, OUTPUT_BLOB):
                return Failed("OutputMissing", "the solver exited 0 but wrote no output blob", end, usage, logs)
            return Completed(run.storage.blob_url(run.job_id, OUTPUT_BLOB), end, usage, logs)
        if outcome.timed_out:
            return Failed("Timeout", f"the job ran longer than timeoutSeconds={run.spec.timeoutSeconds}", end, usage,
                          logs)
        if outcome.oom_killed:
            return Failed("OutOfMemory", f"the kernel killed the solver at its worker's memory limit of "
                                         f"{assignment.memory} (the OOM killer); give the target more memory (the "
                                         "Provider's spec.targets[].memory) or submit a smaller problem", end, usage,
                          logs)
        parsed = parse_termination_message(outcome.termination)
        if parsed:
            return Failed(parsed[0], parsed[1], end, usage, logs)
        tail = outcome.log.strip()[-500:] or "no message"
        return Failed("SolverFailed", f"the solver exited with code {outcome.exit_code}: {tail}", end, usage, logs)

    async def _keep_log(self, run: Run, text: str) -> str | None:
        """The run's log kept in the job's container (blob `logs`), as a pod's is; best effort."""
        if not text:
            return None
        try:
            return await in_thread(run.storage.upload_logs, run.job_id, text.encode())
        except Exception as e:
            log.warning("job %s: the solver's log was not kept: %s", run.job.key, " ".join(str(e).split())[:300])
            return None

    def _ensure_poll(self, job_id: str, key: str, assignment: Assignment) -> None:
        task = self.polls.get(job_id)
        if task is None or task.done():
            self.polls[job_id] = asyncio.create_task(self._poll(job_id, key, assignment), name=f"poll-{job_id}")

    async def _poll(self, job_id: str, key: str, assignment: Assignment) -> None:
        """Long polls the worker until the run ends, or the worker is lost; then wakes the job."""
        backoff = 0.5
        while True:
            pod = self._pod(assignment)
            lost = run_lost(assignment, pod)
            if lost is not None or pod is None:
                self._record_end(job_id, key, assignment, lost or Lost("ExecutionLost", "the worker is gone"))
                return
            try:
                status = await self.client.status(address(pod), self.tokens.get(assignment.pool, ""), job_id,
                                                  wait=POLL_WAIT_SECONDS)
            except WorkerUnreachable as e:
                log.debug("job %s: worker %s: %s", key, assignment.worker, e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.5
            if status is None:
                self._record_end(job_id, key, assignment, Lost(
                    "ExecutionLost", f"the solver worker {assignment.worker} no longer knows the job's run"))
                return
            if status.ended:
                self._record_end(job_id, key, assignment, status)
                return

    def _record_end(self, job_id: str, key: str, assignment: Assignment, outcome: wire.RunStatus | Lost) -> None:
        self.ended[job_id] = outcome
        self._release(job_id, assignment)
        if key:
            self.wake(key)

    # ------------------------------------------------------------------ cancel, stop, cleanup
    async def cancel(self, run: Run) -> Cancellation:
        return await self.stop(run.job, run.job_id)

    async def stop(self, job: JobObject, job_id: str) -> Cancellation:
        """Kills the job's run on its worker (the worker answers once it is gone); a job still waiting for a worker
        has nothing running."""
        self._unwait(job_id)
        assignment = self.assignments.get(job_id)
        if assignment is None or job_id in self.ended:
            return Cancellation(True)
        pod = self._pod(assignment)
        if pod is not None and run_lost(assignment, pod) is None:
            try:
                await self.client.delete(address(pod), self.tokens.get(assignment.pool, ""), job_id)
            except WorkerUnreachable as e:
                log.info("job %s: its run could not be stopped yet: %s", job.key, e)
                return Cancellation(False, STOP_RETRY_SECONDS)
        self._forget(job_id, assignment)
        return Cancellation(True)

    async def cleanup(self, job: JobObject, status: QuantumJobStatus) -> float | None:
        """The worker forgets the ended run (it keeps a few until then); nothing is left of it."""
        job_id = str(status.id or "")
        self._unwait(job_id)
        assignment = self.assignments.get(job_id)
        if assignment is None:
            return None
        pod = self._pod(assignment)
        if pod is not None and ready(pod):
            try:
                await self.client.delete(address(pod), self.tokens.get(assignment.pool, ""), job_id)
            except WorkerUnreachable as e:
                log.debug("job %s: the worker did not forget its run: %s", job.key, e)
        self._forget(job_id, assignment)
        return None

    def execution_began(self, job_id: str) -> str | None:
        assignment = self.assignments.get(job_id)
        return from_epoch(assignment.started_at) if assignment is not None else None

    def _forget(self, job_id: str, assignment: Assignment) -> None:
        if job_id in self.assignments:
            self.forgotten.append(job_id)
        self.assignments.pop(job_id, None)
        self.ended.pop(job_id, None)
        task = self.polls.pop(job_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        self._release(job_id, assignment)

    def _release(self, job_id: str, assignment: Assignment) -> None:
        """The job's worker is free again (if it still ran this job): idle from now, and the pool's first waiting
        job may take it."""
        if self.busy.get(assignment.worker) == job_id:
            del self.busy[assignment.worker]
            self.idle_since[assignment.worker] = time.time()
            self._wake_waiting(assignment.pool)

    def _unwait(self, job_id: str) -> None:
        for jobs in self.waiting.values():
            jobs.pop(job_id, None)

    # ------------------------------------------------------------------ workers
    def _pod(self, assignment: Assignment) -> dict[str, Any] | None:
        return self.workers.worker_pods.get(assignment.pool, {}).get(assignment.worker)

    def _idle(self, pool: str) -> list[dict[str, Any]]:
        """The pool's ready workers that run nothing, the longest idle first."""
        pods = [pod for name, pod in self.workers.worker_pods.get(pool, {}).items()
                if name not in self.busy and ready(pod)]
        return sorted(pods, key=lambda pod: self.idle_since.get(pod["metadata"]["name"], 0.0))

    async def _grow(self, shape: builders.Shape, provider: ProviderObject) -> None:
        """One more worker while jobs wait for one and fewer are starting than wait, up to the pool's size."""
        pods = self._live(shape.pool_id)
        creating = self.creating.get(shape.pool_id, set()) - {pod["metadata"]["name"] for pod in pods}
        starting = len(creating) + sum(1 for pod in pods if not ready(pod))
        if len(pods) + len(creating) >= self.settings.solver_pool_size \
                or starting >= len(self.waiting.get(shape.pool_id, {})):
            return
        # Its own idle exit comes well after the operator's reaping: only workers no operator looks after use it.
        pod = builders.worker_pod(shape, provider, uuid.uuid4().hex[:5],
                                  max(MIN_IDLE_EXIT_SECONDS, 2 * self.settings.solver_pool_idle_seconds))
        name = pod["metadata"]["name"]
        log.info("pool %s: starting worker %s (%d of at most %d)", shape.pool_id, name,
                 len(pods) + len(creating) + 1, self.settings.solver_pool_size)
        self.creating.setdefault(shape.pool_id, set()).add(name)  # before the await: a job meanwhile counts it
        try:
            await self.kube.create_pod(pod)
        except BaseException:
            self._created(shape.pool_id, name)
            raise

    def _created(self, pool: str, name: str) -> None:
        """The worker is no longer only asked for: the watch shows it, or asking failed."""
        names = self.creating.get(pool)
        if names is not None:
            names.discard(name)
            if not names:
                del self.creating[pool]

    async def _make_room(self, shape: builders.Shape) -> None:
        """A worker no node has room for: one idle worker of the namespace's other pools goes now, not after its
        idle time (an idle worker holds its requests; a waiting job needs them). One at a time: none while one
        deleted for room is still going (its requests free up when it is gone); the longest idle first; never one
        whose pool has jobs waiting for a worker, nor one that ended a run moments ago (its pool's next job is
        likely on its way), so that busy pools sharing a full node do not trade warm workers back and forth."""
        present = {name for pods in self.workers.worker_pods.values() for name in pods}
        self.making_room = {name: ns for name, ns in self.making_room.items() if name in present}
        if shape.namespace in self.making_room.values():
            return
        now = time.time()
        candidates = [
            (self.idle_since.get(name, now), name) for pool, pods in self.workers.worker_pods.items()
            if pool != shape.pool_id and not self.waiting.get(pool)
            for name, pod in pods.items()
            if pod["metadata"]["namespace"] == shape.namespace and name not in self.busy and ready(pod)
            and not pod["metadata"].get("deletionTimestamp")
            and now - self.idle_since.get(name, now) >= MAKE_ROOM_MIN_IDLE_SECONDS]
        if not candidates:
            return
        _, name = min(candidates)
        log.info("worker %s: idle, deleted to make room for pool %s", name, shape.pool_id)
        self.busy[name] = ""  # being deleted: no job is handed to it meanwhile
        self.idle_since.pop(name, None)
        self.making_room[name] = shape.namespace
        await self.kube.delete_pod(shape.namespace, name)

    async def _token(self, shape: builders.Shape, provider: ProviderObject) -> str:
        """The pool's token: made with its Secret the first time, else read back (after a restart)."""
        token = self.tokens.get(shape.pool_id)
        if token is None:
            name = builders.token_secret_name(shape.pool_id)
            token = await self._read_token(shape.namespace, name)
            if token is None:
                made = builders.new_token()
                await self.kube.create_secret(builders.token_secret(shape, provider, made))
                token = await self._read_token(shape.namespace, name) or made  # another replica's, if it won
            self.tokens[shape.pool_id] = token
        return token

    async def _read_token(self, namespace: str, name: str) -> str | None:
        secret = await self.secrets.read_data_object("secret", namespace, name)
        value = ((secret or {}).get("data") or {}).get(builders.TOKEN_KEY)
        return base64.b64decode(value).decode() if value else None

    def worker_changed(self, pod: dict[str, Any], deleted: bool) -> None:
        """A worker's pod changed (the watch): its job is looked at if it died; waiting jobs if it is ready."""
        name = pod["metadata"]["name"]
        pool = (pod["metadata"].get("labels") or {}).get(LABEL_POOL, "")
        self._created(pool, name)
        job_id = self.busy.get(name)
        if job_id:
            assignment = self.assignments.get(job_id)
            if assignment is not None and job_id not in self.ended:
                lost = Lost("PodDeleted", f"the solver worker {name} running the job was deleted") if deleted \
                    else run_lost(assignment, pod)
                if lost is not None:
                    task = self.polls.pop(job_id, None)
                    if task is not None:
                        task.cancel()
                    self._record_end(job_id, self.workers.job_keys.get(job_id, ""), assignment, lost)
        if deleted:
            self.busy.pop(name, None)
            self.idle_since.pop(name, None)
            self.seen_ready.discard(name)
        elif ready(pod):
            self.seen_ready.add(name)
            if name not in self.busy:
                self.idle_since.setdefault(name, time.time())
                self._wake_waiting(pool)

    def _wake_waiting(self, pool: str) -> None:
        """The first job waiting for a worker of the pool is looked at now."""
        for key in list(self.waiting.get(pool, {}).values())[:1]:
            self.wake(key)

    async def adopt(self, epoch: int | None = None) -> None:
        """On taking the lead (or starting alone): which worker runs or ran which job, asked of every running worker
        (their runs outlive an operator; one failing its readiness probe under load still runs its job), so those
        jobs are observed where they run and never started twice. With an epoch (leading by election) the asking
        fences the previous leader (the worker contract): a start of its still on its way is refused after it. A
        worker that does not answer is asked again before any job of its pool is handed out."""
        self.client.epoch = epoch
        now = time.time()
        for pool, pods in list(self.workers.worker_pods.items()):
            for name, pod in pods.items():
                if running(pod):
                    self.unasked[name] = Unasked(pool, now, now)
        await self._ask_unasked(None)

    async def _ask_unasked(self, pool: str | None) -> None:
        """Asks the workers (of one pool, or all) not yet asked what they run, unless one was tried moments ago."""
        now = time.time()
        for name, unasked in list(self.unasked.items()):
            if pool is not None and unasked.pool != pool:
                continue
            pod = self.workers.worker_pods.get(unasked.pool, {}).get(name)
            if pod is None or not running(pod):  # gone or going: whatever it ran is lost with it
                del self.unasked[name]
            elif now < unasked.next_try:
                continue
            elif await self._ask_runs(unasked.pool, name, pod):
                self.unasked.pop(name, None)
            elif name in self.unasked:
                self.unasked[name] = replace(unasked, next_try=time.time() + ASK_AGAIN_SECONDS)

    async def _ask_runs(self, pool: str, name: str, pod: dict[str, Any]) -> bool:
        """Takes over what the worker runs and ran; False when it did not say."""
        token = self.tokens.get(pool) or await self._read_token(
            pod["metadata"]["namespace"], builders.token_secret_name(pool))
        if token is None:
            return True  # no pool token: no run can have been started on it
        self.tokens[pool] = token
        try:
            runs = await self.client.runs(address(pod), token)
        except WorkerUnreachable as e:
            log.warning("pool %s: worker %s did not say what it runs: %s", pool, name, e)
            return False
        memory = memory_limit(pod)
        restarts = int(container_status(pod).get("restartCount") or 0)
        for status in runs:
            key = self.workers.job_keys.get(status.id, "")
            job = self.workers.jobs.get(key)
            if job is not None and not is_final(job.state):
                self.slots.claim(job)  # it holds its slot (launched: a waiting job's run is observed, not started)
            assignment = Assignment(pool, pod["metadata"]["namespace"], name, status.started_at, restarts, memory)
            self.assignments[status.id] = assignment
            if status.ended:
                self.ended[status.id] = status
            else:
                self.busy[name] = status.id
                self._ensure_poll(status.id, key, assignment)
        if name not in self.busy:
            self.idle_since.setdefault(name, time.time())
        return True

    async def housekeeping(self) -> None:
        """Workers idle past solver_pool_idle_seconds go (a pool shrinks to nothing when unused), and so do those
        that died as they started or ended (evicted): the next job that needs one starts a new one."""
        now = time.time()
        for name, unasked in list(self.unasked.items()):
            pod = self.workers.worker_pods.get(unasked.pool, {}).get(name)
            if pod is not None and now - unasked.since > UNASKED_DELETE_SECONDS \
                    and not pod["metadata"].get("deletionTimestamp"):
                log.warning("worker %s: it has not said what it runs for %.0fs, deleted: its pool's jobs wait for "
                            "it, and none may run twice", name, now - unasked.since)
                self.busy[name] = ""
                await self.kube.delete_pod(pod["metadata"]["namespace"], name)
        for pool, pods in list(self.workers.worker_pods.items()):
            live = self._live(pool)
            for name, pod in list(pods.items()):
                if name in self.busy or pod["metadata"].get("deletionTimestamp"):
                    continue
                since = self.idle_since.get(name)
                idle = since is not None and now - since > self.settings.solver_pool_idle_seconds
                broken = pod not in live or (not ready(pod) and container_status(pod).get("restartCount"))
                if idle or broken:
                    log.info("worker %s: %s, deleted", name, f"idle for {now - since:.0f}s" if idle and since
                             else "it died as it started, or ended")
                    self.idle_since.pop(name, None)
                    self.busy[name] = ""  # being deleted: no job is handed to it meanwhile
                    await self.kube.delete_pod(pod["metadata"]["namespace"], name)

    async def aclose(self) -> None:
        for task in self.polls.values():
            task.cancel()
        await asyncio.gather(*self.polls.values(), return_exceptions=True)
        self.polls.clear()
        await self.client.aclose()

