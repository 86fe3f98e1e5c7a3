"""Which waiting jobs may start now, per workspace and provider, from what the store holds."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ..jobs.statemachine import is_final
from ..models import JobState
from ..objects import Group, JobObject
from ..runtime.lookup import primary_provider
from ..runtime.settings import Settings
from ..runtime.store import Store
from . import queues as queueing


def entry_of(job: JobObject) -> queueing.QueueEntry:
    return queueing.QueueEntry(key=job.key, target=job.target, priority=job.priority, created=job.queue_time,
                               name=job.meta.name, in_session=job.session is not None)


class _Claims(set[str]):
    """Jobs whose solver Job this process creates (or created), until they are final. A change moves the
    job's queue, so it invalidates the group's cached queue."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self._store = store

    def add(self, key: str) -> None:
        if key not in self:
            super().add(key)
            self._store.touch(key)

    def discard(self, key: object) -> None:
        if key in self:
            super().discard(key)
            self._store.touch(str(key))


@dataclass
class _Queue:
    """One group's queue as of one version of the group: updated by the jobs that changed, read many times."""

    version: int
    entries: list[queueing.QueueEntry] = field(default_factory=list)  # waiting jobs, in queue order
    running: Counter[str] = field(default_factory=Counter)  # launched, not final, per target
    waiting_entries: dict[str, queueing.QueueEntry] = field(default_factory=dict)  # by key
    running_targets: dict[str, str] = field(default_factory=dict)  # a running job's key -> its target
    orders: dict[str, list[tuple[int, int, str, str]]] = field(default_factory=dict)  # per target, sorted
    admitted: tuple[int | None, list[str]] | None = None  # (the plan's capacity it was computed for, keys)

    def drop(self, key: str) -> None:
        """Forgets what the job counted as (waiting or running)."""
        entry = self.waiting_entries.pop(key, None)
        if entry is not None:
            del self.entries[bisect.bisect_left(self.entries, entry.order, key=_order)]
            orders = self.orders[entry.target]
            del orders[bisect.bisect_left(orders, entry.order)]
        target = self.running_targets.pop(key, None)
        if target is not None:
            self.running[target] -= 1
            if not self.running[target]:
                del self.running[target]

    def add_waiting(self, entry: queueing.QueueEntry) -> None:
        self.waiting_entries[entry.key] = entry
        bisect.insort(self.entries, entry, key=_order)
        bisect.insort(self.orders.setdefault(entry.target, []), entry.order)

    def add_running(self, key: str, target: str) -> None:
        self.running_targets[key] = target
        self.running[target] += 1


def _order(entry: queueing.QueueEntry) -> tuple[int, int, str, str]:
    return entry.order


