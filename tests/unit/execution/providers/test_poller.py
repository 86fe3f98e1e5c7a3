"""The remote backends' poll schedule: when each job's next status poll is due."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from kuantum.execution.providers import backend as remote
from kuantum.execution.providers.poller import Poller
from kuantum.models import QuantumJobStatus
from kuantum.runtime.timeutil import format_time


def test_the_earliest_schedule_wins_and_each_schedule_says_when_its_poll_is_due() -> None:
    poller = Poller()
    assert poller.schedule("a", 0.05) == pytest.approx(0.05, abs=0.01)
    poller.schedule("b", 0.05)
    poller.schedule("c", 30.0)
    assert poller.schedule("c", 0.01) == pytest.approx(0.01, abs=0.01)  # earlier wins
    assert poller.schedule("a", 30.0) == pytest.approx(0.05, abs=0.01)  # later loses: the earlier poll stands
    assert len(poller) == 3
    poller.forget("a")
    assert poller.due_in("a") is None and len(poller) == 2


def test_a_poll_already_due_is_replaced_by_the_next_schedule() -> None:
    poller = Poller()
    poller.schedule("a", 0.0)
    assert poller.due_in("a") == 0.0
    assert poller.schedule("a", 30.0) == pytest.approx(30.0, abs=0.1)


async def test_polls_hold_no_task_the_work_queue_looks_again() -> None:
    """A thousand remote jobs cost a thousand due times; the Observation's recheck_after hands each to the
    work queue's timers."""
    before = len(asyncio.all_tasks())
    poller = Poller()
    for i in range(100):
        poller.schedule(f"job-{i}", 60.0)
    assert len(asyncio.all_tasks()) == before


def test_waiting_is_true_only_until_the_poll_is_due() -> None:
    poller = Poller()
    assert not poller.waiting("a")
    poller.schedule("a", 30.0)
    poller.schedule("b", 0.0)
    assert poller.waiting("a") and not poller.waiting("b")
    poller.forget("a")
    assert not poller.waiting("a")


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
