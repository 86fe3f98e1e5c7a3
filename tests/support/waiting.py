"""Waiting for the work queue's asyncio tasks in tests: bounded polls, never timing assertions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

WAIT = 10.0  # generous upper bound so a broken queue fails instead of hanging; never a timing assertion


async def until(predicate: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.001)
    await asyncio.wait_for(poll(), WAIT)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)
