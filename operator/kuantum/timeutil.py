"""RFC 3339 timestamps as Kubernetes writes them."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def seconds_between(begin: str, end: str) -> float:
    return max(0.0, (parse(end) - parse(begin)).total_seconds())


def month_of(stamp: str) -> str:
    return parse(stamp).strftime("%Y-%m")
