"""The remote backends' one poll timer per provider."""

from __future__ import annotations

import asyncio

from kuantum.backends.poller import Poller


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
