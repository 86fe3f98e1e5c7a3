"""No tests of its own any more: the job reconciler's tests are split by subject into test_job_reconciler_*.py.

test_job_reconciler_admission.py (acceptance, prerequisites, queue, quotas), test_job_reconciler_lifecycle.py
(cancel, spec changes, conflicts, deletion, TTL, final Events), test_job_reconciler_pod.py (the pod backend) and
test_job_reconciler_ionq.py / test_job_reconciler_quantinuum.py (the remote backend), all over the World of
tests/support/job_world.py. This module only re-exports that World and its helpers under the names other test
modules still import from here (test_mut_objects.py, test_mut_pod_backend.py, test_mut_remote_backend.py,
test_job_reconciler_quantinuum.py); new code imports them from tests.support.job_world.
"""

from __future__ import annotations

from tests.support.job_world import (
    API_KEY,
    ARIA,
    BELL,
    IONQ_SIM,
    NS,
    QIO_INPUT,
    SA,
    SOLVER_IMAGE,
    WS,
    Pass,
    World,
    _admitted_remote,
    _condition,
    _events,
    _hours_ago,
    _started_pod_job,
    _status_body,
    _submitted,
    _uid,
)

__all__ = [
    "API_KEY",
    "ARIA",
    "BELL",
    "IONQ_SIM",
    "NS",
    "QIO_INPUT",
    "SA",
    "SOLVER_IMAGE",
    "WS",
    "Pass",
    "World",
    "_admitted_remote",
    "_condition",
    "_events",
    "_hours_ago",
    "_started_pod_job",
    "_status_body",
    "_submitted",
    "_uid",
]
