"""A keyed work queue in the manner of client-go: a key is never processed by two workers at once,
keys added while being processed run again afterwards, and failures retry with capped backoff.

Two lanes: a burst of adds from one task in one step (a resync or a relist enqueueing every job at once)
beyond the first BURST keys is background work, served after the keys added one by one (a watch event, a
freed slot's next job, a timer), though never starved: every SLOW_SHARE-th pick takes the background lane when
both hold keys. A key added alone while it waits in the background lane moves to the front lane. Without this,
a job whose turn came waited behind thousands of resync reconciles (seen at 5,000 waiting jobs). The front lane
serves tenants (the controller's are workspaces) round-robin.

Keys added with add_first (a child's change, a freed slot's next job) go to a third lane, the urgent one, ahead
of both, FIFO (a freed slot's next job at its head). Every worker serves it first, and `reserved` extra workers
serve only it: a slot handover never waits for a worker to finish a new job's reconcile (seconds each against a
loaded storage; the p99 of a handover was ~6 s with all workers on new jobs).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from enum import Enum

from . import metrics

log = logging.getLogger("kuantum.workqueue")
BURST = 64  # adds in one loop step served in the front lane; the rest of the burst goes to the background lane
SLOW_SHARE = 4  # with both lanes busy, one pick in this many serves the background lane


class Requeue(Exception):
    """Raised by a handler that lost a race: run the key again soon. Not a failure, logged at DEBUG."""


class HandlerError(Exception):
    """A failure the handler has already described in one line (e.g. an API error): logged without traceback."""


class _Lane(Enum):
    URGENT = "urgent"
    FRONT = "front"
    BACKGROUND = "background"


class _FairLane:
    """Keys in one FIFO per tenant, served round-robin across tenants: one workspace's thousands of new jobs
    do not queue the first reconciles of fifty other workspaces behind them."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[str]] = {}
        self._turns: deque[str] = deque()  # tenants holding keys, in serving order

    def __bool__(self) -> bool:
        return bool(self._turns)

    def append(self, key: str, tenant: str) -> None:
        queue = self._queues.get(tenant)
        if queue is None:
            queue = self._queues[tenant] = deque()
            self._turns.append(tenant)
        queue.append(key)

    def popleft(self) -> str:
        tenant = self._turns.popleft()
        queue = self._queues[tenant]
        key = queue.popleft()
        if queue:
            self._turns.append(tenant)
        else:
            del self._queues[tenant]
        return key


