"""What the operator has seen of the cluster, fed by Kopf's watch events.

All truth lives in the API server; this is a cache of it, rebuilt from the initial listing after a
restart. It also remembers the operator's own recent writes so a reconcile never acts on a body
older than what it just wrote.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from .catalog import canonical_provider_id
from .models.common import LABEL_JOB_ID


def key_of(body: dict[str, Any]) -> str:
    return f"{body['metadata']['namespace']}/{body['metadata']['name']}"


Group = tuple[str, str, str]  # namespace, workspace, canonical provider id: one queue and one billing plan


def group_of(job: dict[str, Any]) -> Group:
    spec = job.get("spec") or {}
    canonical = canonical_provider_id(str(spec.get("provider", "")))
    if canonical is None:
        canonical = str(spec.get("provider", "")).lower()
    return (job["metadata"]["namespace"], str(spec.get("workspace", "")), canonical)


def queue_signature(job: dict[str, Any]) -> tuple[Any, ...]:
    """What decides a job's place in its group's queue and its slot: a change here invalidates the group's
    cached queue (a new queuePosition or condition does not)."""
    meta, spec, status = job["metadata"], job.get("spec") or {}, job.get("status") or {}
    return (status.get("state"), bool(status.get("id")), status.get("id"), bool(spec.get("cancel")),
            bool(meta.get("deletionTimestamp")), spec.get("priority"), spec.get("target"),
            meta.get("creationTimestamp"), bool(status.get("providerSubmitTime") or status.get("providerJobId")))


def _rv(body: dict[str, Any]) -> int:
    try:
        return int(body["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


@dataclass
class Store:
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    workspaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # by kuantum.dev/job-id
    pods: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))  # job-id -> name
    deleted_pods: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # job-id -> pods seen deleted
    job_keys: dict[str, str] = field(default_factory=dict)  # job-id -> namespace/name
    # Jobs by queue group, and a version per group bumped whenever its queue may have changed (the
    # dispatcher caches each group's queue by it: no scan of every job per reconcile).
    groups: dict[Group, dict[str, dict[str, Any]]] = field(default_factory=dict)
    group_versions: Counter[Group] = field(default_factory=Counter)
    _signatures: dict[str, tuple[Group, tuple[Any, ...]]] = field(default_factory=dict)

    def table(self, kind: str) -> dict[str, dict[str, Any]]:
        return {"QuantumJob": self.jobs, "QuantumWorkspace": self.workspaces, "Provider": self.providers}[kind]

    def put(self, kind: str, body: dict[str, Any]) -> None:
        """Keeps the newest version (watch events and our own write responses race)."""
        table = self.table(kind)
        key = key_of(body)
        current = table.get(key)
        replaced = current is None or current["metadata"].get("uid") != body["metadata"].get("uid")
        if replaced or _rv(body) >= _rv(current or body):
            table[key] = body
            if kind == "QuantumJob":
                job_id = (body["metadata"].get("labels") or {}).get(LABEL_JOB_ID)
                if job_id:
                    self.job_keys[job_id] = key
                self._index(key, body)

    def remove(self, kind: str, body: dict[str, Any]) -> None:
        table = self.table(kind)
        key = key_of(body)
        if key in table and table[key]["metadata"].get("uid") == body["metadata"].get("uid"):
            job_id = (table.pop(key)["metadata"].get("labels") or {}).get(LABEL_JOB_ID)
            self.job_keys.pop(job_id or "", None)
            if kind == "QuantumJob":
                self._index(key, None)

    def _index(self, key: str, body: dict[str, Any] | None) -> None:
        before = self._signatures.pop(key, None)
        if before is not None:
            self.groups.get(before[0], {}).pop(key, None)
        if body is None:
            if before is not None:
                self.group_versions[before[0]] += 1
            return
        group = group_of(body)
        self.groups.setdefault(group, {})[key] = body
        signature = queue_signature(body)
        self._signatures[key] = (group, signature)
        if before != (group, signature):
            self.group_versions[group] += 1
            if before is not None and before[0] != group:
                self.group_versions[before[0]] += 1

    def touch(self, key: str) -> None:
        """The job's slot changed outside its body (a solver Job created or gone): its queue may have moved."""
        known = self._signatures.get(key)
        if known is not None:
            self.group_versions[known[0]] += 1

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
                self.batch_jobs[job_id] = body
            if had != (job_id in self.batch_jobs) and job_id in self.job_keys:
                self.touch(self.job_keys[job_id])
        else:
            name = body["metadata"]["name"]
            if deleted:
                self.pods[job_id].pop(name, None)
                self.deleted_pods[job_id] += 1
            else:
                self.pods[job_id][name] = body
            if not self.pods[job_id]:
                self.pods.pop(job_id, None)
        return job_id

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
