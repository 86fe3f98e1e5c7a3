"""What the operator has seen of the cluster, fed by Kopf's watch events.

All truth lives in the API server; this is a cache of it, rebuilt from the initial listing after a
restart. It also remembers the operator's own recent writes so a reconcile never acts on a body
older than what it just wrote.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .models.common import LABEL_JOB_ID


def key_of(body: dict[str, Any]) -> str:
    return f"{body['metadata']['namespace']}/{body['metadata']['name']}"


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
            job_id = (body["metadata"].get("labels") or {}).get(LABEL_JOB_ID)
            if kind == "QuantumJob" and job_id:
                self.job_keys[job_id] = key

    def remove(self, kind: str, body: dict[str, Any]) -> None:
        table = self.table(kind)
        key = key_of(body)
        if key in table and table[key]["metadata"].get("uid") == body["metadata"].get("uid"):
            job_id = (table.pop(key)["metadata"].get("labels") or {}).get(LABEL_JOB_ID)
            self.job_keys.pop(job_id or "", None)

    def put_child(self, kind: str, body: dict[str, Any], deleted: bool) -> str | None:
        """Records a batch Job or Pod of a job; returns the job id it belongs to."""
        job_id = (body["metadata"].get("labels") or {}).get(LABEL_JOB_ID)
        if not job_id:
            return None
        if kind == "Job":
            if deleted:
                self.batch_jobs.pop(job_id, None)
            else:
                self.batch_jobs[job_id] = body
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
        self.batch_jobs.pop(job_id, None)
        self.pods.pop(job_id, None)
        self.deleted_pods.pop(job_id, None)
