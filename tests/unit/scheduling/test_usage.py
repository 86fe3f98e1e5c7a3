"""Monthly usage: the one rule quota enforcement and Provider.status.usage share."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from kuantum.models.provider import PlanLimits
from kuantum.objects import JobObject, ProviderObject, parse_job, parse_provider
from kuantum.scheduling.usage import (
    MonthlyUsage,
    jobs_quota_exceeded,
    monthly_usage,
    plan_limits,
    seconds_quota_exceeded,
)


def _job(uid: str, **status: Any) -> JobObject:
    return parse_job({"metadata": {"uid": uid, "namespace": "ns", "name": uid}, "status": status})


def test_jobs_count_by_submission_month_and_seconds_by_end_month() -> None:
    jobs = [
        _job("a", creationTime="2026-11-30T23:59:00Z", inputDataUri="u", endExecutionTime="2026-12-01T00:01:00Z",
             usage={"executionSeconds": 120.0}),
        _job("b", creationTime="2026-12-02T00:00:00Z", inputDataUri="u", endExecutionTime="2026-12-02T00:00:05Z",
             usage={"executionSeconds": 5.0}),
        _job("c", creationTime="2026-12-03T00:00:00Z"),  # input never accepted: not submitted
        _job("d", creationTime="2026-12-03T00:00:00Z", inputDataUri="u",
             errorData={"code": "QuotaExceeded", "message": "m"}),  # refused by the plan
    ]
    november, december = monthly_usage(jobs, "2026-11"), monthly_usage(jobs, "2026-12")
    assert (november.jobs, november.execution_seconds) == (1, 0.0)
    assert (december.jobs, december.execution_seconds) == (1, 125.0)
    assert monthly_usage(jobs, "2026-12", excluding_uid="b").jobs == 0


def test_usage_of_a_job_without_seconds_or_with_odd_values() -> None:
    jobs = [
        _job("a", creationTime="2026-12-01T00:00:00Z", inputDataUri="u", endExecutionTime="2026-12-01T00:00:01Z"),
        _job("b", creationTime="2026-12-01T00:00:00Z", inputDataUri="u", endExecutionTime="2026-12-01T00:00:01Z",
             usage={"executionSeconds": None}),
        _job("c", creationTime="2026-12-01T00:00:00Z", inputDataUri="u", endExecutionTime="2026-12-01T00:00:01Z",
             usage={"executionSeconds": 0.0004}),
        _job("d", creationTime="2026-12-01T00:00:00Z", inputDataUri="u", endExecutionTime="2026-12-01T00:00:01Z",
             usage={"executionSeconds": 1.2345}, errorData={"code": "Other", "message": "m"}),  # failed: counts
    ]
    assert monthly_usage(jobs, "2026-12") == MonthlyUsage("2026-12", 4, 1.235)
    assert monthly_usage(jobs, "2026-12", excluding_uid=None).jobs == 4


def _provider(limits: dict[str, Any] | None) -> ProviderObject:
    spec: dict[str, Any] = {"workspace": "ws", "providerId": "microsoft-qio"}
    if limits is not None:
        spec["billingPlan"] = {"limits": limits}
    return parse_provider({"metadata": {"name": "p", "namespace": "ns", "uid": "u"}, "spec": spec})


def test_plan_limits_unset_mean_unlimited() -> None:
    assert plan_limits(_provider(None)) == PlanLimits()
    assert plan_limits(_provider({"maxJobsPerMonth": 3})).maxJobsPerMonth == 3
    broken = parse_provider({"metadata": {"name": "p", "namespace": "ns", "uid": "u"}, "spec": {"workspace": ""}})
    assert broken.spec is None and plan_limits(broken) == PlanLimits()
    used = MonthlyUsage("2026-12", 10**6, 10.0**9)
    assert jobs_quota_exceeded(PlanLimits(), used, "p") is None
    assert seconds_quota_exceeded(PlanLimits(), used, "p") is None


@pytest.mark.parametrize(("limit", "submitted", "refused"), [(3, 2, False), (3, 3, True), (3, 4, True),
                                                              (0, 0, True)])
def test_job_quota_refuses_at_the_limit(limit: int, submitted: int, refused: bool) -> None:
    why = jobs_quota_exceeded(PlanLimits(maxJobsPerMonth=limit), MonthlyUsage("2026-12", submitted, 0.0), "ionq")
    if not refused:
        assert why is None
    else:
        assert why == (f"the billing plan allows {limit} jobs per month for ionq; "
                       f"{submitted} were submitted this month")


@pytest.mark.parametrize(("limit", "used", "refused"), [(60, 59.5, False), (60, 60.0, True), (60, 61.4, True),
                                                         (0, 0.0, True)])
def test_seconds_quota_refuses_once_used_up(limit: int, used: float, refused: bool) -> None:
    why = seconds_quota_exceeded(PlanLimits(maxExecutionSecondsPerMonth=limit), MonthlyUsage("2026-12", 0, used),
                                 "ionq")
    if not refused:
        assert why is None
    else:
        assert why == (f"the billing plan allows {limit} execution seconds per month for ionq; "
                       f"{used:.0f} were used this month")


def test_each_job_counts_on_its_own() -> None:
    """Exclusions skip one job, never the rest; codes compare as read from JSON (not interned)."""
    quota = "".join(["Quota", "Exceeded"])
    jobs = [
        _job("q", creationTime="2026-12-01T00:00:00Z", inputDataUri="u", errorData={"code": quota, "message": "m"}),
        _job("a", creationTime="2026-12-01T00:00:00Z", inputDataUri="u", endExecutionTime="2026-12-01T00:00:09Z",
             usage={"executionSeconds": 9.0}),
        _job("s", creationTime="2026-12-01T00:00:00Z", inputDataUri="u", endExecutionTime="2026-12-01T00:00:02Z",
             usage={"executionSeconds": 2.0}, errorData={"code": "SolverError", "message": "m"}),
        _job("n", creationTime="2026-11-01T00:00:00Z", inputDataUri="u", endExecutionTime="2026-11-01T00:00:04Z",
             usage={"executionSeconds": 4.0}),
    ]
    assert monthly_usage(jobs, "2026-12") == MonthlyUsage("2026-12", 2, 11.0)
    assert monthly_usage(jobs, "2026-12", excluding_uid="a") == MonthlyUsage("2026-12", 1, 2.0)
    assert monthly_usage(jobs, "2026-11", excluding_uid="a") == MonthlyUsage("2026-11", 1, 4.0)


def test_a_usage_is_a_value() -> None:
    used = MonthlyUsage("2026-12", 1, 2.0)
    assert {used: "x"}[MonthlyUsage("2026-12", 1, 2.0)] == "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        used.jobs = 2
