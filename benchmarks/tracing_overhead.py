"""Tracing's overhead on the operator (`operator_throughput.py --tracing-overhead`): the same phases run twice,
tracing off then on, and the on ÷ off ratios of one run each (goal: at most 1.05).

With tracing on, an OTLP/HTTP receiver in this process, on the dev node's address, takes the operator's and the
solver pods' spans; the table counts them by name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from cluster_bench import fmt, ok, percentile, print_table

from tests.support import devcluster
from tests.support.otlp import Receiver

Run = dict[str, Any]


def measure_off_and_on(measure: Callable[[dict[str, str]], Run]) -> tuple[dict[str, Run], Counter[str]]:
    """One run with tracing off, one with it on (the operator's environment names the receiver); the spans by
    service and name."""
    runs = {"off": measure({})}
    with Receiver(devcluster._shell_value("NODE_IP")) as receiver:
        runs["on"] = measure({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint})
        spans = Counter(f"{s.service}: {s.name}" for s in receiver.spans)
    return runs, spans


def report(runs: dict[str, dict[str, Any]], jobs: int, latency_jobs: int, spans: Counter[str]) -> None:
    """The operator's overhead with tracing on, as ratios of one run (goal: at most 1.05)."""
    n_jobs = jobs + latency_jobs
    rows: list[tuple[str, str, str, str]] = []
    cpu = {m: r["cpu_s"] / n_jobs for m, r in runs.items()}
    p99 = {m: percentile(r["lat"]["lat"], 99) for m, r in runs.items()}
    p99_tp = {m: percentile(r["tp"]["queued"], 99) for m, r in runs.items()}
    rate = {m: r["tp"]["done"] / r["tp"]["elapsed"] if r["tp"]["elapsed"] else None for m, r in runs.items()}

    def ratio(values: dict[str, float | None]) -> float | None:
        on, off = values["on"], values["off"]
        return on / off if on is not None and off else None

    rows.append((f"operator CPU s/job (latency + throughput phases, {n_jobs} jobs) off / on",
                 f"{fmt(cpu['off'], ' s', 4)} / {fmt(cpu['on'], ' s', 4)}", "", ""))
    rows.append(("  ratio on ÷ off", fmt(ratio(dict(cpu)), "x", 3), "<= 1.05",
                 ok((ratio(dict(cpu)) or 99) <= 1.05)))
    rows.append((f"Waiting→Executing p99, capacity free (n={latency_jobs}) off / on",
                 f"{fmt(p99['off'], ' s', 3)} / {fmt(p99['on'], ' s', 3)}", "", ""))
    rows.append(("  ratio on ÷ off", fmt(ratio(p99), "x", 3), "<= 1.05", ok((ratio(p99) or 99) <= 1.05)))
    rows.append((f"Waiting→Executing p99 in throughput phase ({jobs} queued) off / on",
                 f"{fmt(p99_tp['off'], ' s')} / {fmt(p99_tp['on'], ' s')}", "", ""))
    rows.append(("  ratio on ÷ off", fmt(ratio(p99_tp), "x", 3), "", ""))
    rows.append(("jobs/s apply→final off / on", f"{fmt(rate['off'])} / {fmt(rate['on'])}", "", ""))
    rows.append(("  succeeded off / on", f"{runs['off']['tp']['succeeded']} / {runs['on']['tp']['succeeded']}",
                 f"{jobs} / {jobs}", ok(runs['off']['tp']['succeeded'] == runs['on']['tp']['succeeded'] == jobs)))
    rows.append(("spans received (operator + solver pods, tracing on)", str(spans.total()), "", ""))
    rows.extend((f"  {name}", f"{count} ({count / n_jobs:.1f}/job)", "", "") for name, count in spans.most_common(8))
    print("\n== tracing overhead (on ÷ off, one run each, same cluster)")
    print_table(rows)
