"""IonQApi's edges against a scripted transport (no fake server): cases mutation testing found unasserted.

Recovery by name when IonQ dropped a job's metadata, not_before in any zone, a failure without a message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from kuantum.remote.base import RemoteState
from kuantum.remote.ionq import IonQApi

KEY = "ionq-test-key-0123456789"
CREATED = "2026-11-28T10:00:00Z"


def _api(jobs: list[dict[str, Any]]) -> IonQApi:
    """An API whose GET /jobs lists `jobs` (one page) and GET /jobs/{id} answers each of them."""
    by_id = {job["id"]: job for job in jobs}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v0.4/")
        if path == "jobs":
            return httpx.Response(200, json={"jobs": jobs})
        job = by_id.get(path.removeprefix("jobs/"))
        return httpx.Response(200, json=job) if job else httpx.Response(404, json={"error": "Not Found"})

    return IonQApi("http://ionq.test/v0.4", KEY, transport=httpx.MockTransport(handler), max_attempts=1)


def _job(job_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": job_id, "status": "completed", "name": name, "submitted_at": CREATED, **extra}


async def test_a_job_without_metadata_is_found_by_a_name_ending_in_its_marker() -> None:
    jobs = [_job("a", "qjob-kj-12"), _job("b", "xkj-1"), _job("c", "qjob-kj-1"), _job("d", "kj-1")]
    async with _api(jobs) as api:
        found = await api.find("kj-1", datetime(2026, 11, 28, 9, tzinfo=UTC))
        assert found is not None and found.id == "c"
    async with _api([jobs[0], jobs[1], jobs[3]]) as api:
        found = await api.find("kj-1", datetime(2026, 11, 28, 9, tzinfo=UTC))
        assert found is not None and found.id == "d"
    async with _api(jobs[:2]) as api:
        assert await api.find("kj-1", datetime(2026, 11, 28, 9, tzinfo=UTC)) is None


async def test_not_before_without_a_zone_is_utc_and_other_zones_are_converted() -> None:
    jobs = [_job("a", "qjob-kj-1", metadata={"kuantum_job_id": "kj-1"})]
    async with _api(jobs) as api:
        # 30 s before the job was made, written three ways; the job is found each time.
        naive = datetime(2026, 11, 28, 9, 59, 30)
        assert await api.find("kj-1", naive) is not None
        plus_two = datetime(2026, 11, 28, 11, 59, 30, tzinfo=timezone(timedelta(hours=2)))
        assert await api.find("kj-1", plus_two) is not None
        # 30 s after, in the +02:00 zone: the job is older than that, not this one's.
        later = datetime(2026, 11, 28, 12, 0, 30, tzinfo=timezone(timedelta(hours=2)))
        assert await api.find("kj-1", later) is None


async def test_a_failure_without_a_message_has_a_readable_one() -> None:
    jobs: list[dict[str, Any]] = [{"id": "f", "status": "failed", "failure": {"code": "Timeout"}},
            {"id": "g", "status": "failed", "failure": {}},
            {"id": "h", "status": "failed"}]
    async with _api(jobs) as api:
        failed = await api.get("f")
        assert failed.state is RemoteState.FAILED
        assert (failed.failure_code, failed.failure_message) == ("Timeout", "IonQ reported the job as failed")
        empty = await api.get("g")
        assert (empty.failure_code, empty.failure_message) == ("IonQJobFailed", "IonQ reported the job as failed")
        bare = await api.get("h")
        assert (bare.failure_code, bare.failure_message) == (
            "IonQJobFailed", "IonQ reported the job as failed without a reason")
