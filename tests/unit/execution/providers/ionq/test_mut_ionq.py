"""IonQApi's edges against a scripted transport (no fake server): cases mutation testing found unasserted.

Recovery by name when IonQ dropped a job's metadata, not_before in any zone, a failure without a message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from kuantum.execution.providers.api import ProviderUnavailable, RemoteState, RequestRejected
from kuantum.execution.providers.ionq.api import IonQApi

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


async def test_cancel_refused_with_409_for_a_finished_job_is_done() -> None:
    for status, job_state, refused in ((409, "completed", False), (409, "running", True), (400, "canceled", False),
                                       (422, "failed", False)):
        def handler(request: httpx.Request, status: int = status, job_state: str = job_state) -> httpx.Response:
            if request.method == "PUT":
                return httpx.Response(status, json={"error": "Conflict", "message": "job cannot be canceled"})
            return httpx.Response(200, json={"id": "j", "status": job_state})

        async with IonQApi("http://ionq.test/v0.4", KEY, transport=httpx.MockTransport(handler)) as api:
            if refused:
                with pytest.raises(RequestRejected):
                    await api.cancel("j")
            else:
                await api.cancel("j")


async def test_a_backend_flagged_degraded_is_degraded_only_when_it_is_up() -> None:
    backends = [{"backend": "qpu.aria-1", "status": "available", "degraded": True},
                {"backend": "qpu.forte-1", "status": "unavailable", "degraded": True},
                {"backend": "qpu.old", "status": "retired", "degraded": True},
                {"backend": "simulator", "status": "available", "degraded": False}]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=backends)

    async with IonQApi("http://ionq.test/v0.4", KEY, transport=httpx.MockTransport(handler)) as api:
        assert await api.availability() == {"ionq.qpu.aria-1": "Degraded", "ionq.qpu.forte-1": "Unavailable",
                                            "ionq.qpu.old": "Unavailable", "ionq.simulator": "Available"}


async def test_creation_times_without_a_zone_are_utc_and_others_converted() -> None:
    jobs = [_job("a", "n", submitted_at="2026-11-28T10:00:00"),
            _job("b", "n", submitted_at="2026-11-28T12:00:00+02:00")]
    async with _api(jobs) as api:
        for job_id in ("a", "b"):
            assert (await api.get(job_id)).created == datetime(2026, 11, 28, 10, tzinfo=UTC)


async def test_an_unreadable_answer_is_quoted_in_full_when_short_and_cut_when_long() -> None:
    for answer, quoted in ((["x"], "['x']"), (["x" * 196], repr(["x" * 196])),  # 200 characters: in full
                           (["x" * 197], repr(["x" * 197])[:200] + "...")):
        def handler(request: httpx.Request, answer: Any = answer) -> httpx.Response:
            return httpx.Response(200, json=answer)

        async with IonQApi("http://ionq.test/v0.4", KEY, transport=httpx.MockTransport(handler)) as api:
            with pytest.raises(ProviderUnavailable) as info:
                await api.get("j")
            assert info.value.message.endswith(f": {quoted}")
