"""One timer per provider: the remote jobs due for a status poll, woken together.

A thousand remote jobs would otherwise hold a thousand timers; here each backend keeps one task that
sleeps until the earliest due poll and then hands every due job to the work queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


class Poller:
    def __init__(self, wake_job: Callable[[str], None]) -> None:
        self._wake_job = wake_job
        self._due: dict[str, float] = {}  # job key -> loop time of its next poll
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def schedule(self, key: str, delay: float) -> None:
        """Polls key after delay (an earlier poll already scheduled wins)."""
        loop = asyncio.get_running_loop()
        due = loop.time() + max(0.0, delay)
        if key in self._due and self._due[key] <= due:
            return
        self._due[key] = due
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="kuantum-poller")
        self._changed.set()

    def waiting(self, key: str) -> bool:
        """Whether key has a poll scheduled that is not due yet."""
        due = self._due.get(key)
        return due is not None and due > asyncio.get_running_loop().time()

    def forget(self, key: str) -> None:
        self._due.pop(key, None)

    def __len__(self) -> int:
        return len(self._due)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._due:
            self._changed.clear()
            wait = min(self._due.values()) - loop.time()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), wait)
                continue
            now = loop.time()
            for key in [k for k, due in self._due.items() if due <= now]:
                del self._due[key]
                self._wake_job(key)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
