"""The keyed work queue: no concurrent processing of a key, re-adds, retries with backoff, stop()."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
from kuantum.workqueue import WorkQueue

WAIT = 10.0  # generous upper bound so a broken queue fails instead of hanging; never a timing assertion


async def until(predicate: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.001)
    await asyncio.wait_for(poll(), WAIT)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


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
    from kuantum.workqueue import HandlerError, Requeue

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


async def test_a_burst_of_adds_waits_behind_keys_added_one_by_one() -> None:
    """A resync enqueues every job in one loop step: a key added alone later (a freed slot's next job) runs
    before the rest of that burst, not after it."""
    from kuantum.workqueue import BURST, SLOW_SHARE

    order: list[str] = []

    async def handler(key: str) -> None:
        order.append(key)

    q = WorkQueue(handler, workers=1)
    burst = [f"resync-{i}" for i in range(BURST + 500)]
    for key in burst:  # one step of the loop
        q.add(key)
    await asyncio.sleep(0)
    q.add("kicked")
    q.add(burst[-1])  # added alone while it waits in the background lane: moves to the front lane
    assert len(q) == len(burst) + 1
    q.start()
    await until(lambda: len(order) == len(burst) + 1)
    await settle()
    assert sorted(order) == sorted([*burst, "kicked"]), "every key once"
    # After the burst's first BURST keys (the front lane), with one pick in SLOW_SHARE from the background lane
    kicked = order.index("kicked")
    assert kicked == BURST + kicked // SLOW_SHARE, order[:kicked + 2]
    assert order[kicked + 1] == burst[-1]
    background = [k for k in order if k in burst[BURST:-1]]
    assert background == burst[BURST:-1], "the background lane keeps its order"
    await q.stop()


async def test_the_background_lane_is_served_while_the_front_lane_stays_busy() -> None:
    from kuantum.workqueue import BURST, SLOW_SHARE

    order: list[str] = []
    q: WorkQueue

    async def handler(key: str) -> None:
        order.append(key)
        if key.startswith("front") and len(order) < 200:
            await asyncio.sleep(0)
            q.add(f"front-{len(order)}")  # the front lane never runs dry

    q = WorkQueue(handler, workers=1)
    for i in range(BURST + 10):
        q.add(f"bulk-{i}")
    await asyncio.sleep(0)
    q.add("front-0")
    q.start()
    await until(lambda: len(order) >= 200)
    late = [k for k in order[BURST:BURST + 4 * SLOW_SHARE] if k.startswith("bulk")]
    assert late, "background keys are picked while front keys keep coming"
    await q.stop()


async def test_many_tasks_adding_a_few_keys_each_in_one_iteration_are_no_burst() -> None:
    """Watch events handled in one iteration of the loop: one task each, so none of them is background work."""
    from kuantum.workqueue import BURST

    q = WorkQueue(lambda key: asyncio.sleep(0), workers=1)

    async def event(i: int) -> None:
        q.add(f"job-{i}")
        q.add("workspace")

    await asyncio.gather(*(event(i) for i in range(BURST * 3)))
    assert not q._slow and len(q) == BURST * 3 + 1


async def test_add_first_goes_before_every_queued_key_once() -> None:
    """A freed slot's next job goes before a backlog of watch events (each added alone: the front lane); urgent
    keys among themselves in the order they came."""
    order: list[str] = []

    async def handler(key: str) -> None:
        order.append(key)

    q = WorkQueue(handler, workers=1)
    backlog = [f"event-{i}" for i in range(20)]
    for key in backlog:
        q.add(key)
        await asyncio.sleep(0)  # one watch event per loop step
    q.add_first("event-7")  # already queued: moved ahead, still run once
    q.add_first("next-job")
    assert len(q) == len(backlog) + 1
    q.start()
    await until(lambda: len(order) == len(backlog) + 1)
    await settle()
    assert order[:2] == ["event-7", "next-job"]
    assert sorted(order) == sorted([*backlog, "next-job"]), "every key once"
    await q.stop()


async def test_reserved_workers_serve_urgent_keys_while_every_worker_is_busy() -> None:
    """A handover is not queued behind slow new-job reconciles that hold every ordinary worker."""
    release = asyncio.Event()
    done: list[str] = []

    async def handler(key: str) -> None:
        if key.startswith("slow"):
            await release.wait()
        done.append(key)

    q = WorkQueue(handler, workers=2, reserved=1)
    q.start()
    for i in range(5):
        q.add(f"slow-{i}")
        await asyncio.sleep(0)
    await settle()
    q.add("plain")  # an ordinary key waits for an ordinary worker
    q.add_first("handover")
    await until(lambda: "handover" in done)
    await settle()
    assert done == ["handover"], "the reserved worker takes urgent keys only"
    release.set()
    await until(lambda: len(done) == 7)
    await q.stop()


async def test_add_first_while_processing_runs_the_key_again_urgently() -> None:
    """A child's change during the job's reconcile runs it again from the urgent lane, not behind the backlog."""
    started, release = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def handler(key: str) -> None:
        order.append(key)
        if key == "job" and len(order) == 1:
            started.set()
            await release.wait()

    q = WorkQueue(handler, workers=1)
    q.add("job")
    q.start()
    await asyncio.wait_for(started.wait(), WAIT)
    for i in range(10):
        q.add(f"backlog-{i}")
        await asyncio.sleep(0)
    q.add("job")
    q.add_first("job")
    release.set()
    await until(lambda: len(order) == 12)
    assert order[:2] == ["job", "job"] and order.count("job") == 2
    await q.stop()


async def test_tenants_are_served_round_robin_in_the_front_lane() -> None:
    """One workspace's many new jobs do not queue another workspace's behind them."""
    order: list[str] = []

    async def handler(key: str) -> None:
        order.append(key)

    q = WorkQueue(handler, workers=1, tenant_of=lambda key: key.split("-")[0])
    for i in range(10):
        q.add(f"big-{i}")
        await asyncio.sleep(0)  # one watch event per loop step: no burst
    for i in range(3):
        q.add(f"small-{i}")
        await asyncio.sleep(0)
    q.add_first("small-next")  # a freed slot's next job: its tenant is served next, it first
    q.start()
    await until(lambda: len(order) == 14)
    await settle()
    assert order[:8] == ["small-next", "big-0", "small-0", "big-1", "small-1", "big-2", "small-2", "big-3"]
    assert [k for k in order if k.startswith("big")] == [f"big-{i}" for i in range(10)], "FIFO per tenant"
    await q.stop()


async def test_each_pick_records_its_wait_in_its_lane() -> None:
    """kuantum_workqueue_wait_seconds: one observation per key taken, in the lane it was taken from."""
    from kuantum import metrics

    def count(lane: str) -> float:
        return sum(s.value for m in metrics.WORKQUEUE_WAIT.collect() for s in m.samples
                   if s.name.endswith("_count") and s.labels.get("lane") == lane)

    before = {lane: count(lane) for lane in ("urgent", "front", "background")}
    q = WorkQueue(lambda key: asyncio.sleep(0), workers=1)
    q.add("plain")
    q.add_first("handover")
    q.add("plain")  # already queued: still one observation
    q.start()
    await until(lambda: len(q) == 0)
    await settle()
    assert {lane: count(lane) - before[lane] for lane in before} == {"urgent": 1, "front": 1, "background": 0}
    await q.stop()


async def test_a_freed_slots_next_job_goes_ahead_of_the_urgent_lane() -> None:
    """Pod events of running jobs wait in the urgent lane in order; the handover itself goes before them."""
    order: list[str] = []

    async def handler(key: str) -> None:
        order.append(key)

    q = WorkQueue(handler, workers=1)
    q.add("new-job")
    q.add_first("pod-event-1")
    q.add_first("pod-event-2")
    q.add_first("next-job", ahead=True)
    q.start()
    await until(lambda: len(order) == 4)
    assert order == ["next-job", "pod-event-1", "pod-event-2", "new-job"]
    await q.stop()
