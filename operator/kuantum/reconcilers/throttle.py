"""Writes that only refresh counters wait a little, so busy queues do not cause write storms."""

from __future__ import annotations

import time


class WriteThrottle:
    def __init__(self, min_interval: float) -> None:
        self.min_interval = min_interval
        self._last: dict[str, float] = {}

    def wait_for(self, key: str) -> float:
        """Seconds until a counters-only write of key is allowed (0 when it is)."""
        last = self._last.get(key)
        if last is None:
            return 0.0
        return max(0.0, self.min_interval - (time.monotonic() - last))

    def wrote(self, key: str) -> None:
        self._last[key] = time.monotonic()
