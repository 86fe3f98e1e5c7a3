"""`kuantum get`'s output: the job table, one job's summary, raw JSON/YAML."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import yaml

from ..runtime.timeutil import parse

TABLE_COLUMNS = ("NAME", "STATE", "PROVIDER", "TARGET", "ID", "AGE")


def age(stamp: str | None, now: datetime | None = None) -> str:
    """kubectl-style age: 45s, 3m12s, 27m, 5h3m, 30h, 4d2h, 120d."""
    if not stamp:
        return "<unknown>"
    seconds = int(max(0.0, ((now or datetime.now(UTC)) - parse(stamp)).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


def table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...] = TABLE_COLUMNS) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    return "\n".join(lines)


def job_row(job: dict[str, Any], now: datetime | None = None) -> tuple[str, ...]:
    spec, status = job.get("spec") or {}, job.get("status") or {}
    return (job["metadata"]["name"], status.get("state") or "<pending>", str(spec.get("provider", "")),
            str(spec.get("target", "")), status.get("id") or "", age(job["metadata"].get("creationTimestamp"), now))


def jobs_table(jobs: list[dict[str, Any]], workspace: str | None = None, now: datetime | None = None) -> str:
    chosen = [j for j in jobs if workspace is None or (j.get("spec") or {}).get("workspace") == workspace]
    return table([job_row(j, now) for j in sorted(chosen, key=lambda j: j["metadata"]["name"])])


def error_text(error: dict[str, Any] | None) -> str:
    if not error:
        return ""
    return f"{error.get('code', 'Error')}: {error.get('message', '')}".rstrip(": ")


def job_summary(job: dict[str, Any]) -> str:
    meta, spec, status = job["metadata"], job.get("spec") or {}, job.get("status") or {}
    fields: list[tuple[str, Any]] = [
        ("Name", meta["name"]), ("Namespace", meta.get("namespace")), ("Workspace", spec.get("workspace")),
        ("Provider", spec.get("provider")), ("Target", spec.get("target")), ("Session", spec.get("session")),
        ("State", status.get("state") or "<pending: not yet seen by the operator>"), ("ID", status.get("id")),
        ("Queue position", status.get("queuePosition")), ("Cancel requested", spec.get("cancel") or None),
        ("Created", status.get("creationTime") or meta.get("creationTimestamp")),
        ("Began", status.get("beginExecutionTime")), ("Ended", status.get("endExecutionTime")),
        ("Duration", status.get("duration")), ("Cancelled", status.get("cancellationTime")),
        ("Provider job ID", status.get("providerJobId")), ("Input data", status.get("inputDataUri")),
        ("Output data", status.get("outputDataUri")), ("Solver log", status.get("logsUri")),
        ("Error", error_text(status.get("errorData")) or None),
    ]
    return _fields(fields, status.get("conditions") or [])


def _fields(fields: list[tuple[str, Any]], conditions: list[dict[str, Any]]) -> str:
    """Label: value lines (empty values left out), then the conditions as a table."""
    shown = [(label, value) for label, value in fields if value not in (None, "")]
    width = max(len(label) for label, _ in shown) + 2
    lines = [f"{label + ':':<{width}}{value}" for label, value in shown]
    if conditions:
        lines.append("Conditions:")
        rows = [(str(c.get("type", "")), str(c.get("status", "")), str(c.get("reason", "")),
                 str(c.get("message", ""))) for c in conditions]
        lines.extend("  " + line for line in table(rows, ("TYPE", "STATUS", "REASON", "MESSAGE")).splitlines())
    return "\n".join(lines)


def dump(obj: Any, fmt: str) -> str:
    if fmt == "yaml":
        return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False).rstrip("\n")
    return json.dumps(obj, indent=2)


SESSION_COLUMNS = ("NAME", "STATE", "TARGET", "POLICY", "JOBS", "CLOSED", "AGE")


def session_row(session: dict[str, Any], now: datetime | None = None) -> tuple[str, ...]:
    spec, status = session.get("spec") or {}, session.get("status") or {}
    jobs = ", ".join(f"{n} {state}" for state, n in (status.get("jobCounts") or {}).items()) or "-"
    return (session["metadata"]["name"], status.get("state") or "<pending>", str(spec.get("target", "")),
            str(spec.get("jobFailurePolicy") or "Abort"), jobs, "yes" if spec.get("close") else "no",
            age(session["metadata"].get("creationTimestamp"), now))


def sessions_table(sessions: list[dict[str, Any]], now: datetime | None = None) -> str:
    rows = [session_row(s, now) for s in sorted(sessions, key=lambda s: s["metadata"]["name"])]
    return table(rows, SESSION_COLUMNS)


def session_summary(session: dict[str, Any], jobs: list[dict[str, Any]]) -> str:
    """A session's status and, below it, its jobs (the table `kuantum get` prints)."""
    meta, spec, status = session["metadata"], session.get("spec") or {}, session.get("status") or {}
    summary = _fields([
        ("Name", meta["name"]), ("Namespace", meta.get("namespace")), ("Display name", spec.get("name")),
        ("Workspace", spec.get("workspace")), ("Provider", spec.get("provider")), ("Target", spec.get("target")),
        ("Failure policy", spec.get("jobFailurePolicy") or "Abort"), ("Priority", spec.get("priority")),
        ("State", status.get("state") or "<pending: not yet seen by the operator>"), ("ID", status.get("id")),
        ("Closed", "yes" if spec.get("close") else None), ("Idle timeout", spec.get("idleTimeoutSeconds")),
        ("Created", status.get("creationTime") or meta.get("creationTimestamp")),
        ("Began", status.get("beginExecutionTime")), ("Ended", status.get("endExecutionTime")),
        ("Error", error_text(status.get("errorData")) or None),
    ], status.get("conditions") or [])
    return summary + "\nJobs:\n" + ("\n".join("  " + line for line in jobs_table(jobs).splitlines()) if jobs
                                     else "  none")
