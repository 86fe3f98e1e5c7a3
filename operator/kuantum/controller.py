"""Wires the store, the work queue and the reconcilers; fed by the informers (runtime/informer.py)."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import signal
import socket
from collections import Counter
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from .conditions import get_condition
from .context import Context
from .execution.registry import Backends
from .jobs.reconciler import JobReconciler
from .jobs.statemachine import is_final
from .models import JobState
from .models.common import API_GROUP, API_VERSION, LABEL_JOB_ID, LABEL_POOL
from .objects import PARSERS, JobObject, ProviderObject, SessionObject, WorkspaceObject
from .runtime import metrics
from .runtime.informer import Informers, Resource
from .runtime.leader import LeaderElection
from .runtime.lookup import jobs_of_workspace, providers_of_workspace
from .runtime.result import Reconciler
from .runtime.settings import Settings
from .runtime.store import Store, key_of
from .runtime.timeutil import now_iso, seconds_between
from .runtime.workqueue import HandlerError, Requeue, WorkQueue
from .runtime.writer import Conflict, Kube, ObjectGone
from .scheduling.admission import Dispatcher
from .scheduling.queues import positions, shown_position
from .sessions.policy import is_final as session_final
from .sessions.reconciler import SessionReconciler
from .storage.errors import StorageError
from .storage.registry import StorageRegistry
from .workspaces.provider_reconciler import ProviderReconciler
from .workspaces.workspace_reconciler import WorkspaceReconciler

log = logging.getLogger("kuantum.controller")
KINDS = {"quantumjobs": "QuantumJob", "quantumworkspaces": "QuantumWorkspace", "providers": "Provider",
         "quantumsessions": "QuantumSession"}
# The solver Jobs and pods of jobs, by the label every one of them carries.
PAST_TIMEOUT_GRACE_SECONDS = 60.0
CHILDREN = (Resource("Job", "batch", "v1", "jobs", LABEL_JOB_ID), Resource("Pod", "", "v1", "pods", LABEL_JOB_ID))
WORKER_PODS = Resource("Pod", "", "v1", "pods", LABEL_POOL)  # the solver pools' workers


def _api_message(e: ApiException) -> str:
    """The API server's own message (from its Status body), not the whole HTTP response."""
    try:
        return str(json.loads(e.body or "{}").get("message") or e.reason)[:500]
    except (ValueError, AttributeError):
        return str(e.reason)


def _reason(error: urllib3.exceptions.HTTPError) -> str:
    """The innermost cause in one line (urllib3 wraps it in retries and pools)."""
    cause: BaseException = error
    while isinstance(cause, urllib3.exceptions.MaxRetryError) and cause.reason is not None:
        cause = cause.reason
    return f"{type(cause).__name__}: {cause}"[:300]


def _pending(job: JobObject) -> bool:
    """A job that waits for something to exist (workspace, provider, storage, input)."""
    if job.state is None:
        return True
    if job.state != JobState.WAITING:
        return False
    queued = get_condition(job.status.conditions, "Queued")
    return queued is None or queued.status != "True"


def _past_timeout(job: JobObject, now: str) -> bool:
    """An Executing job a minute past its timeoutSeconds (its pod's deadline or the provider should have ended it)."""
    timeout = job.spec.timeoutSeconds if job.spec is not None else None
    begin = job.status.beginExecutionTime
    return bool(timeout and begin and seconds_between(begin, now) > timeout + PAST_TIMEOUT_GRACE_SECONDS)


def _replace(gauge: Any, values: dict[Any, float]) -> None:
    """Sets a labelled gauge to exactly these series: the others go (a queue emptied, a job deleted)."""
    current = {tuple(s.labels[n] for n in gauge._labelnames) for m in gauge.collect() for s in m.samples}
    for gone in current - set(values):
        gauge.remove(*gone)
    for key, value in values.items():
        gauge.labels(*key).set(value)


