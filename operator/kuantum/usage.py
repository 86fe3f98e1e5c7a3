"""Monthly usage of a provider's billing plan: one rule, read by quota enforcement and Provider.status.usage.

A job counts in the month it was submitted (its input accepted: inputDataUri), unless the plan refused it
(QuotaExceeded); its execution seconds count in the month its execution ended, as providers bill them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .timeutil import month_of


@dataclass(frozen=True)
class MonthlyUsage:
    month: str  # YYYY-MM (UTC)
    jobs: int
    execution_seconds: float


def monthly_usage(jobs: Iterable[dict[str, Any]], month: str, *, excluding_uid: str | None = None) -> MonthlyUsage:
    count, seconds = 0, 0.0
    for job in jobs:
        if excluding_uid is not None and job["metadata"].get("uid") == excluding_uid:
            continue
        status = job.get("status") or {}
        if (status.get("errorData") or {}).get("code") == "QuotaExceeded":
            continue
        created = status.get("creationTime")
        if created and month_of(created) == month and status.get("inputDataUri"):
            count += 1
        ended = status.get("endExecutionTime")
        if ended and month_of(ended) == month:
            seconds += float((status.get("usage") or {}).get("executionSeconds", 0) or 0)
    return MonthlyUsage(month, count, round(seconds, 3))


def plan_limits(provider: dict[str, Any]) -> dict[str, Any]:
    return dict(((provider.get("spec") or {}).get("billingPlan") or {}).get("limits") or {})


def jobs_quota_exceeded(limits: dict[str, Any], used: MonthlyUsage, provider: str) -> str | None:
    """Why the plan refuses one more job this month (maxJobsPerMonth), or None."""
    limit = limits.get("maxJobsPerMonth")
    if limit is None or used.jobs < int(limit):
        return None
    return f"the billing plan allows {limit} jobs per month for {provider}; {used.jobs} were submitted this month"


def seconds_quota_exceeded(limits: dict[str, Any], used: MonthlyUsage, provider: str) -> str | None:
    """Why the plan refuses to start a job (maxExecutionSecondsPerMonth used up), or None."""
    limit = limits.get("maxExecutionSecondsPerMonth")
    if limit is None or used.execution_seconds < float(limit):
        return None
    return (f"the billing plan allows {limit} execution seconds per month for {provider}; "
            f"{used.execution_seconds:.0f} were used this month")
