"""The remote backends' one poll timer per provider, and their poll schedule."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from kuantum.execution.providers import backend as remote
from kuantum.execution.providers.poller import Poller
from kuantum.models import QuantumJobStatus
from kuantum.runtime.timeutil import format_time


async def test_due_jobs_are_woken_together_and_the_earliest_schedule_wins() -> None:
    woken: list[str] = []
    poller = Poller(woken.append)
    poller.schedule("a", 0.05)
    poller.schedule("b", 0.05)
    poller.schedule("c", 30.0)
    poller.schedule("c", 0.01)  # earlier wins
    poller.schedule("a", 30.0)  # later loses
    for _ in range(200):
        if len(woken) == 3:
            break
        await asyncio.sleep(0.01)
    assert sorted(woken) == ["a", "b", "c"]
    assert len(poller) == 0
    poller.schedule("d", 30.0)
    poller.forget("d")
    await asyncio.sleep(0.05)
    assert "d" not in woken
    await poller.aclose()


async def test_one_task_serves_every_job() -> None:
    poller = Poller(lambda key: None)
    for i in range(100):
        poller.schedule(f"job-{i}", 60.0)
    tasks = [t for t in asyncio.all_tasks() if t.get_name() == "kuantum-poller"]
    assert len(tasks) == 1
    await poller.aclose()


async def test_waiting_is_true_only_until_the_poll_is_due() -> None:
    poller = Poller(lambda key: None)
    assert not poller.waiting("a")
    poller.schedule("a", 30.0)
    poller.schedule("b", 0.0)
    assert poller.waiting("a") and not poller.waiting("b")
    poller.forget("a")
    assert not poller.waiting("a")
    await poller.aclose()


def _polls(job_seconds: float, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Seconds after the submit at which a job is polled, up to (and including) the poll that sees it done."""
    submitted = datetime(2026, 1, 1, tzinfo=UTC)
    status = QuantumJobStatus.model_validate({"providerSubmitTime": format_time(submitted)})
    t, polls = 0.0, []
    while not polls or polls[-1] < job_seconds:
        monkeypatch.setattr(remote, "now_iso", lambda t=t: format_time(submitted + timedelta(seconds=t)))
        t += remote.poll_interval(status)
        polls.append(t)
    return polls


def test_a_job_done_in_ten_seconds_is_polled_three_times(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _polls(10.0, monkeypatch) == [3.0, 6.0, 12.0]  # + submit + results: 6 requests (IonQ v0.4: 2)


def test_a_fast_job_is_seen_done_3_s_after_the_submit(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _polls(1.0, monkeypatch) == [3.0]


def test_long_jobs_back_off_to_a_poll_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    polls = _polls(3600.0, monkeypatch)
    assert polls[:6] == [3.0, 6.0, 12.0, 24.0, 48.0, 96.0]
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert max(gaps) == 60.0 and gaps[-1] == 60.0
    assert len(polls) < 70  # an hour costs about one poll a minute
