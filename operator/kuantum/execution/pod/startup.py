"""Why a launched job's solver pod has not started: read from the pod as the scheduler and the kubelet report it.

A pod the scheduler cannot place, or whose image the node cannot pull, stays Pending for ever; its job would sit
in Waiting with nothing saying why. These reasons become the job's Queued condition (and an Event); image
problems that never resolve themselves fail the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...runtime.timeutil import seconds_between

# Errors the kubelet keeps retrying (a registry down, pull credentials not yet there): they fail the job once the
# pod has been Pending this long. Errors no retry cures fail it at once.
START_RETRY_SECONDS = 300.0
RETRIED_IMAGE_ERRORS = frozenset({"ErrImagePull", "ImagePullBackOff", "RegistryUnavailable"})
PERMANENT_IMAGE_ERRORS = frozenset({"InvalidImageName", "ErrImageNeverPull"})
CONTAINER_ERRORS = frozenset({"CreateContainerConfigError", "CreateContainerError", "RunContainerError"})
# The reasons this module writes into the Queued condition: when none applies any more, the condition is reset.
REASONS = RETRIED_IMAGE_ERRORS | PERMANENT_IMAGE_ERRORS | CONTAINER_ERRORS | {"Unschedulable", "OOMKilled",
                                                                              "CrashLoopBackOff"}


@dataclass(frozen=True)
class StartProblem:
    """What keeps the pod from starting; fail_after: seconds until the job fails for it (0: now, None: never,
    it waits as long as the pod does, bounded by the job's timeoutSeconds)."""

    reason: str
    message: str
    fail_after: float | None
    error_code: str | None = None  # the job's error code, where the reason does not tell it

    @property
    def code(self) -> str:
        """The job's error code when it fails for this problem."""
        if self.error_code:
            return self.error_code
        return "SolverImageUnavailable" if self.reason in RETRIED_IMAGE_ERRORS | PERMANENT_IMAGE_ERRORS \
            else "SolverPodNotStarted"


def start_problem(pod: dict[str, Any], now: str) -> StartProblem | None:
    """The problem of a Pending pod, or None where it is just on its way (scheduled, pulling, creating)."""
    status = pod.get("status") or {}
    if status.get("phase") != "Pending":
        return None
    image = _image(pod)
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason, detail = str(waiting.get("reason") or ""), " ".join(str(waiting.get("message") or "").split())
        if reason in PERMANENT_IMAGE_ERRORS:
            return StartProblem(reason, f"the node cannot pull the solver image {image}: {detail or reason}", 0.0)
        if reason in RETRIED_IMAGE_ERRORS:
            return StartProblem(reason, f"the node cannot pull the solver image {image} ({reason}): "
                                        f"{detail or 'no detail given'}; the job fails if it cannot within "
                                        f"{START_RETRY_SECONDS:.0f}s", _left(pod, now))
        if reason in CONTAINER_ERRORS:
            return StartProblem(reason, f"the node cannot start the solver container ({reason}): "
                                        f"{detail or 'no detail given'}", _left(pod, now))
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False" \
                and condition.get("reason") == "Unschedulable":
            detail = " ".join(str(condition.get("message") or "").split())
            return StartProblem("Unschedulable", f"no node can run the solver pod yet: {detail}; it waits until "
                                                 "one can (the target's cpu and memory are set on the Provider's "
                                                 "spec.targets[])", None)
    return None


def _image(pod: dict[str, Any]) -> str:
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    return str(containers[0].get("image") or "(unknown)")


def _left(pod: dict[str, Any], now: str) -> float:
    created = (pod.get("metadata") or {}).get("creationTimestamp")
    waited = seconds_between(created, now) if created else 0.0
    return max(0.0, START_RETRY_SECONDS - waited)
