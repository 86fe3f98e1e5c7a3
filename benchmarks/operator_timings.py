"""Where the operator's time went, from its Prometheus histograms (reconcile time, work-queue wait per lane, API
and storage call time): read before and after a phase, printed as table rows (count, mean, p99's bucket)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families


@dataclass
class Latency:
    """One label's share of a Prometheus histogram: count, sum and cumulative bucket counts."""
    count: float = 0.0
    total: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)

    def minus(self, earlier: Latency | None) -> Latency:
        if earlier is None:
            return self
        return Latency(self.count - earlier.count, self.total - earlier.total,
                       {b: v - earlier.buckets.get(b, 0.0) for b, v in self.buckets.items()})

    def quantile_bound(self, q: float) -> float | None:
        """The smallest bucket bound holding the q-quantile (an upper bound of it)."""
        for bound in sorted(self.buckets):
            if self.count and self.buckets[bound] >= q * self.count:
                return bound
        return None


def latencies(op: Any, name: str, label: str) -> dict[str, Latency]:
    """The operator's histogram `name`, per value of `label`."""
    out: dict[str, Latency] = defaultdict(Latency)
    for family in text_string_to_metric_families(op.metrics()):
        if family.name != name:
            continue
        for s in family.samples:
            entry = out[s.labels.get(label, "")]
            if s.name.endswith("_count"):
                entry.count = s.value
            elif s.name.endswith("_sum"):
                entry.total = s.value
            elif s.name.endswith("_bucket"):
                entry.buckets[float(s.labels["le"])] = s.value
    return dict(out)


def latency_rows(title: str, after: dict[str, Latency], before: dict[str, Latency], top: int = 6
                 ) -> list[tuple[str, str, str, str]]:
    """Table rows: per label (most total time first), count, mean and the p99's bucket bound."""
    rows = []
    spans = {k: v.minus(before.get(k)) for k, v in after.items()}
    for key, span in sorted(spans.items(), key=lambda kv: -kv[1].total)[:top]:
        if not span.count:
            continue
        p99 = span.quantile_bound(0.99)
        rows.append((f"  {title} {key}: n / mean / p99 ≤", f"{span.count:.0f} / {span.total / span.count:.3f} s / "
                     f"{p99 if p99 is not None else '?'} s", "", ""))
    return rows


# The operator's histograms (name, label) and their titles in the table.
TIMED = ((("kuantum_reconcile_duration_seconds", "kind"), "reconcile"),
         (("kuantum_workqueue_wait_seconds", "lane"), "queue wait"),
         (("kuantum_api_request_duration_seconds", "call"), "API"),
         (("kuantum_storage_request_duration_seconds", "call"), "storage"))


def timings(op: Any) -> dict[tuple[str, str], dict[str, Latency]]:
    """Every histogram of TIMED, now (subtract an earlier reading with latency_rows)."""
    return {metric: latencies(op, *metric) for metric, _ in TIMED}
