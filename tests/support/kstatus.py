"""kstatus's verdict for an object, ported to Python for tests.

The rules are those of sigs.k8s.io/cli-utils `pkg/kstatus/status` (`Compute` in status.go, the generic
checks in generic.go), which Flux, `kapply --wait` and cli-utils use to decide whether an applied object
is done. In order:

1. `metadata.deletionTimestamp` set -> Terminating.
2. `metadata.generation` present, `status.observedGeneration` present and different -> InProgress
   (reason LatestGenerationNotObserved). When either is absent the check is skipped.
3. The conditions in list order: the first `Reconciling=True` -> InProgress, the first `Stalled=True` ->
   Failed (whichever comes first in the list wins).
4. Built-in kinds have their own rules (Deployment, Job, ...); no custom resource does, so none apply here.
5. A `Ready` condition: True -> Current; False or Unknown -> InProgress (never Failed).
6. Otherwise Current: an object without any known condition is assumed done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

IN_PROGRESS, FAILED, CURRENT, TERMINATING = "InProgress", "Failed", "Current", "Terminating"

# Kinds with kind-specific rules in kstatus (core.go's legacyTypes); a custom resource is never one.
_LEGACY_KINDS = {
    "Service", "Pod", "Secret", "PersistentVolumeClaim", "ConfigMap", "apps/StatefulSet", "apps/DaemonSet",
    "extensions/DaemonSet", "apps/Deployment", "extensions/Deployment", "apps/ReplicaSet",
    "extensions/ReplicaSet", "policy/PodDisruptionBudget", "batch/CronJob", "batch/Job",
    "apiextensions.k8s.io/CustomResourceDefinition",
}


@dataclass(frozen=True)
class Result:
    status: str
    message: str
    reason: str = ""


def _group_kind(obj: dict[str, Any]) -> str:
    api_version = str(obj.get("apiVersion") or "")
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    kind = str(obj.get("kind") or "")
    return f"{group}/{kind}" if group else kind


def _conditions(obj: dict[str, Any]) -> list[dict[str, Any]]:
    status = obj.get("status")
    if not isinstance(status, dict):
        return []
    return [c for c in status.get("conditions") or [] if isinstance(c, dict)]


def _check_generation(obj: dict[str, Any]) -> Result | None:
    generation = (obj.get("metadata") or {}).get("generation")
    if generation is None:
        return None
    status = obj.get("status")
    observed = status.get("observedGeneration") if isinstance(status, dict) else None
    if observed is None or int(observed) == int(generation):
        return None
    message = f"{obj.get('kind')} generation is {generation}, but latest observed generation is {observed}"
    return Result(IN_PROGRESS, message, "LatestGenerationNotObserved")


def _check_generic(obj: dict[str, Any]) -> Result | None:
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return Result(TERMINATING, "Resource scheduled for deletion")
    result = _check_generation(obj)
    if result is not None:
        return result
    for cond in _conditions(obj):
        if cond.get("type") == "Reconciling" and cond.get("status") == "True":
            return Result(IN_PROGRESS, str(cond.get("message") or ""), str(cond.get("reason") or ""))
        if cond.get("type") == "Stalled" and cond.get("status") == "True":
            return Result(FAILED, str(cond.get("message") or ""), str(cond.get("reason") or ""))
    return None


def _check_ready(obj: dict[str, Any]) -> Result | None:
    for cond in _conditions(obj):
        if cond.get("type") != "Ready":
            continue
        if cond.get("status") == "True":
            return Result(CURRENT, "Resource is Ready")
        if cond.get("status") in ("False", "Unknown"):
            return Result(IN_PROGRESS, str(cond.get("message") or ""), str(cond.get("reason") or ""))
    return None


def compute(obj: dict[str, Any]) -> Result:
    """The kstatus verdict of obj (a whole object: apiVersion, kind, metadata, status)."""
    result = _check_generic(obj)
    if result is not None:
        return result
    if _group_kind(obj) in _LEGACY_KINDS:
        raise NotImplementedError(f"kstatus has kind-specific rules for {_group_kind(obj)}; not ported")
    result = _check_ready(obj)
    if result is not None:
        return result
    return Result(CURRENT, "Resource is current")
