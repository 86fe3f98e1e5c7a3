"""The order of calls across the in-memory fakes (fake_kube, fake_storage, fake_provider_api): each fake records
its calls in its own `calls` list and, when given one, in a shared `Journal`, so a test can say "this write came
before that submit"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Call:
    source: str  # kube | storage | api
    method: str
    args: dict[str, Any]


class Journal:
    """Calls of all fakes sharing it, in the order they happened."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def record(self, source: str, method: str, **args: Any) -> Call:
        call = Call(source, method, args)
        self.calls.append(call)
        return call

    def index(self, predicate: Callable[[Call], bool]) -> int:
        """Position of the first call matching predicate (ValueError when none does)."""
        for i, call in enumerate(self.calls):
            if predicate(call):
                return i
        raise ValueError("no such call")

    def methods(self, source: str | None = None) -> list[str]:
        return [c.method for c in self.calls if source is None or c.source == source]
