"""When each remote job's next status poll is due.

The backend's Observation asks the work queue to look at the job again at that time (a timer of the queue, not
a task per job); a reconcile before then (the job's own status write, a resync) does not ask the provider, and
says how long is left.
"""

from __future__ import annotations

import time


class Poller:
    def __init__(self) -> None:
        self._due: dict[str, float] = {}  # job key -> monotonic time of its next poll

    def schedule(self, key: str, delay: float) -> float:
        """Polls key after delay (an earlier poll already scheduled wins); returns the seconds until the poll."""
        now = time.monotonic()
        due = now + max(0.0, delay)
        held = self._due.get(key)
        if held is None or held <= now or due < held:  # a poll already due was this one's: it is replaced
            self._due[key] = due
        return self.due_in(key) or 0.0

    def due_in(self, key: str) -> float | None:
        """Seconds until key's poll (0 when due), None when none is scheduled."""
        due = self._due.get(key)
        return None if due is None else max(0.0, due - time.monotonic())

    def waiting(self, key: str) -> bool:
        """Whether key has a poll scheduled that is not due yet."""
        return bool(self.due_in(key))

    def forget(self, key: str) -> None:
        self._due.pop(key, None)

    def __len__(self) -> int:
        return len(self._due)
