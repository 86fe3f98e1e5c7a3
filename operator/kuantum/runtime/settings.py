"""Operator settings, from the environment (the Helm chart sets them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any


def _int(name: str, default: int) -> Any:
    """A field read from the environment when Settings() is made (not when this module is imported)."""
    return field(default_factory=lambda: int(os.environ.get(name, default)))


def _str(name: str, default: str) -> Any:
    return field(default_factory=lambda: os.environ.get(name, default))


@dataclass(frozen=True)
class Settings:
    solver_image: str = _str("KUANTUM_SOLVER_IMAGE", "ghcr.io/kuantum-dev/kuantum-solver:0.1.0")
    # Jobs executing at once per target when the billing plan sets no maxConcurrentJobs.
    target_concurrency: int = _int("KUANTUM_TARGET_CONCURRENCY", 4)
    resync_seconds: int = _int("KUANTUM_RESYNC_SECONDS", 30)
    # Jobs queued for their turn are revisited only every this many resyncs (see Controller._resync).
    full_resync_rounds: int = _int("KUANTUM_FULL_RESYNC_ROUNDS", 10)
    # Every this many seconds the jobs whose queuePosition is stale are reconciled (the reconciler writes the
    # position only when it moved), at most queue_position_budget of them per round, front first.
    queue_position_seconds: int = _int("KUANTUM_QUEUE_POSITION_SECONDS", 5)
    # At most this many queuePosition writes per refresh, front of the queues first: no write storms.
    queue_position_budget: int = _int("KUANTUM_QUEUE_POSITION_BUDGET", 25)
    workers: int = _int("KUANTUM_WORKERS", 8)
    # Workers beside those that serve only urgent keys (a child's change, a freed slot's next job), so a slot
    # handover never waits behind new-job reconciles.
    urgent_workers: int = _int("KUANTUM_URGENT_WORKERS", 2)
    # SAS URLs live for the job's timeoutSeconds (else sas_default_seconds, the longest a solver runs by
    # its own budget) plus this margin; see builders.sas_lifetime.
    sas_margin_seconds: int = _int("KUANTUM_SAS_MARGIN_SECONDS", 3600)
    sas_default_seconds: int = _int("KUANTUM_SAS_DEFAULT_SECONDS", 24 * 3600)
    # A finished job's solver Job and pod are kept this long (for `kubectl logs`), then deleted.
    child_retention_seconds: int = _int("KUANTUM_CHILD_RETENTION_SECONDS", 60)
    # A session without a spec.idleTimeoutSeconds ends TimedOut after this long without a job joining, running
    # or ending (Azure Quantum's 10 minutes).
    session_idle_timeout_seconds: int = _int("KUANTUM_SESSION_IDLE_TIMEOUT_SECONDS", 600)
    # Warm solver workers per pool (a Provider's jobs in one namespace with one image and size) that run local
    # targets' jobs instead of a batch Job each (execution/pool/); 0: a batch Job per job. Each worker holds its
    # requests on a node while idle. Off by default here because the operator must reach the workers' pod
    # addresses, which an operator outside the cluster may not; the chart, in the cluster, turns pools on.
    solver_pool_size: int = _int("KUANTUM_SOLVER_POOL_SIZE", 0)
    # A worker idle this long is deleted (a pool shrinks to nothing when unused).
    solver_pool_idle_seconds: int = _int("KUANTUM_SOLVER_POOL_IDLE_SECONDS", 300)
    # Where solver pods send their spans (OTLP/HTTP) when tracing is on; empty: the operator's own endpoint.
    solver_otlp_endpoint: str = _str("KUANTUM_SOLVER_OTLP_ENDPOINT", "")
