"""Prometheus metrics of the operator (served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

API_WRITES = Counter("kuantum_api_writes_total", "Write requests the operator sent to the API server.",
                     ["verb", "resource"])
RECONCILE_ERRORS = Counter("kuantum_reconcile_errors_total", "Reconciles that raised and were retried.", ["kind"])
JOBS_BY_STATE = Gauge("kuantum_jobs", "QuantumJobs by state.", ["state"])
QUEUE_DEPTH = Gauge("kuantum_queue_depth", "Waiting jobs per target.", ["namespace", "workspace", "target"])
TIME_IN_QUEUE = Histogram("kuantum_job_queue_seconds", "Time from creation to execution start.",
                          buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600))
EXECUTION_TIME = Histogram("kuantum_job_execution_seconds", "Execution time of finished jobs.",
                           buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 14400))
TRANSITIONS = Counter("kuantum_job_transitions_total", "Job state transitions.", ["state"])
