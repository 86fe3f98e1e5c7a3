"""Which job holds a job id: ids are unique per workspace (case-insensitive, as Azure Quantum keeps them), and a
second job asking for an id in use fails with DuplicateJobId instead of sharing the first one's data. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from ..objects import JobObject

DUPLICATE_JOB_ID = "DuplicateJobId"


def _claim(job: JobObject) -> tuple[int, str, str]:
    """Who came first: a job that was given the id (status.id), then the oldest, then by name."""
    return (0 if job.status.id else 1, job.meta.created, job.meta.name)


def holder_of(same_id: Iterable[JobObject]) -> JobObject | None:
    """Of the jobs asking for one id, the one that holds it."""
    return min(same_id, key=_claim, default=None)


def id_holder(job: JobObject, same_id: Iterable[JobObject]) -> JobObject | None:
    """The other job that holds the job's id, or None when it is the job's own (or nobody else asks for it)."""
    rivals = [other for other in same_id if other.meta.uid != job.meta.uid]
    if not rivals:
        return None
    holder = min([job, *rivals], key=_claim)
    return None if holder is job else holder


def duplicate_message(job: JobObject, holder: JobObject) -> str:
    return (f"job id {job.job_id} is already used by QuantumJob {holder.meta.name} in workspace {job.workspace}; "
            "job ids are unique per workspace (case-insensitive): choose another spec.id")
