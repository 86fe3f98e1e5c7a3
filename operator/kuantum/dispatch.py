"""Which waiting jobs may start now, per workspace and provider, from what the store holds."""

from __future__ import annotations

from collections import Counter

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


class Dispatcher:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.started = StartedSet(store)
        # group -> (its version when computed, waiting entries in queue order, running jobs per target)
        self._queues: dict[Group, tuple[int, list[queueing.QueueEntry], Counter[str]]] = {}
        self._positions: dict[Group, tuple[int, dict[str, int]]] = {}

    def has_child(self, job: JobObject) -> bool:
        """Whether the job was launched: a solver Job exists (or is being created), or it went to a provider."""
        job_id = job.status.id
        return job.key in self.started or (job_id is not None and job_id in self.store.batch_jobs) \
            or job.submitted_to_provider

    def members(self, group: Group) -> list[JobObject]:
        return list(self.store.groups.get(group, {}).values())

    def _queue(self, group: Group) -> tuple[list[queueing.QueueEntry], Counter[str]]:
        """The group's waiting jobs in queue order and its running jobs per target, recomputed only when
        the group's version moved (a job queued, started, finished or deleted)."""
        version = self.store.group_versions[group]
        cached = self._queues.get(group)
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        waiting: list[queueing.QueueEntry] = []
        running: Counter[str] = Counter()
        for job in self.members(group):
            launched = self.has_child(job)
            if launched and not is_final(job.state):
                running[job.target] += 1
            elif job.state == JobState.WAITING and job.status.id and not job.cancel and not launched \
                    and not job.meta.deleting:
                waiting.append(entry_of(job))
        ordered = queueing.ordered(waiting)
        self._queues[group] = (version, ordered, running)
        return ordered, running

    def waiting(self, group: Group, joining: JobObject | None = None) -> list[queueing.QueueEntry]:
        """The group's waiting jobs in queue order; `joining` is a job being queued in this reconcile (its
        status not yet written), counted as waiting so that it is placed and admitted in the same pass."""
        entries = self._queue(group)[0]
        if joining is None or self.has_child(joining) or any(e.key == joining.key for e in entries):
            return list(entries)
        return queueing.ordered([*entries, entry_of(joining)])

    def position(self, group: Group, job: JobObject) -> int | None:
        """The job's 1-based place in its target's queue (None when it is not waiting)."""
        entries = self._queue(group)[0]
        version = self.store.group_versions[group]
        cached = self._positions.get(group)
        if cached is None or cached[0] != version:
            cached = (version, queueing.positions(entries))
            self._positions[group] = cached
        key = job.key
        if key in cached[1] or self.has_child(job):
            return cached[1].get(key)
        return queueing.positions(self.waiting(group, joining=job)).get(key)

    def running(self, group: Group) -> Counter[str]:
        return Counter(self._queue(group)[1])

    def plan_capacity(self, group: Group) -> int | None:
        provider = primary_provider(self.store, *group)
        if provider is None or provider.spec is None:
            return None
        return provider.spec.billingPlan.limits.maxConcurrentJobs or None

    def admitted(self, group: Group, joining: JobObject | None = None) -> list[str]:
        return queueing.admit(self.waiting(group, joining), dict(self.running(group)),
                              self.settings.target_concurrency, self.plan_capacity(group))

    def groups(self) -> set[Group]:
        return {g for g, members in self.store.groups.items() if members}