class WorkQueue:
    def __init__(self, handler: Callable[[str], Awaitable[None]], workers: int = 4,
                 base_delay: float = 1.0, max_delay: float = 300.0,
                 tenant_of: Callable[[str], str] | None = None, reserved: int = 0) -> None:
        self._handler = handler
        self._tenant_of = tenant_of or (lambda key: "")
        self._urgent: deque[str] = deque()
        self._fast = _FairLane()
        self._slow: deque[str] = deque()
        self._lanes: dict[_Lane, deque[str] | _FairLane] = {
            _Lane.URGENT: self._urgent, _Lane.FRONT: self._fast, _Lane.BACKGROUND: self._slow}
        self._lane: dict[str, _Lane] = {}  # queued key -> the lane it waits in (entries elsewhere are stale)
        self._queued_at: dict[str, float] = {}  # queued key -> when it entered its lane (for the wait metric)
        self._ready = asyncio.Event()
        self._urgent_ready = asyncio.Event()
        self._picks = 0
        self._burst = 0  # adds in a row by one task in this loop iteration
        self._burst_task: object = None
        self._burst_reset = False
        self._processing: set[str] = set()
        self._again: dict[str, bool] = {}  # key added while processing -> whether with add_first
        self._failures: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._workers = workers
        self._reserved = reserved
        self._base = base_delay
        self._max = max_delay
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def add(self, key: str) -> None:
        if key in self._processing:
            self._again.setdefault(key, False)
            return
        lane = _Lane.BACKGROUND if self._count_burst() > BURST else _Lane.FRONT
        queued = self._lane.get(key)
        if queued is None or (queued is _Lane.BACKGROUND and lane is _Lane.FRONT):
            # A key moving up leaves its background entry behind, skipped when reached.
            self._queued_at[key] = time.monotonic()  # the wait is counted in the lane it is taken from
            self._lane[key] = lane
            if lane is _Lane.BACKGROUND:
                self._slow.append(key)
            else:
                self._fast.append(key, self._tenant_of(key))
            self._ready.set()

    def add_first(self, key: str, ahead: bool = False) -> None:
        """Adds key to the urgent lane, before the backlog: at its tail (a child's change), or with `ahead` at its
        head (a freed slot's next job: the handover itself, not behind other jobs' pod events)."""
        if key in self._processing:
            self._again[key] = True
            return
        if self._lane.get(key) is _Lane.URGENT and not ahead:
            return
        self._queued_at[key] = time.monotonic()
        self._lane[key] = _Lane.URGENT  # an older entry of the key elsewhere is skipped (or taken early) when reached
        if ahead:
            self._urgent.appendleft(key)
        else:
            self._urgent.append(key)
        self._ready.set()
        self._urgent_ready.set()

    def _count_burst(self) -> int:
        """Adds in a row by the running task in this iteration of the loop: many watch events handled in one
        iteration are many tasks, each adding a few keys; a resync is one task adding thousands."""
        try:
            task = asyncio.current_task()
            if not self._burst_reset:
                asyncio.get_running_loop().call_soon(self._end_burst)
                self._burst_reset = True
        except RuntimeError:  # no running loop: nothing to tell steps apart by
            return 0
        if task is not self._burst_task:
            self._burst, self._burst_task = 0, task
        self._burst += 1
        return self._burst

    def _end_burst(self) -> None:
        self._burst, self._burst_task, self._burst_reset = 0, None, False

    def _pop(self, urgent_only: bool = False) -> str | None:
        """The next queued key (None when the lanes this worker serves are empty)."""
        lanes: tuple[_Lane, ...] = (_Lane.URGENT,)
        if not urgent_only:
            self._picks += 1
            slow_first = self._picks % SLOW_SHARE == 0
            lanes = (_Lane.URGENT, _Lane.BACKGROUND, _Lane.FRONT) if slow_first else \
                (_Lane.URGENT, _Lane.FRONT, _Lane.BACKGROUND)
        for name in lanes:
            lane = self._lanes[name]
            while lane:
                key = lane.popleft()
                if self._lane.get(key) is name:  # else a stale entry: the key moved or already ran
                    del self._lane[key]
                    metrics.WORKQUEUE_WAIT.labels(lane=name.value).observe(
                        time.monotonic() - self._queued_at.pop(key, time.monotonic()))
                    return key
        return None

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

    def depth(self, lane: str) -> int:
        """Keys waiting in a lane (read by the metrics thread: a copy taken under the GIL, never iterated live)."""
        return sum(1 for queued in list(self._lane.values()) if queued.value == lane)

    def start(self) -> None:
        for lane in _Lane:
            metrics.WORKQUEUE_DEPTH.labels(lane.value).set_function(functools.partial(self.depth, lane.value))
        self._tasks = [asyncio.create_task(self._work(), name=f"kuantum-worker-{i}") for i in range(self._workers)]
        self._tasks += [asyncio.create_task(self._work(urgent_only=True), name=f"kuantum-urgent-worker-{i}")
                        for i in range(self._reserved)]

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
        return len(self._lane)

    async def _work(self, urgent_only: bool = False) -> None:
        ready = self._urgent_ready if urgent_only else self._ready
        while not self._stopping:
            key = self._pop(urgent_only)
            if key is None:
                ready.clear()
                await ready.wait()
                continue
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
                    (self.add_first if self._again.pop(key) else self.add)(key)
