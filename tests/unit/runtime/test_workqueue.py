"""The keyed work queue: no concurrent processing of a key, re-adds, retries with backoff, stop().

Its lanes (bursts, tenants, urgent keys, reserved workers) are in test_workqueue_lanes.py."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
from kuantum.runtime.workqueue import WorkQueue

from tests.support.waiting import WAIT, settle, until


async def test_processes_every_added_key_once() -> None:
    seen: Counter[str] = Counter()

    async def handler(key: str) -> None:
        seen[key] += 1

    q = WorkQueue(handler, workers=3, base_delay=0.001)
    for key in ("a", "b", "c"):
        q.add(key)
    q.start()
    await until(lambda: sum(seen.values()) == 3)
    await settle()
    assert seen == Counter({"a": 1, "b": 1, "c": 1})
    await q.stop()


async def test_adding_a_queued_key_twice_processes_it_once() -> None:
    seen: list[str] = []

    async def handler(key: str) -> None:
        seen.append(key)

    q = WorkQueue(handler, workers=2)
    q.add("a")
    q.add("a")
    q.add("a")
    assert len(q) == 1
    q.start()
    await until(lambda: seen == ["a"])
    await settle()
    assert seen == ["a"]
    await q.stop()


async def test_a_key_is_never_processed_concurrently_and_readds_run_once_more() -> None:
    active: Counter[str] = Counter()
    max_active: Counter[str] = Counter()
    runs: Counter[str] = Counter()
    gate = asyncio.Event()
    entered = asyncio.Event()

    async def handler(key: str) -> None:
        active[key] += 1
        max_active[key] = max(max_active[key], active[key])
        runs[key] += 1
        if runs[key] == 1:
            entered.set()
            await gate.wait()
        active[key] -= 1

    q = WorkQueue(handler, workers=4)
    q.start()
    q.add("k")
    await asyncio.wait_for(entered.wait(), WAIT)
    # re-added (several times) while being processed: other idle workers must not pick it up
    for _ in range(5):
        q.add("k")
    await settle()
    assert runs["k"] == 1
    gate.set()
    await until(lambda: runs["k"] == 2)
    await settle()
    assert runs["k"] == 2, "a key re-added during processing runs again exactly once"
    assert max_active["k"] == 1
    await q.stop()


async def test_different_keys_run_in_parallel() -> None:
    both = asyncio.Event()
    started: set[str] = set()

    async def handler(key: str) -> None:
        started.add(key)
        if len(started) == 2:
            both.set()
        await both.wait()  # only returns when the other key is being processed at the same time

    q = WorkQueue(handler, workers=2)
    q.start()
    q.add("a")
    q.add("b")
    await asyncio.wait_for(both.wait(), WAIT)
    await q.stop()


async def test_failures_retry_with_backoff_until_success() -> None:
    attempts: list[str] = []
    delays: list[float] = []
    done = asyncio.Event()

    async def handler(key: str) -> None:
        attempts.append(key)
        if len(attempts) < 4:
            raise RuntimeError("boom")
        done.set()

    q = WorkQueue(handler, workers=1, base_delay=0.001, max_delay=0.004)
    original: Callable[[str, float], None] = q.add_after

    def spy(key: str, delay: float) -> None:
        delays.append(delay)
        original(key, delay)

    q.add_after = spy
    q.start()
    q.add("k")
    await asyncio.wait_for(done.wait(), WAIT)
    await settle()
    assert attempts == ["k"] * 4
    assert delays == [0.001, 0.002, 0.004]  # doubling, capped at max_delay
    assert q._failures == {}  # success resets the backoff
    await q.stop()


async def test_backoff_is_capped() -> None:
    delays: list[float] = []
    failing = asyncio.Event()

    async def handler(key: str) -> None:
        raise RuntimeError("always")

    q = WorkQueue(handler, workers=1, base_delay=0.001, max_delay=0.002)

    def spy(key: str, delay: float) -> None:
        delays.append(delay)
        if len(delays) >= 6:
            failing.set()
        else:
            asyncio.get_running_loop().call_later(0, q.add, key)

    q.add_after = spy
    q.start()
    q.add("k")
    await asyncio.wait_for(failing.wait(), WAIT)
    assert delays == [0.001, 0.002, 0.002, 0.002, 0.002, 0.002]
    await q.stop()


async def test_failures_of_one_key_do_not_block_others() -> None:
    ok = asyncio.Event()

    async def handler(key: str) -> None:
        if key == "bad":
            raise ValueError("bad")
        ok.set()

    q = WorkQueue(handler, workers=1, base_delay=0.001)
    q.start()
    q.add("bad")
    q.add("good")
    await asyncio.wait_for(ok.wait(), WAIT)
    await q.stop()


async def test_add_after_keeps_the_earlier_timer() -> None:
    seen: list[str] = []

    async def handler(key: str) -> None:
        seen.append(key)

    q = WorkQueue(handler, workers=1)
    q.start()
    q.add_after("k", 0.001)
    q.add_after("k", 3600)  # later: ignored, the earlier timer wins
    await until(lambda: seen == ["k"])
    q.add_after("j", 3600)
    q.add_after("j", 0.001)  # earlier: replaces the later timer
    await until(lambda: seen == ["k", "j"])
    await q.stop()


async def test_stop_cancels_workers_and_timers() -> None:
    cancelled = asyncio.Event()
    entered = asyncio.Event()
    ran: list[str] = []

    async def handler(key: str) -> None:
        ran.append(key)
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    q = WorkQueue(handler, workers=2)
    q.start()
    q.add("busy")
    await asyncio.wait_for(entered.wait(), WAIT)
    q.add_after("later", 0.001)
    await asyncio.wait_for(q.stop(), WAIT)
    assert cancelled.is_set()
    assert all(t.done() for t in q._tasks)
    await asyncio.sleep(0.01)
    assert ran == ["busy"]


async def test_stop_returns_even_when_the_handler_swallows_the_cancellation() -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    async def handler(key: str) -> None:
        entered.set()
        await asyncio.wait_for(release.wait(), WAIT)

    q = WorkQueue(handler, workers=1)
    q.start()
    q.add("k")
    await asyncio.wait_for(entered.wait(), WAIT)
    release.set()  # the handler's wait completes in the same loop iteration as stop() cancels it
    try:
        await asyncio.wait_for(q.stop(), 2.0)
    finally:
        for task in q._tasks:
            task.cancel()


async def test_stop_without_start_is_fine() -> None:
    seen: list[str] = []

    async def handler(key: str) -> None:
        seen.append(key)

    q = WorkQueue(handler)
    q.add("now")
    q.add_after("later", 0.001)
    timer = q._timers["later"]
    await asyncio.wait_for(q.stop(), WAIT)  # returns although no worker ever ran
    assert timer.cancelled()  # a pending retry does not fire after stop()
    await asyncio.sleep(0.01)
    assert len(q) == 1  # "now" stays queued: nothing processed it, nothing dropped it
    assert seen == []


def _make(handler: Callable[[str], Awaitable[None]]) -> WorkQueue:
    return WorkQueue(handler, workers=1)


@pytest.mark.parametrize("n", [1, 7])
async def test_len_counts_queued_keys(n: int) -> None:
    async def handler(key: str) -> None:
        return None

    q = _make(handler)
    for i in range(n):
        q.add(f"k{i}")
    assert len(q) == n
    await q.stop()


async def test_a_lost_race_runs_again_without_an_error_line(caplog: pytest.LogCaptureFixture) -> None:
    from kuantum.runtime.workqueue import HandlerError, Requeue

    calls: list[str] = []
    done = asyncio.Event()

    async def handler(key: str) -> None:
        calls.append(key)
        if len(calls) == 1:
            raise Requeue("lost a race")
        if len(calls) == 2:
            raise HandlerError("API server answered 500: boom")
        done.set()

    queue = WorkQueue(handler, workers=1, base_delay=0.01)
    queue.start()
    queue.add("a")
    await asyncio.wait_for(done.wait(), 10)
    await queue.stop()
    assert calls == ["a", "a", "a"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "boom" in errors[0].getMessage() and not errors[0].exc_info
