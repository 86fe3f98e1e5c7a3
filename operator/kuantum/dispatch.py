"""Which waiting jobs may start now, per workspace and provider, from what the store holds."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

from . import queueing
from .lookup import primary_provider
from .models import JobState
from .objects import Group, JobObject
from .settings import Settings
from .statemachine import is_final
from .store import Store


def entry_of(job: JobObject) -> queueing.QueueEntry:
    return queueing.QueueEntry(key=job.key, target=job.target, priority=job.priority, created=job.meta.created,
                               name=job.meta.name)


class StartedSet(set[str]):
    """Jobs whose solver Job was created (or is being created), until they are final. A change moves the
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
    """One group's queue as of one version of the group: computed once per change, read many times."""

    version: int
    entries: list[queueing.QueueEntry]  # waiting jobs, in queue order
    running: Counter[str]  # launched, not final, per target
    keys: set[str] = field(default_factory=set)
    positions: dict[str, int] = field(default_factory=dict)
    orders: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)  # per target, sorted
    admitted: tuple[int | None, list[str]] | None = None  # (the plan's capacity it was computed for, keys)


class Dispatcher:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.started = StartedSet(store)
        self._queues: dict[Group, _Queue] = {}

    def has_child(self, job: JobObject) -> bool:
        """Whether the job was launched: a solver Job exists (or is being created), or it went to a provider."""
        job_id = job.status.id
        return job.key in self.started or (job_id is not None and job_id in self.store.batch_jobs) \
            or job.submitted_to_provider

    def members(self, group: Group) -> list[JobObject]:
        return list(self.store.groups.get(group, {}).values())

    def _queue(self, group: Group) -> _Queue:
        """The group's waiting jobs in queue order and its running jobs per target, recomputed only when
        the group's version moved (a job queued, started, finished or deleted)."""
        version = self.store.group_versions[group]
        cached = self._queues.get(group)
        if cached is not None and cached.version == version:
            return cached
        waiting: list[queueing.QueueEntry] = []
        running: Counter[str] = Counter()
        for job in self.members(group):
            launched = self.has_child(job)
            if launched and not is_final(job.state):
                running[job.target] += 1
            elif job.state == JobState.WAITING and job.status.id and not job.cancel and not launched \
                    and not job.meta.deleting:
                waiting.append(entry_of(job))
        entries = queueing.ordered(waiting)
        queue = _Queue(version, entries, running, keys={e.key for e in entries},
                       positions=queueing.positions(entries))
        for entry in entries:
            queue.orders.setdefault(entry.target, []).append(entry.order)
        self._queues[group] = queue
        return queue

    def _joins(self, queue: _Queue, joining: JobObject | None) -> bool:
        """Whether `joining` (a job queued in this reconcile, its status not yet written) is new to the queue."""
        return joining is not None and joining.key not in queue.keys and not self.has_child(joining)

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
        """The job's 1-based place in its target's queue (None when it is not waiting)."""
        queue = self._queue(group)
        if job.key in queue.positions or not self._joins(queue, job):
            return queue.positions.get(job.key)
        entry = entry_of(job)  # a job joining: its place among the waiting jobs of its target, by bisection
        return bisect.bisect_left(queue.orders.get(entry.target, []), entry.order) + 1

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
