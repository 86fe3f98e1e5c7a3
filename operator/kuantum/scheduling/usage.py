"""Monthly usage of a provider's billing plan: one rule, read by quota enforcement and Provider.status.usage.

A job counts in the month it was submitted (its input accepted: inputDataUri), unless the plan refused it
(QuotaExceeded); its execution seconds count in the month its execution ended, as providers bill them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..models.provider import PlanLimits
from ..objects import JobObject, ProviderObject
from ..runtime.timeutil import month_of


@dataclass(frozen=True)
class MonthlyUsage:
    month: str  # YYYY-MM (UTC)
    jobs: int
    execution_seconds: float


def monthly_usage(jobs: Iterable[JobObject], month: str, *, excluding_uid: str | None = None) -> MonthlyUsage:
    count, seconds = 0, 0.0
    for job in jobs:
        if excluding_uid is not None and job.meta.uid == excluding_uid:
            continue
        status = job.status
        if status.errorData is not None and status.errorData.code == "QuotaExceeded":
            continue
        if status.creationTime and month_of(status.creationTime) == month and status.inputDataUri:
            count += 1
        if status.endExecutionTime and month_of(status.endExecutionTime) == month:
            seconds += float((status.usage or {}).get("executionSeconds", 0) or 0)
    return MonthlyUsage(month, count, round(seconds, 3))


def plan_limits(provider: ProviderObject) -> PlanLimits:
    return provider.spec.billingPlan.limits if provider.spec is not None else PlanLimits()


def jobs_quota_exceeded(limits: PlanLimits, used: MonthlyUsage, provider: str) -> str | None:
    """Why the plan refuses one more job this month (maxJobsPerMonth), or None."""
    limit = limits.maxJobsPerMonth
    if limit is None or used.jobs < int(limit):
        return None
    return f"the billing plan allows {limit} jobs per month for {provider}; {used.jobs} were submitted this month"


def seconds_quota_exceeded(limits: PlanLimits, used: MonthlyUsage, provider: str) -> str | None:
    """Why the plan refuses to start a job (maxExecutionSecondsPerMonth used up), or None."""
    limit = limits.maxExecutionSecondsPerMonth
    if limit is None or used.execution_seconds < float(limit):
        return None
    return (f"the billing plan allows {limit} execution seconds per month for {provider}; "
            f"{used.execution_seconds:.0f} were used this month")
