"""Monthly usage: the one rule quota enforcement and Provider.status.usage share."""

from __future__ import annotations

from typing import Any

from kuantum.objects import JobObject, parse_job
from kuantum.usage import monthly_usage


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
