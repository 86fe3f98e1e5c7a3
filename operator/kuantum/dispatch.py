"""Which waiting jobs may start now, per workspace and provider, from what the store holds."""

from __future__ import annotations

from collections import Counter
from typing import Any

from . import queueing
from .catalog import canonical_provider_id
from .lookup import primary_provider
from .settings import Settings
from .statemachine import is_final
from .store import Store, key_of

Group = tuple[str, str, str]  # namespace, workspace, canonical provider id


def group_of(job: dict[str, Any]) -> Group | None:
    spec = job.get("spec") or {}
    canonical = canonical_provider_id(str(spec.get("provider", "")))
    if canonical is None:
        canonical = str(spec.get("provider", "")).lower()
    return (job["metadata"]["namespace"], str(spec.get("workspace", "")), canonical)


def entry_of(job: dict[str, Any]) -> queueing.QueueEntry:
    spec = job.get("spec") or {}
    return queueing.QueueEntry(key=key_of(job), target=str(spec.get("target")),
                               priority=str(spec.get("priority", "Standard")),
                               created=job["metadata"].get("creationTimestamp") or "", name=job["metadata"]["name"])


class Dispatcher:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.started: set[str] = set()  # jobs whose solver Job we created, until they are final

    def has_child(self, job: dict[str, Any]) -> bool:
        """Whether the job was launched: a solver Job exists (or is being created), or it went to a provider."""
        status = job.get("status") or {}
        job_id = status.get("id")
        return key_of(job) in self.started or (job_id is not None and job_id in self.store.batch_jobs) \
            or bool(status.get("providerSubmitTime") or status.get("providerJobId"))

    def members(self, group: Group) -> list[dict[str, Any]]:
        return [job for job in self.store.jobs.values() if group_of(job) == group]

    def waiting(self, group: Group, joining: dict[str, Any] | None = None) -> list[queueing.QueueEntry]:
        """The group's waiting jobs; `joining` is a job being queued in this reconcile (its status not yet
        written), counted as waiting so that it is placed and admitted in the same pass."""
        entries = []
        for job in self.members(group):
            status = job.get("status") or {}
            spec = job.get("spec") or {}
            if joining is not None and key_of(job) == key_of(joining):
                continue
            if status.get("state") != "Waiting" or not status.get("id") or spec.get("cancel"):
                continue
            if self.has_child(job) or job["metadata"].get("deletionTimestamp"):
                continue
            entries.append(entry_of(job))
        if joining is not None and not self.has_child(joining):
            entries.append(entry_of(joining))
        return entries

    def running(self, group: Group) -> Counter[str]:
        counts: Counter[str] = Counter()
        for job in self.members(group):
            if not is_final((job.get("status") or {}).get("state")) and self.has_child(job):
                counts[str(job["spec"].get("target"))] += 1
        return counts

    def plan_capacity(self, group: Group) -> int | None:
        provider = primary_provider(self.store, *group)
        if provider is None:
            return None
        limits = ((provider.get("spec") or {}).get("billingPlan") or {}).get("limits") or {}
        value = limits.get("maxConcurrentJobs")
        return int(value) if value else None

    def admitted(self, group: Group, joining: dict[str, Any] | None = None) -> list[str]:
        return queueing.admit(self.waiting(group, joining), dict(self.running(group)),
                              self.settings.target_concurrency, self.plan_capacity(group))

    def groups(self) -> set[Group]:
        return {g for job in self.store.jobs.values() if (g := group_of(job)) is not None}
