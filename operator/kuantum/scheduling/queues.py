"""Job queues: per workspace, provider and target, ordered by priority, then a session's jobs before standalone
ones, then creation time. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class QueueEntry:
    key: str  # namespace/name
    target: str
    priority: str  # High | Standard
    created: str  # when it joined the queue, sortable text (JobObject.queue_time)
    name: str
    # In a session: Azure runs a session's jobs ahead of standalone jobs of the same target and priority (an
    # interactive loop's next job must not wait behind a batch).
    in_session: bool = False
    # The queue's rule: High first, then a session's jobs, then oldest, then by name. Computed once (sorting
    # thousands of entries compares it many times).
    order: tuple[int, int, str, str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", (0 if self.priority == "High" else 1, 0 if self.in_session else 1,
                                           self.created, self.name))


def ordered(waiting: Iterable[QueueEntry]) -> list[QueueEntry]:
    return sorted(waiting, key=lambda e: e.order)


# A job's status shows its queue position while it is among this many of its target's queue, exactly, refreshed as
# the queue moves; deeper in the queue it shows none (a number there would go stale with every start ahead of it,
# or cost a status write per waiting job per start). Provider.status.targets[].queue lists the whole order.
SHOWN_POSITIONS = 5


def shown_position(position: int | None) -> int | None:
    """What a waiting job's status.queuePosition says: its exact place at the front of its queue, else nothing."""
    return position if position is not None and position <= SHOWN_POSITIONS else None


def positions(waiting: Iterable[QueueEntry]) -> dict[str, int]:
    """1-based queue position of every waiting job within its target's queue."""
    seen: Counter[str] = Counter()
    result = {}
    for entry in ordered(waiting):
        seen[entry.target] += 1
        result[entry.key] = seen[entry.target]
    return result


def admit(waiting: Iterable[QueueEntry], running_by_target: dict[str, int], target_capacity: int,
          plan_capacity: int | None) -> list[str]:
    """Keys of the waiting jobs that may start now, in queue order.

    A job starts when its target has room (target_capacity) and the provider's plan has room
    (plan_capacity, across all targets of the provider; None is unlimited). Jobs of one target
    never overtake each other: once a target's head cannot start, nothing behind it does.
    """
    running = Counter(running_by_target)
    total = sum(running.values())
    blocked: set[str] = set()
    chosen: list[str] = []
    for entry in ordered(waiting):
        if plan_capacity is not None and total >= plan_capacity:
            break
        if entry.target in blocked:
            continue
        if running[entry.target] >= target_capacity:
            blocked.add(entry.target)
            continue
        chosen.append(entry.key)
        running[entry.target] += 1
        total += 1
    return chosen