class Dispatcher:
    """Admission, and the one owner of slots: which jobs hold one (claim, release) and the hand-over that
    must follow a freed slot (kick: the jobs it admits are reconciled before the backlog)."""

    def __init__(self, store: Store, settings: Settings, wake_first: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.settings = settings
        self._claims = _Claims(store)
        self._wake_first = wake_first or (lambda key: None)  # reconciles a job ahead of everything queued
        self._queues: dict[Group, _Queue] = {}

    # ------------------------------------------------------------------ slots
    def claim(self, job: JobObject) -> None:
        """The job's launch begins (its solver Job is being created): it holds a slot from now on, before the
        watch has shown its solver Job."""
        self._claims.add(job.key)

    def unclaim(self, job: JobObject) -> None:
        """The launch did not happen: the job is back in its queue. No hand-over: it is itself the job the slot
        admits, and it is retried with the work queue's backoff."""
        self._claims.discard(job.key)

    def claimed(self, job: JobObject) -> bool:
        """Whether this process claimed a slot for the job and has not released it."""
        return job.key in self._claims

    def release(self, job: JobObject) -> None:
        """The job holds no slot any more (it is final, or deleted): its claim goes and, where it was launched,
        the jobs its freed slot admits are reconciled first."""
        launched = self.has_child(job)
        self._claims.discard(job.key)
        if launched:
            self.kick(job.group)

    def kick(self, group: Group) -> None:
        """Capacity may have freed in a queue: reconcile the jobs that may start now, before the backlog (a slot
        must not wait behind thousands of new jobs' first reconciles)."""
        for key in self.admitted(group):
            self._wake_first(key)

    def has_child(self, job: JobObject) -> bool:
        """Whether the job was launched: a solver Job exists (or is being created), or it went to a provider."""
        job_id = job.status.id
        return job.key in self._claims or (job_id is not None and job_id in self.store.batch_jobs) \
            or job.submitted_to_provider

    # ------------------------------------------------------------------ queues

    def members(self, group: Group) -> list[JobObject]:
        return list(self.store.groups.get(group, {}).values())

    def _queue(self, group: Group) -> _Queue:
        """The group's waiting jobs in queue order and its running jobs per target. Updated by the jobs whose
        change moved the group's version (a job queued, started, finished or deleted), rebuilt only when the
        store's change log no longer reaches back to the cached version."""
        version = self.store.group_versions[group]
        cached = self._queues.get(group)
        if cached is not None and cached.version == version:
            return cached
        changed = self.store.changed_since(group, cached.version) if cached is not None else None
        if cached is None or changed is None:
            queue = _Queue(version)
            waiting = [entry for job in self.members(group) if (entry := self._count(queue, job)) is not None]
            queue.entries = queueing.ordered(waiting)
            queue.waiting_entries = {e.key: e for e in queue.entries}
            for entry in queue.entries:
                queue.orders.setdefault(entry.target, []).append(entry.order)
            self._queues[group] = queue
            return queue
        members = self.store.groups.get(group, {})
        for key in dict.fromkeys(changed):
            cached.drop(key)
            job = members.get(key)
            if job is not None and (entry := self._count(cached, job)) is not None:
                cached.add_waiting(entry)
        cached.version, cached.admitted = version, None
        return cached

    def _count(self, queue: _Queue, job: JobObject) -> queueing.QueueEntry | None:
        """Counts a launched job as running; returns the queue entry of a waiting one."""
        launched = self.has_child(job)
        if launched and not is_final(job.state):
            queue.add_running(job.key, job.target)
        elif job.state == JobState.WAITING and job.status.id and not job.cancel and not launched \
                and not job.meta.deleting:
            return entry_of(job)
        return None

    def _joins(self, queue: _Queue, joining: JobObject | None) -> bool:
        """Whether `joining` (a job queued in this reconcile, its status not yet written) is new to the queue."""
        return joining is not None and joining.key not in queue.waiting_entries and not self.has_child(joining)

    def waiting(self, group: Group, joining: JobObject | None = None) -> list[queueing.QueueEntry]:
        """The group's waiting jobs in queue order; `joining` is a job being queued in this reconcile (its
        status not yet written), counted as waiting so that it is placed and admitted in the same pass."""
        queue = self._queue(group)
        if joining is None or not self._joins(queue, joining):
            return list(queue.entries)
        entry = entry_of(joining)
        entries = list(queue.entries)
        bisect.insort(entries, entry, key=lambda e: e.order)
        return entries

    def position(self, group: Group, job: JobObject) -> int | None:
        """The job's 1-based place in its target's queue (None when it is not waiting), by bisection; a job
        joining (queued in this reconcile, its status not yet written) is placed where it will stand."""
        queue = self._queue(group)
        entry = queue.waiting_entries.get(job.key)
        if entry is None:
            if not self._joins(queue, job):
                return None
            entry = entry_of(job)
        return bisect.bisect_left(queue.orders.get(entry.target, []), entry.order) + 1

    def front(self, group: Group, target: str, count: int, joining: JobObject | None = None) -> list[str]:
        """Keys of the first `count` waiting jobs of a target's queue, in order; `joining` (a job being queued in
        this reconcile) placed where it will stand, as `position` places it."""
        queue = self._queue(group)
        found: list[queueing.QueueEntry] = []
        for entry in queue.entries:
            if entry.target == target:
                found.append(entry)
                if len(found) == count:
                    break
        if joining is not None and joining.target == target and joining.key not in queue.waiting_entries \
                and self._joins(queue, joining):
            bisect.insort(found, entry_of(joining), key=_order)
        return [entry.key for entry in found[:count]]

    def running(self, group: Group) -> Counter[str]:
        return Counter(self._queue(group).running)

    def plan_capacity(self, group: Group) -> int | None:
        provider = primary_provider(self.store, *group)
        if provider is None or provider.spec is None:
            return None
        return provider.spec.billingPlan.limits.maxConcurrentJobs or None

    def admitted(self, group: Group, joining: JobObject | None = None) -> list[str]:
        queue = self._queue(group)
        if self._joins(queue, joining):
            return self._admit(self.waiting(group, joining), queue.running, self.plan_capacity(group))
        capacity = self.plan_capacity(group)
        if queue.admitted is None or queue.admitted[0] != capacity:  # the same until the group or its plan changes
            queue.admitted = (capacity, self._admit(queue.entries, queue.running, capacity))
        return list(queue.admitted[1])

    def _admit(self, entries: list[queueing.QueueEntry], running: Counter[str], capacity: int | None) -> list[str]:
        return queueing.admit(entries, dict(running), self.settings.target_concurrency, capacity)

    def groups(self) -> set[Group]:
        return {g for g, members in self.store.groups.items() if members}
