"""A keyed work queue in the manner of client-go: a key is never processed by two workers at once,
keys added while being processed run again afterwards, and failures retry with capped backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("kuantum.workqueue")


class Requeue(Exception):
    """Raised by a handler that lost a race: run the key again soon. Not a failure, logged at DEBUG."""


class HandlerError(Exception):
    """A failure the handler has already described in one line (e.g. an API error): logged without traceback."""


class WorkQueue:
    def __init__(self, handler: Callable[[str], Awaitable[None]], workers: int = 4,
                 base_delay: float = 1.0, max_delay: float = 300.0) -> None:
        self._handler = handler
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._processing: set[str] = set()
        self._again: set[str] = set()
        self._failures: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._workers = workers
        self._base = base_delay
        self._max = max_delay
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def add(self, key: str) -> None:
        if key in self._processing:
            self._again.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: str, delay: float) -> None:
        """Adds key after delay; an earlier pending timer for the key wins."""
        existing = self._timers.get(key)
        loop = asyncio.get_running_loop()
        if existing and existing.when() <= loop.time() + delay:
            return
        if existing:
            existing.cancel()
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"kuantum-worker-{i}") for i in range(self._workers)]

    async def stop(self) -> None:
        self._stopping = True
        for timer in self._timers.values():
            timer.cancel()
        # Cancel until every worker is done: on Python 3.11 a handler inside asyncio.wait_for can
        # swallow one cancellation, so a single cancel() is not always enough.
        for _ in range(50):
            pending = [t for t in self._tasks if not t.done()]
            if not pending:
                break
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=0.2)

    def __len__(self) -> int:
        return self._queue.qsize()

    async def _work(self) -> None:
        while not self._stopping:
            key = await self._queue.get()
            self._queued.discard(key)
            self._processing.add(key)
            try:
                await self._handler(key)
                self._failures.pop(key, None)
            except asyncio.CancelledError:
                raise
            except Requeue as e:
                log.debug("reconcile of %s: %s; again in %.0fs", key, e, self._base)
                self.add_after(key, self._base)
            except Exception as e:
                count = self._failures.get(key, 0) + 1
                self._failures[key] = count
                delay = min(self._max, self._base * 2 ** (count - 1))
                # Tracebacks are for bugs; a described failure is one line (its traceback at DEBUG).
                described = isinstance(e, HandlerError)
                log.error("reconcile of %s failed (attempt %d); retrying in %.0fs: %s", key, count, delay,
                          e if described else repr(e), exc_info=not described or log.isEnabledFor(logging.DEBUG))
                self.add_after(key, delay)
            finally:
                self._processing.discard(key)
                if key in self._again:
                    self._again.discard(key)
                    self.add(key)
