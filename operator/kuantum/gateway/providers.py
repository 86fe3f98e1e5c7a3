"""`providerStatus` and `quotas` from the workspace's Provider objects (their status and billing plans)."""

from __future__ import annotations

from typing import Any

from ..models.job import FINAL_STATES


def _ready(provider: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (provider.get("status") or {}).get("conditions") or [])


def _provider_id(provider: dict[str, Any]) -> str:
    return str((provider.get("status") or {}).get("providerId") or (provider.get("spec") or {}).get("providerId"))


def provider_status(providers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for provider in providers:
        targets = (provider.get("status") or {}).get("targets") or []
        ready = _ready(provider)
        states = [t.get("availability") or "Unavailable" for t in targets]
        overall = ("Unavailable" if not ready or not states or all(s == "Unavailable" for s in states)
                   else "Available" if all(s == "Available" for s in states) else "Degraded")
        out.append({"id": _provider_id(provider), "currentAvailability": overall, "targets": [
            {"id": t["id"], "currentAvailability": (t.get("availability") or "Unavailable") if ready else "Unavailable",
             # Kuantum keeps queue depths, not times; depth is the honest number it has (seconds unknown).
             "averageQueueTime": int(t.get("queueDepth") or 0)}
            for t in targets]})
    return out


def quotas(providers: list[dict[str, Any]], jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One quota per limit a billing plan sets (an unset limit is no quota)."""
    out: list[dict[str, Any]] = []
    for provider in providers:
        provider_id = _provider_id(provider)
        name = provider["metadata"]["name"]
        limits = (((provider.get("spec") or {}).get("billingPlan") or {}).get("limits") or {})
        usage = (provider.get("status") or {}).get("usage") or {}
        mine = [j for j in jobs if (j.get("spec") or {}).get("provider") in (provider_id, name)]
        executing = sum(1 for j in mine if (j.get("status") or {}).get("state") == "Executing")
        waiting = sum(1 for j in mine if (j.get("status") or {}).get("state") not in (*FINAL_STATES, "Executing"))
        for dimension, limit, used, holds, period in (
                ("jobs", limits.get("maxJobsPerMonth"), usage.get("jobs", 0), waiting, "Monthly"),
                ("executionSeconds", limits.get("maxExecutionSecondsPerMonth"), usage.get("executionSeconds", 0.0),
                 0.0, "Monthly"),
                ("concurrentJobs", limits.get("maxConcurrentJobs"), executing, waiting, "None")):
            if limit is not None:
                out.append({"dimension": dimension, "scope": "Workspace", "providerId": provider_id,
                            "utilization": float(used), "holds": float(holds), "limit": float(limit),
                            "period": period})
    return out
