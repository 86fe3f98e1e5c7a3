"""RFC 3339 timestamps as Kubernetes writes them: UTC with `Z`, e.g. `2026-11-28T08:00:00Z`.

Everything the operator writes goes through `format_time`/`now_iso`; `parse` accepts what others
write too (`+00:00` offsets from Python's isoformat, other offsets, fractions of any length, no
zone at all meaning UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(moment: datetime) -> str:
    """`Z` form in UTC; whole seconds unless the value has a fraction (MicroTime keeps microseconds)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def from_epoch(seconds: float) -> str:
    """A Unix time (time.time()) in whole seconds, as status times are written."""
    return format_time(datetime.fromtimestamp(int(seconds), UTC))


def now_iso() -> str:
    return format_time(datetime.now(UTC).replace(microsecond=0))


def parse(stamp: str) -> datetime:
    """An aware UTC datetime from `...Z`, `...z`, `...+00:00`, `...+02:00` or a zone-less stamp (UTC)."""
    text = stamp.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def normalize(stamp: str) -> str:
    """Any stamp `parse` accepts, in the one format the operator writes."""
    return format_time(parse(stamp))


def seconds_between(begin: str, end: str) -> float:
    return max(0.0, (parse(end) - parse(begin)).total_seconds())


def month_of(stamp: str) -> str:
    if len(stamp) == 20 and stamp.endswith("Z") and stamp[4] == "-":  # our own UTC format: no parse needed
        return stamp[:7]
    return parse(stamp).strftime("%Y-%m")
