"""What a program has seen of the cluster, fed by the informers (runtime/informer.py): the operator's, the gateway's.

All truth lives in the API server; this is a cache of it, rebuilt from the initial listing after a
restart. It also remembers the operator's own recent writes so a reconcile never acts on a body
older than what it just wrote.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from ..models.common import LABEL_JOB_ID, LABEL_POOL
from ..objects import (
    PARSERS,
    Group,
    JobObject,
    Meta,
    ProviderObject,
    SessionObject,
    Watched,
    WorkspaceObject,
    parse_job,
)
from .plain import without_managed_fields

__all__ = ["Group", "Store", "group_of", "key_of", "queue_signature"]

CHANGE_LOG = 256  # per group, the keys of its latest version moves (older ones: the queue is rebuilt)


def key_of(obj: dict[str, Any] | Watched) -> str:
    if isinstance(obj, dict):
        return f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
    return obj.meta.key


def group_of(job: dict[str, Any] | JobObject) -> Group:
    return (parse_job(job) if isinstance(job, dict) else job).group


def queue_signature(job: JobObject) -> tuple[Any, ...]:
    """What decides a job's place in its group's queue and its slot: a change here invalidates the group's
    cached queue (a new queuePosition or condition does not)."""
    status = job.status
    return (status.state, status.id, job.cancel, job.meta.deleting, job.priority, job.target, job.meta.created,
            job.submitted_to_provider, job.session)


@dataclass
class Store:
    jobs: dict[str, JobObject] = field(default_factory=dict)
    workspaces: dict[str, WorkspaceObject] = field(default_factory=dict)
    providers: dict[str, ProviderObject] = field(default_factory=dict)
    sessions: dict[str, SessionObject] = field(default_factory=dict)
    # Jobs by the session they name (namespace/session -> their keys): a session's reconcile reads its few jobs.
    session_members: dict[str, set[str]] = field(default_factory=dict)
    batch_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # by kuantum.dev/job-id
    pods: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))  # job-id -> name
    deleted_pods: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # job-id -> pods seen deleted
    # The solver pools' workers (execution/pool/): pool id -> pod name -> pod.
    worker_pods: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    job_keys: dict[str, str] = field(default_factory=dict)  # job-id -> namespace/name
    # Jobs by (namespace, workspace, job id): a job id is unique per workspace, and more than one job asking for it
    # is found here without a scan (jobs/duplicates.py decides which of them holds it).
    ids: dict[tuple[str, str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    _id_of: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    # Jobs by queue group, and a version per group bumped whenever its queue may have changed (the
    # dispatcher caches each group's queue by it: no scan of every job per reconcile).
    groups: dict[Group, dict[str, JobObject]] = field(default_factory=dict)
    group_versions: Counter[Group] = field(default_factory=Counter)
    # Per group, the key behind each of its latest version moves, newest last: the dispatcher updates its cached
    # queue by these few jobs instead of rebuilding it from every member (O(n) per change at 5,000 waiting).
    group_changes: dict[Group, deque[str]] = field(default_factory=dict)
    _signatures: dict[str, tuple[Group, tuple[Any, ...]]] = field(default_factory=dict)

    def table(self, kind: str) -> dict[str, Any]:
        tables: dict[str, dict[str, Any]] = {"QuantumJob": self.jobs, "QuantumWorkspace": self.workspaces,
                                             "Provider": self.providers, "QuantumSession": self.sessions}
        return tables[kind]

    def put(self, kind: str, body: dict[str, Any]) -> Watched:
        """Parses the object and keeps the newest version (watch events and our own write responses race);
        returns what the store holds for it now."""
        table = self.table(kind)
        meta = Meta.of(body)
        current: Watched | None = table.get(meta.key)
        if current is not None and current.meta.uid == meta.uid and meta.revision < current.meta.revision:
            return current
        obj: Watched = PARSERS[kind](without_managed_fields(body))
        table[meta.key] = obj
        if isinstance(obj, JobObject):
            if obj.label_job_id:
                self.job_keys[obj.label_job_id] = meta.key
            self._index(meta.key, obj)
            self._index_session(current if isinstance(current, JobObject) else None, obj)
            self._index_id(meta.key, (meta.namespace, obj.workspace, obj.job_id))
        return obj

    def put_session(self, body: dict[str, Any]) -> SessionObject:
        session = self.put("QuantumSession", body)
        assert isinstance(session, SessionObject)
        return session

    def _index_session(self, before: JobObject | None, after: JobObject | None) -> None:
        for job, add in ((before, False), (after, True)):
            if job is None or not job.session:
                continue
            session_key = f"{job.meta.namespace}/{job.session}"
            members = self.session_members.setdefault(session_key, set())
            if add:
                members.add(job.key)
            else:
                members.discard(job.key)
                if not members:
                    del self.session_members[session_key]

    def jobs_of_session(self, namespace: str, session: str) -> list[JobObject]:
        keys = self.session_members.get(f"{namespace}/{session}", ())
        return [job for key in keys if (job := self.jobs.get(key)) is not None and job.session == session]

    def put_job(self, body: dict[str, Any]) -> JobObject:
        job = self.put("QuantumJob", body)
        assert isinstance(job, JobObject)
        return job

    def put_provider(self, body: dict[str, Any]) -> ProviderObject:
        provider = self.put("Provider", body)
        assert isinstance(provider, ProviderObject)
        return provider

    def put_workspace(self, body: dict[str, Any]) -> WorkspaceObject:
        workspace = self.put("QuantumWorkspace", body)
        assert isinstance(workspace, WorkspaceObject)
        return workspace

    def remove(self, kind: str, body: dict[str, Any]) -> None:
        table = self.table(kind)
        meta = Meta.of(body)
        current = table.get(meta.key)
        if current is not None and current.meta.uid == meta.uid:
            del table[meta.key]
            if isinstance(current, JobObject):
                if self.job_keys.get(current.label_job_id or "") == meta.key:
                    del self.job_keys[current.label_job_id or ""]
                self._index(meta.key, None)
                self._index_session(current, None)
                self._index_id(meta.key, None)

    def jobs_with_id(self, namespace: str, workspace: str, job_id: str) -> list[JobObject]:
        """Every job of a workspace with this (lower-case) id."""
        return [self.jobs[key] for key in self.ids.get((namespace, workspace, job_id), ()) if key in self.jobs]

    def same_id(self, job: JobObject) -> list[JobObject]:
        """Every job of the job's workspace with its id (itself included)."""
        return self.jobs_with_id(job.meta.namespace, job.workspace, job.job_id)

    def _index_id(self, key: str, where: tuple[str, str, str] | None) -> None:
        before = self._id_of.pop(key, None)
        if before is not None and before != where:
            self.ids[before].discard(key)
            if not self.ids[before]:
                del self.ids[before]
        if where is not None:
            self._id_of[key] = where
            self.ids[where].add(key)

    def _index(self, key: str, job: JobObject | None) -> None:
        before = self._signatures.pop(key, None)
        if before is not None:
            self.groups.get(before[0], {}).pop(key, None)
        if job is None:
            if before is not None:
                self._moved(before[0], key)
            return
        group = job.group
        self.groups.setdefault(group, {})[key] = job
        signature = queue_signature(job)
        self._signatures[key] = (group, signature)
        if before != (group, signature):
            self._moved(group, key)
            if before is not None and before[0] != group:
                self._moved(before[0], key)

    def _moved(self, group: Group, key: str) -> None:
        self.group_versions[group] += 1
        log = self.group_changes.get(group)
        if log is None:
            log = self.group_changes[group] = deque(maxlen=CHANGE_LOG)
        log.append(key)

    def changed_since(self, group: Group, version: int) -> list[str] | None:
        """The keys whose changes moved the group from `version` to now (None when the log no longer reaches
        back that far)."""
        count = self.group_versions[group] - version
        log = self.group_changes.get(group, ())
        if count < 0 or count > len(log):
            return None
        return [log[i] for i in range(len(log) - count, len(log))]

    def touch(self, key: str) -> None:
        """The job's slot changed outside its body (a solver Job created or gone): its queue may have moved."""
        known = self._signatures.get(key)
        if known is not None:
            self._moved(known[0], key)

    def put_child(self, kind: str, body: dict[str, Any], deleted: bool) -> str | None:
        """Records a batch Job or Pod of a job; returns the job id it belongs to."""
        job_id = (body["metadata"].get("labels") or {}).get(LABEL_JOB_ID)
        if not job_id:
            return None
        if kind == "Job":
            had = job_id in self.batch_jobs
            if deleted:
                self.batch_jobs.pop(job_id, None)
            else:
                self.batch_jobs[job_id] = without_managed_fields(body)
            if had != (job_id in self.batch_jobs) and job_id in self.job_keys:
                self.touch(self.job_keys[job_id])
        else:
            name = body["metadata"]["name"]
            if deleted:
                self.pods[job_id].pop(name, None)
                self.deleted_pods[job_id] += 1
            else:
                self.pods[job_id][name] = without_managed_fields(body)
            if not self.pods[job_id]:
                self.pods.pop(job_id, None)
        return job_id

    def put_worker_pod(self, body: dict[str, Any], deleted: bool) -> None:
        """Records a pool's worker pod (by its kuantum.dev/pool label)."""
        pool = (body["metadata"].get("labels") or {}).get(LABEL_POOL)
        if not pool:
            return
        name = body["metadata"]["name"]
        if deleted:
            pods = self.worker_pods.get(pool, {})
            pods.pop(name, None)
            if not pods:
                self.worker_pods.pop(pool, None)
        else:
            self.worker_pods.setdefault(pool, {})[name] = without_managed_fields(body)

    def owner_key(self, body: dict[str, Any]) -> str | None:
        """namespace/name of the QuantumJob a child belongs to: its owner, or (for pods, which the batch
        Job owns) the job whose kuantum.dev/job-id label it carries."""
        for ref in body["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "QuantumJob":
                return f"{body['metadata']['namespace']}/{ref['name']}"
        job_id = (body["metadata"].get("labels") or {}).get(LABEL_JOB_ID)
        return self.job_keys.get(job_id) if job_id else None

    def forget_job_children(self, job_id: str) -> None:
        if self.batch_jobs.pop(job_id, None) is not None and job_id in self.job_keys:
            self.touch(self.job_keys[job_id])
        self.pods.pop(job_id, None)
        self.deleted_pods.pop(job_id, None)
