"""The work queue's lanes: a burst of adds waits behind keys added one by one, tenants are served round-robin,
urgent keys (add_first) go first and have workers of their own, and each pick records its wait."""

from __future__ import annotations

import asyncio

from kuantum.runtime.workqueue import WorkQueue

from tests.support.waiting import WAIT, settle, until


async def test_a_burst_of_adds_waits_behind_keys_added_one_by_one() -> None:
    """A resync enqueues every job in one loop step: a key added alone later (a freed slot's next job) runs
    before the rest of that burst, not after it."""
    from kuantum.runtime.workqueue import BURST, SLOW_SHARE

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
    from kuantum.runtime.workqueue import BURST, SLOW_SHARE

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
    from kuantum.runtime.workqueue import BURST

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
    from kuantum.runtime import metrics

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
