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

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
RECONCILE_SECONDS = Histogram("kuantum_reconcile_seconds", "Time one reconcile of an object took.", ["kind"],
                              buckets=_LATENCY_BUCKETS)
WORKQUEUE_WAIT = Histogram("kuantum_workqueue_wait_seconds", "Time a key waited in the work queue for a worker, by "
                           "lane (urgent: a child's change or a freed slot; front; background: a resync's bulk).",
                           ["lane"], buckets=_LATENCY_BUCKETS)
API_REQUEST_SECONDS = Histogram("kuantum_api_request_seconds", "Time one API server request took (with its wait "
                                "for a client thread), by client call.", ["call"], buckets=_LATENCY_BUCKETS)
STORAGE_REQUEST_SECONDS = Histogram("kuantum_storage_request_seconds", "Time one blob storage call took (with its "
                                    "wait for a thread), by call.", ["call"], buckets=_LATENCY_BUCKETS)
