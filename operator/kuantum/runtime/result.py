"""What a reconcile hands back to the work queue (controller-runtime's `Result`): when to look at the object
again, and which other objects its writes concern. Reconcilers return it; only the controller touches the queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


def sooner(a: float | None, b: float | None) -> float | None:
    """The earlier of two "look again after" delays (None: no need)."""
    if a is None:
        return b
    return a if b is None else min(a, b)


@dataclass(frozen=True)
class Result:
    requeue_after: float | None = None  # reconcile this object again after so many seconds (0: at once)
    wake: tuple[tuple[str, str], ...] = ()  # (kind, namespace/name) of other objects to reconcile now

    def after(self, seconds: float | None) -> Result:
        """This result, looking again no later than `seconds` from now."""
        return Result(sooner(self.requeue_after, seconds), self.wake)

    def waking(self, kind: str, keys: list[str]) -> Result:
        return Result(self.requeue_after, (*self.wake, *((kind, key) for key in keys)))


class Reconciler(Protocol):
    async def reconcile(self, key: str) -> Result:
        """Moves the object (namespace/name) one step towards what its spec asks; idempotent."""