class Controller:
    def __init__(self, api_client: client.ApiClient, settings: Settings, namespaces: list[str] | None = None) -> None:
        self.api_client = api_client
        self.settings = settings
        self.namespaces = namespaces or []
        self.store = Store()
        self.kube = Kube(api_client)
        self.dispatcher = Dispatcher(self.store, settings, wake_first=self._wake_first)
        self.queue = WorkQueue(self._handle, workers=settings.workers, tenant_of=self._workspace_of_item,
                               reserved=settings.urgent_workers)
        self.ctx = Context(store=self.store, kube=self.kube, settings=settings, dispatcher=self.dispatcher,
                           storages=StorageRegistry(self.kube))
        self.backends = Backends(self.store, self.kube, settings, self.dispatcher, self.kube,
                                 wake=lambda key: self.queue.add_first(f"QuantumJob|{key}"))
        self.reconcilers: dict[str, Reconciler] = {"QuantumJob": JobReconciler(self.ctx, self.backends),
                                                   "QuantumWorkspace": WorkspaceReconciler(self.ctx),
                                                   "Provider": ProviderReconciler(self.ctx, self.backends),
                                                   "QuantumSession": SessionReconciler(self.ctx)}
        self._tasks: list[asyncio.Task[None]] = []
        self._campaign: asyncio.Task[None] | None = None
        self._resync_rounds = 0
        self.identity = ""
        self.election: LeaderElection | None = None
        watched = [(Resource(kind, API_GROUP, API_VERSION, plural), functools.partial(self.on_resource_event, kind))
                   for plural, kind in KINDS.items()]
        children = [(resource, functools.partial(self.on_child_event, resource.kind)) for resource in CHILDREN]
        workers = (WORKER_PODS, self.on_worker_event)
        self.informers = Informers(api_client, self.namespaces, [*watched, *children, workers])

    # ----- queue -----
    def enqueue(self, kind: str, key: str) -> None:
        self.queue.add(f"{kind}|{key}")

    def _workspace_of_item(self, item: str) -> str:
        """The work queue's tenant of an item: its workspace (namespace/name), so workspaces take turns."""
        kind, key = item.split("|", 1)
        namespace = key.split("/", 1)[0]
        obj = self.store.table(kind).get(key) if kind in KINDS.values() else None
        if isinstance(obj, JobObject | ProviderObject | SessionObject):
            return f"{namespace}/{obj.workspace}"
        return key if kind == "QuantumWorkspace" else namespace

    def _wake_first(self, key: str) -> None:
        """A freed slot's next job: at the head of the urgent lane."""
        self.queue.add_first(f"QuantumJob|{key}", ahead=True)

    async def _handle(self, item: str) -> None:
        kind, key = item.split("|", 1)
        try:
            with metrics.RECONCILE_SECONDS.labels(kind=kind).time():
                result = await self.reconcilers[kind].reconcile(key)
            if result.requeue_after is not None:
                self.queue.add_after(item, result.requeue_after)
            for woken_kind, woken in result.wake:
                self.enqueue(woken_kind, woken)
        except ObjectGone as e:
            log.debug("%s %s: %s; nothing left to do", kind, key, e)  # deleted meanwhile: done, not an error
        except Conflict as e:
            raise Requeue(str(e)) from e
        except ApiException as e:
            metrics.RECONCILE_ERRORS.labels(kind=kind).inc()
            raise HandlerError(f"API server answered {e.status} {e.reason}: {_api_message(e)}") from e
        except urllib3.exceptions.HTTPError as e:  # connection refused or dropped: the API server is away
            metrics.RECONCILE_ERRORS.labels(kind=kind).inc()
            raise HandlerError(f"API server unreachable: {_reason(e)}") from e
        except StorageError as e:  # the workspace's storage failed a call (already one line; e.g. a reset)
            metrics.RECONCILE_ERRORS.labels(kind=kind).inc()
            raise HandlerError(f"storage: {e}") from e
        except Exception:
            metrics.RECONCILE_ERRORS.labels(kind=kind).inc()
            raise

    # ----- lifecycle -----
    async def start(self, election: LeaderElection | None = None) -> None:
        """Loads the cluster's objects (what exists is known before reconciling, so capacity is counted right after
        a restart), then reconciles: at once, or (with an election) once this replica leads. A standby keeps its
        store fed by the informers, so it takes over warm."""
        self.informers.start()
        await self.informers.wait_synced()
        self.election = election
        self.identity = election.identity if election is not None else \
            (os.environ.get("POD_NAME") or socket.gethostname())
        metrics.LEADER.labels(self.identity).set(0)
        if election is None:
            await self._lead()
        else:
            self._campaign = asyncio.create_task(election.run(self._lead, self._lost))

    async def _lead(self) -> None:
        metrics.LEADER.labels(self.identity).set(1)
        # Before any job is looked at: which worker runs which job (and, leading by election, fencing the last leader).
        await self.backends.pool.adopt(self.election.epoch if self.election is not None else None)
        self.queue.start()
        for kind, table in (("QuantumWorkspace", self.store.workspaces), ("Provider", self.store.providers),
                            ("QuantumSession", self.store.sessions), ("QuantumJob", self.store.jobs)):
            for key in list(table):
                self.enqueue(kind, key)
        self._tasks = [asyncio.create_task(self._every(self.settings.resync_seconds, self._resync)),
                       asyncio.create_task(self._every(self.settings.queue_position_seconds, self._refresh_queues))]

    async def _lost(self) -> None:
        """Another replica leads now: stop at once, as client-go does; the pod restarts as a standby."""
        await self._stop_reconciling()
        os.kill(os.getpid(), signal.SIGTERM)

    async def _stop_reconciling(self) -> None:
        if self.identity:
            metrics.LEADER.labels(self.identity).set(0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.queue.stop()

    async def stop(self) -> None:
        if self._campaign is not None:
            self._campaign.cancel()
            await asyncio.gather(self._campaign, return_exceptions=True)
        await self._stop_reconciling()
        if self.election is not None:
            await self.election.release()
        await self.informers.stop()
        await self.backends.aclose()

    @staticmethod
    async def _every(seconds: float, fn: Any) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await fn()
            except Exception:
                log.exception("periodic task %s failed", fn.__name__)

    async def _resync(self) -> None:
        """Level-based safety net: revisit what is not final. A job queued for its turn is revisited only every
        full_resync_rounds-th round: what moves it comes as a kick (a freed slot, a plan's change, every group
        below), its position from _refresh_queues, a change of its provider as an event (on_resource_event).
        Revisited every round, 5,000 queued jobs would cost ~170 reconciles a second that do nothing."""
        self._resync_rounds += 1
        full = self._resync_rounds % self.settings.full_resync_rounds == 0
        for key, job in list(self.store.jobs.items()):
            if not is_final(job.state) and (full or not self._queued_for_its_turn(job)):
                self.enqueue("QuantumJob", key)
        for group in self.dispatcher.groups():
            self.dispatcher.kick(group)  # a slot free for any reason is handed out within a round
        await self.backends.pool.housekeeping()
        for key in list(self.store.workspaces):
            self.enqueue("QuantumWorkspace", key)
        for key in list(self.store.providers):
            self.enqueue("Provider", key)
        for key, session in list(self.store.sessions.items()):
            if not session_final(session.state):
                self.enqueue("QuantumSession", key)

    async def _refresh_queues(self) -> None:
        """Queue positions move when jobs ahead start or leave: the jobs whose written position is stale are
        reconciled (the job reconciler writes positions, like every status field), a bounded number per round,
        front first."""
        budget = self.settings.queue_position_budget
        for group in self.dispatcher.groups():
            entries = self.dispatcher.waiting(group)
            for key, position in sorted(positions(entries).items(), key=lambda kv: kv[1]):
                job = self.store.jobs.get(key)
                if job is None or job.status.queuePosition == shown_position(position):
                    continue
                if budget <= 0:
                    break
                budget -= 1
                self.enqueue("QuantumJob", key)
        self._refresh_metrics()

    def _refresh_metrics(self) -> None:
        """The gauges read from the store (jobs by state, queues, providers), replaced whole each round."""
        workspaces = self.store.workspaces

        def exists(namespace: str, name: str) -> bool:
            return f"{namespace}/{name}" in workspaces

        labels_of: dict[tuple[str, str, str, str], metrics.JobLabels] = {}

        def labels(namespace: str, workspace: str, provider: str, target: str) -> metrics.JobLabels:
            raw = (namespace, workspace, provider, target)
            if raw not in labels_of:
                labels_of[raw] = metrics.job_labels(namespace, workspace, provider, target, exists)
            return labels_of[raw]

        jobs: Counter[tuple[metrics.JobLabels, str]] = Counter()
        late: Counter[metrics.JobLabels] = Counter()
        depth: Counter[tuple[metrics.JobLabels, str]] = Counter()
        seen: dict[metrics.JobLabels, str] = {}
        now = now_iso()
        for job in self.store.jobs.values():
            job_labels = labels(job.meta.namespace, job.workspace, job.provider, job.target)
            jobs[(job_labels, job.status.state or "Pending")] += 1
            seen.setdefault(job_labels, job.priority)
            late[job_labels] += 0  # a series (at zero) for every label set that has jobs, not gaps
            depth[(job_labels, job.priority)] += 0
            if job.state == JobState.EXECUTING and _past_timeout(job, now):
                late[job_labels] += 1
        admissible: dict[tuple[str, ...], float] = {}
        for group in self.dispatcher.groups():
            for entry in self.dispatcher.waiting(group):
                depth[(labels(group[0], group[1], group[2], entry.target), entry.priority)] += 1
            plan = labels(*group, "")[:3]
            admissible[plan] = admissible.get(plan, 0) + len(self.dispatcher.admitted(group))
        available: dict[metrics.JobLabels, float] = {}
        credentials: dict[tuple[str, ...], float] = {}
        for provider in self.store.providers.values():
            status = provider.status
            if not status.providerId or provider.meta.deleting:
                continue
            for target in status.targets:
                key = labels(provider.meta.namespace, provider.workspace, status.providerId, target.id)
                available[key] = 1.0 if target.availability == "Available" else 0.0
            valid = get_condition(status.conditions, "CredentialsValid")
            if valid is not None:
                plan = labels(provider.meta.namespace, provider.workspace, status.providerId, "")[:3]
                credentials[plan] = 1.0 if valid.status == "True" else 0.0
        for job_labels, priority in seen.items():
            metrics.job_seen(job_labels, priority)  # jobs accepted before this process started count from zero
        _replace(metrics.JOBS, {(*k, state): v for (k, state), v in jobs.items()})
        _replace(metrics.EXECUTING_PAST_TIMEOUT, dict(late))
        _replace(metrics.QUEUE_DEPTH, {(*k, priority): v for (k, priority), v in depth.items()})
        _replace(metrics.QUEUE_ADMISSIBLE, admissible)
        _replace(metrics.PROVIDER_TARGET_AVAILABLE, available)
        _replace(metrics.PROVIDER_CREDENTIALS_VALID, credentials)

    def _queued_for_its_turn(self, job: JobObject) -> bool:
        return job.state == JobState.WAITING and not _pending(job) and not job.meta.deleting \
            and not self.dispatcher.has_child(job)

    # ----- events (from the informers) -----
    def on_resource_event(self, kind: str, event_type: str | None, body: dict[str, Any]) -> None:
        previous = self.store.providers.get(key_of(body)) if kind == "Provider" else None
        if event_type == "DELETED":
            obj = PARSERS[kind](body)
            self.store.remove(kind, body)
        else:
            obj = self.store.put(kind, body)
        key, namespace = obj.key, obj.meta.namespace
        if isinstance(obj, JobObject):
            if event_type != "DELETED":
                self.enqueue(kind, key)
            else:
                self.dispatcher.release(obj)
            if obj.session:
                self.enqueue("QuantumSession", f"{namespace}/{obj.session}")  # its counts and state follow its jobs
            self.enqueue("QuantumWorkspace", f"{namespace}/{obj.workspace}")
            self._enqueue_providers(namespace, obj.workspace)
            return
        if isinstance(obj, SessionObject):
            if event_type != "DELETED":
                self.enqueue(kind, key)
            # Jobs that wait for their session to exist, or that a closed session refuses, look at it again.
            for job in self.store.jobs_of_session(namespace, obj.meta.name):
                if _pending(job):
                    self.enqueue("QuantumJob", job.key)
            return
        workspace = obj.meta.name if isinstance(obj, WorkspaceObject) else obj.workspace
        if event_type != "DELETED":
            self.enqueue(kind, key)
        self.enqueue("QuantumWorkspace", f"{namespace}/{workspace}")
        self._enqueue_providers(namespace, workspace)
        # A provider new, gone or edited (its plan, its targets) concerns the queued jobs too; other changes only
        # the jobs still waiting for something. (A target's availability: ProviderReconciler, which writes it.)
        provider_changed = isinstance(obj, ProviderObject) and (
            event_type == "DELETED" or previous is None or previous.meta.generation != obj.meta.generation)
        for job in jobs_of_workspace(self.store, namespace, workspace):
            if _pending(job) or (provider_changed and job.state == JobState.WAITING):
                self.enqueue("QuantumJob", job.key)
        if provider_changed:
            for group in self.dispatcher.groups():
                if group[:2] == (namespace, workspace):
                    self.dispatcher.kick(group)  # a raised maxConcurrentJobs starts jobs now

    def on_child_event(self, kind: str, event_type: str | None, body: dict[str, Any]) -> None:
        self.store.put_child(kind, body, deleted=event_type == "DELETED")
        owner = self.store.owner_key(body)
        if owner:
            # A child's change is about a job holding a slot (started, finished, gone): in the urgent lane, not
            # behind a workspace's backlog of new jobs, so a freed slot passes on at once.
            self.queue.add_first(f"QuantumJob|{owner}")

    def on_worker_event(self, event_type: str | None, body: dict[str, Any]) -> None:
        deleted = event_type == "DELETED"
        self.store.put_worker_pod(body, deleted)
        self.backends.pool.worker_changed(body, deleted)

    def _enqueue_providers(self, namespace: str, workspace: str) -> None:
        for provider in providers_of_workspace(self.store, namespace, workspace):
            self.enqueue("Provider", provider.key)
