"""Prometheus metrics of the operator (served on /metrics, with prometheus_client's process_* and python_*).

Conventions (README "Metrics"): base units in the names (`_seconds`, `_bytes`), counters end in `_total`, and
every label has a bounded set of values: a job's namespace, workspace, provider and target (a target or provider
the catalog does not know is `other`, a workspace that does not exist is `other`), its state, priority or error
code, never its name or id. Series a dashboard or an alert rates are created at zero as soon as their labels are
known (a counter that first appears at 1 loses that first increase to rate()).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram, Info

from ..catalog import canonical_provider_id, targets_of

OTHER = "other"
JOB_LABELS = ("namespace", "workspace", "provider", "target")
JobLabels = tuple[str, str, str, str]
STATES = ("Waiting", "Executing", "Succeeded", "Failed", "Cancelled")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_JOB_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 14400)

BUILD = Info("kuantum_build", "The running program's version.")

# ----- jobs (leader only: computed from the store every few seconds, or counted at each transition) -----
JOBS = Gauge("kuantum_jobs", "QuantumJobs by state (Pending: not yet accepted by the operator).",
             [*JOB_LABELS, "state"])
TRANSITIONS = Counter("kuantum_job_transitions_total", "Job state transitions (into the state named).",
                      [*JOB_LABELS, "state"])
FAILURES = Counter("kuantum_job_failures_total", "Jobs that ended Failed, by errorData.code.", [*JOB_LABELS, "code"])
QUEUE_WAIT = Histogram("kuantum_job_queue_wait_seconds", "Time from a job's creation to its execution start.",
                       [*JOB_LABELS, "priority"], buckets=_JOB_BUCKETS)
EXECUTION = Histogram("kuantum_job_execution_duration_seconds",
                      "Execution time of jobs that ended after they started, by final state.",
                      [*JOB_LABELS, "state"], buckets=_JOB_BUCKETS)
EXECUTING_PAST_TIMEOUT = Gauge("kuantum_jobs_executing_past_timeout",
                               "Jobs still Executing a minute past their spec.timeoutSeconds.", JOB_LABELS)
QUEUE_DEPTH = Gauge("kuantum_queue_depth", "Jobs waiting for their turn.", [*JOB_LABELS, "priority"])
QUEUE_ADMISSIBLE = Gauge("kuantum_queue_admissible_jobs",
                         "Waiting jobs that fit a free slot now (they start within a reconcile or two).",
                         ["namespace", "workspace", "provider"])

# ----- providers -----
PROVIDER_TARGET_AVAILABLE = Gauge("kuantum_provider_target_available",
                                  "1 while a Provider's target is Available, else 0 (Degraded, Unavailable).",
                                  JOB_LABELS)
PROVIDER_CREDENTIALS_VALID = Gauge("kuantum_provider_credentials_valid",
                                   "1 while the provider accepts a Provider's credentials, 0 once it refused them "
                                   "(only for providers whose credentials are checked).",
                                   ["namespace", "workspace", "provider"])
PROVIDER_REQUESTS = Counter("kuantum_provider_requests_total",
                            "HTTP requests to remote providers' APIs, by outcome (ok, or why it failed).",
                            ["provider", "method", "outcome"])
PROVIDER_RETRIES = Counter("kuantum_provider_request_retries_total",
                           "Requests to a remote provider repeated after a transient failure.", ["provider"])
PROVIDER_REQUEST_SECONDS = Histogram("kuantum_provider_request_duration_seconds",
                                     "Time one HTTP request to a remote provider took.", ["provider", "method"],
                                     buckets=_LATENCY_BUCKETS)
PROVIDER_OUTCOMES = ("ok", "connect_error", "timeout", "transport_error", "malformed", "unauthorized",
                     "rate_limited", "server_error", "rejected")

# ----- the controller -----
RECONCILE_SECONDS = Histogram("kuantum_reconcile_duration_seconds", "Time one reconcile of an object took.",
                              ["kind"], buckets=_LATENCY_BUCKETS)
RECONCILE_ERRORS = Counter("kuantum_reconcile_errors_total", "Reconciles that raised and were retried.", ["kind"])
WORKQUEUE_DEPTH = Gauge("kuantum_workqueue_depth", "Keys waiting in the work queue for a worker, by lane.", ["lane"])
WORKQUEUE_WAIT = Histogram("kuantum_workqueue_wait_seconds", "Time a key waited in the work queue for a worker, by "
                           "lane (urgent: a child's change or a freed slot; front; background: a resync's bulk).",
                           ["lane"], buckets=_LATENCY_BUCKETS)
API_WRITES = Counter("kuantum_api_writes_total", "Write requests the operator sent to the API server.",
                     ["verb", "resource"])
API_REQUEST_SECONDS = Histogram("kuantum_api_request_duration_seconds", "Time one API server request took (with its "
                                "wait for a client thread), by client call.", ["call"], buckets=_LATENCY_BUCKETS)
STORAGE_REQUEST_SECONDS = Histogram("kuantum_storage_request_duration_seconds", "Time one blob storage call took "
                                    "(with its wait for a thread), by call.", ["call"], buckets=_LATENCY_BUCKETS)
LEADER = Gauge("kuantum_leader", "1 while this replica leads (reconciles), 0 while it stands by.", ["identity"])
KINDS = ("QuantumJob", "QuantumWorkspace", "Provider")

_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")


def init(version: str) -> None:
    """The series that exist before anything happens (zero), so their rates and alerts read from the start."""
    BUILD.info({"version": version})
    for kind in KINDS:
        RECONCILE_ERRORS.labels(kind=kind)
        RECONCILE_SECONDS.labels(kind=kind)
    for provider in remote_providers():
        PROVIDER_RETRIES.labels(provider=provider)
        PROVIDER_REQUEST_SECONDS.labels(provider, "GET")
        for outcome in PROVIDER_OUTCOMES:
            PROVIDER_REQUESTS.labels(provider=provider, method="GET", outcome=outcome)


def remote_providers() -> list[str]:
    """The catalog's providers with a remote target (they are reached over HTTP)."""
    from ..catalog import ALIASES

    return sorted({p for p in set(ALIASES.values()) if any(not t.local for t in targets_of(p).values())})


def provider_label(provider: str) -> str:
    """The canonical provider id, or `other` for one the catalog does not know (a label is never free text)."""
    return canonical_provider_id(provider) or OTHER


def target_label(provider: str, target: str) -> str:
    canonical = canonical_provider_id(provider)
    return target if canonical is not None and target in targets_of(canonical) else OTHER


def job_labels(namespace: str, workspace: str, provider: str, target: str,
               workspace_exists: Callable[[str, str], bool]) -> JobLabels:
    """A job's (namespace, workspace, provider, target) label values, bounded."""
    return (namespace, workspace if workspace and workspace_exists(namespace, workspace) else OTHER,
            provider_label(provider), target_label(provider, target))


def code_label(code: str) -> str:
    """An error code as a label: the codes are CamelCase words; anything else (a custom solver image's) is other."""
    return code if _CODE.match(code) else OTHER


def job_seen(labels: JobLabels, priority: str) -> None:
    """A job of these labels was accepted: the rates of its transitions and its histograms start at zero."""
    for state in STATES:
        TRANSITIONS.labels(*labels, state)
    QUEUE_WAIT.labels(*labels, priority)
    for state in STATES[2:]:
        EXECUTION.labels(*labels, state)
