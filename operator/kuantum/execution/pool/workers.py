"""A pool's worker pods as the operator reads them: pure functions of the pod object the watch delivers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kuantum_solvers.formats import worker as wire

from . import builders


@dataclass(frozen=True)
class Assignment:
    """Which worker runs a job's run, and what the operator knew of it then."""

    pool: str
    namespace: str
    worker: str  # the pod's name
    started_at: float
    restarts: int  # the worker container's restarts when the run began: more later means it died meanwhile
    memory: str


@dataclass(frozen=True)
class Lost:
    """A run that ended without the worker saying how: the worker died or forgot it."""

    code: str
    message: str


def container_status(pod: dict[str, Any]) -> dict[str, Any]:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == builders.CONTAINER:
            return dict(status)
    return {}


def ready(pod: dict[str, Any]) -> bool:
    """Running, its readiness probe passed (engines warm), not being deleted, with an address."""
    if not running(pod):
        return False
    status = pod.get("status") or {}
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def running(pod: dict[str, Any]) -> bool:
    """Running with an address and not being deleted, ready or not: it may run a job (under load a busy worker can
    fail its readiness probe)."""
    status = pod.get("status") or {}
    return not pod["metadata"].get("deletionTimestamp") and status.get("phase") == "Running" \
        and bool(status.get("podIP"))


def address(pod: dict[str, Any]) -> str:
    """host:port of the worker: the pod's IP and its container's `runs` port."""
    port = wire.PORT
    for container in (pod.get("spec") or {}).get("containers") or []:
        for item in container.get("ports") or []:
            if item.get("name") == "runs":
                port = int(item["containerPort"])
    return f"{pod['status']['podIP']}:{port}"


def run_lost(assignment: Assignment, pod: dict[str, Any] | None) -> Lost | None:
    """Whether the worker died or went since it took the run (its run died with it)."""
    if pod is None or pod["metadata"].get("deletionTimestamp"):
        return Lost("PodDeleted", f"the solver worker {assignment.worker} running the job was deleted")
    status = container_status(pod)
    if int(status.get("restartCount") or 0) <= assignment.restarts:
        return None
    terminated = (status.get("lastState") or {}).get("terminated") or {}
    if terminated.get("reason") == "OOMKilled":
        return Lost("OutOfMemory", f"the kernel killed the solver worker running the job at its memory limit of "
                                   f"{assignment.memory} (OOMKilled); give the target more memory (the Provider's "
                                   "spec.targets[].memory) or submit a smaller problem")
    return Lost("ExecutionLost", f"the solver worker {assignment.worker} running the job restarted (exit code "
                                 f"{terminated.get('exitCode')})")
