"""kstatus verdicts (Flux, kubectl wait, cli-utils) of QuantumJobs in every state, as the state machine writes them.

Succeeded -> Current; Failed -> Failed (Stalled=True); Cancelled -> Current (Ready=True, reason Cancelled: the
job ended as its spec asked, nothing will change any more, and nothing failed); Waiting and Executing ->
InProgress (Reconciling=True) with observedGeneration current.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kuantum.jobs.statemachine import (
    Cancelled,
    Completed,
    Enqueued,
    Event,
    Failed,
    QueueMoved,
    Started,
    apply,
    is_final,
)
from kuantum.models import QuantumJobStatus

from tests.support import kstatus
from tests.support.kstatus import CURRENT, FAILED, IN_PROGRESS, TERMINATING

T0, T1, T2, T3 = "2024-05-01T10:00:00Z", "2024-05-01T10:00:05Z", "2024-05-01T10:00:17Z", "2024-05-01T10:01:30Z"
JOB_ID = "0b0c6f6e-7d55-5d1e-9c55-2f5d2c3f6a01"
OUT = "http://127.0.0.1:10000/devstoreaccount1/job-x/outputData"


def job(status: QuantumJobStatus | None, generation: int = 1, **metadata: Any) -> dict[str, Any]:
    """The object as the API server returns it; observedGeneration as the operator writes it (the job's
    generation at the time of the write, see StatusWriter._write_status in jobs/status.py)."""
    obj: dict[str, Any] = {
        "apiVersion": "kuantum.dev/v1alpha1", "kind": "QuantumJob",
        "metadata": {"name": "j", "namespace": "ns", "generation": generation, **metadata},
        "spec": {"workspace": "ws", "provider": "microsoft-qio", "target": "microsoft.simulatedannealing.cpu"},
    }
    if status is not None:
        written = status.model_copy(update={"observedGeneration": generation})
        obj["status"] = written.model_dump(mode="json", exclude_none=True)
    return obj


def run(*events: Event) -> QuantumJobStatus:
    status = QuantumJobStatus()
    for event in events:
        status = apply(status, event, T1, 1)
    return status


WAITING = (Enqueued(JOB_ID), QueueMoved(2))
EXECUTING = (*WAITING, Started(T1))
CASES: dict[str, tuple[tuple[Event, ...], str]] = {
    "waiting": (WAITING, IN_PROGRESS),
    "executing": (EXECUTING, IN_PROGRESS),
    "succeeded": ((*EXECUTING, Completed(OUT, T2, {"executionSeconds": 12.0})), CURRENT),
    "failed-executing": ((*EXECUTING, Failed("InvalidInputData", "bad problem", T2)), FAILED),
    "failed-waiting": ((*WAITING, Failed("InvalidTarget", "no such target")), FAILED),
    "failed-at-once": ((Failed("InvalidSpec", "spec.target: field required"),), FAILED),
    "cancelled-waiting": ((*WAITING, Cancelled(T2)), CURRENT),
    "cancelled-executing": ((*EXECUTING, Cancelled(T3, {"executionSeconds": 85.0})), CURRENT),
    "cancelled-at-once": ((Cancelled(T0),), CURRENT),
}


@pytest.mark.parametrize(("events", "verdict"), CASES.values(), ids=CASES.keys())
def test_every_state_has_its_verdict(events: tuple[Event, ...], verdict: str) -> None:
    assert kstatus.compute(job(run(*events))).status == verdict


def test_failed_carries_the_error_into_the_verdict() -> None:
    result = kstatus.compute(job(run(*EXECUTING, Failed("InvalidInputData", "bad problem", T2))))
    assert result == kstatus.Result(FAILED, "bad problem", "InvalidInputData")


def test_waiting_and_executing_say_why() -> None:
    assert kstatus.compute(job(run(*WAITING))).reason == "Waiting"
    assert kstatus.compute(job(run(*EXECUTING))).reason == "Executing"


def test_an_unobserved_spec_change_is_in_progress_until_the_operator_writes() -> None:
    obj = job(run(*WAITING), generation=1)
    obj["metadata"]["generation"] = 2  # e.g. spec.cancel set; the operator has not seen it yet
    result = kstatus.compute(obj)
    assert (result.status, result.reason) == (IN_PROGRESS, "LatestGenerationNotObserved")


def test_a_final_job_is_judged_by_its_conditions_only_when_its_generation_is_observed() -> None:
    """A final job's state never changes, but a change to a mutable field (tags, ttlSecondsAfterFinished)
    bumps metadata.generation: kstatus says InProgress until the operator records the new
    observedGeneration (the only status field it may still write on a final job)."""
    done = run(*EXECUTING, Completed(OUT, T2, {}))
    assert kstatus.compute(job(done, generation=3)).status == CURRENT
    stale = job(done, generation=3)
    stale["metadata"]["generation"] = 4
    assert kstatus.compute(stale).status == IN_PROGRESS


def test_deleting_a_job_is_terminating() -> None:
    obj = job(run(*EXECUTING), deletionTimestamp=T3)
    assert kstatus.compute(obj).status == TERMINATING


def test_a_job_without_status_is_current_by_kstatus_rules() -> None:
    """kstatus's documented blind spot: before the operator's first write a custom resource has no
    conditions and counts as Current. The operator writes Waiting (Ready=False, Reconciling=True) on its
    first reconcile; a job in a namespace no operator watches stays like this (see Troubleshooting)."""
    assert kstatus.compute(job(None)).status == CURRENT


# ------------------------------------------------------------------------------ any sequence of events
_stamps = st.sampled_from([T0, T1, T2, T3])
_events: st.SearchStrategy[Event] = st.one_of(
    st.builds(Enqueued, st.just(JOB_ID)),
    st.builds(QueueMoved, st.none() | st.integers(1, 9)),
    st.builds(Started, _stamps),
    st.builds(Completed, st.just(OUT), _stamps, st.just({})),
    st.builds(Failed, st.sampled_from(["Timeout", "SolverFailed"]), st.just("m"), st.none() | _stamps),
    st.builds(Cancelled, _stamps),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_events, min_size=1, max_size=8), st.integers(1, 5))
def test_any_history_final_means_a_final_verdict(events: list[Event], generation: int) -> None:
    status = QuantumJobStatus()
    for event in events:
        status = apply(status, event, T2, generation)
    if status.state is None:
        return
    verdict = kstatus.compute(job(status, generation)).status
    if is_final(status.state):
        assert verdict == (FAILED if status.state == "Failed" else CURRENT)
    else:
        assert verdict == IN_PROGRESS


# ------------------------------------------------------------------------------ workspace and provider
def _cond(type_: str, status: str, reason: str, message: str = "m") -> dict[str, str]:
    return {"type": type_, "status": status, "reason": reason, "message": message, "lastTransitionTime": T0}


@pytest.mark.parametrize(("conditions", "verdict"), [
    ([_cond("Ready", "True", "Ready")], CURRENT),
    # workspaces/provider_reconciler.py: a permanent problem is Stalled, a passing one Reconciling.
    ([_cond("Ready", "False", "DuplicateProvider"), _cond("Stalled", "True", "DuplicateProvider")], FAILED),
    ([_cond("Ready", "False", "WorkspaceNotFound"), _cond("Reconciling", "True", "WorkspaceNotFound")], IN_PROGRESS),
    # workspaces/workspace_reconciler.py: storage not reachable yet is retried with backoff.
    ([_cond("StorageReady", "False", "StorageUnreachable"), _cond("Ready", "False", "StorageUnreachable"),
      _cond("Reconciling", "True", "StorageUnreachable")], IN_PROGRESS),
])
def test_provider_and_workspace_conditions(conditions: list[dict[str, str]], verdict: str) -> None:
    for kind in ("Provider", "QuantumWorkspace"):
        obj = {"apiVersion": "kuantum.dev/v1alpha1", "kind": kind, "metadata": {"name": "x", "generation": 2},
               "status": {"observedGeneration": 2, "conditions": conditions}}
        assert kstatus.compute(obj).status == verdict


# ------------------------------------------------------------------------------ the port itself
def test_port_first_abnormal_condition_in_list_order_wins() -> None:
    both = {"apiVersion": "x.dev/v1", "kind": "X", "metadata": {},
            "status": {"conditions": [_cond("Stalled", "True", "S"), _cond("Reconciling", "True", "R")]}}
    assert kstatus.compute(both).status == FAILED
    both["status"]["conditions"].reverse()
    assert kstatus.compute(both).status == IN_PROGRESS


def test_port_ready_unknown_is_in_progress_and_absent_generation_skips_the_check() -> None:
    obj = {"apiVersion": "x.dev/v1", "kind": "X", "metadata": {},
           "status": {"observedGeneration": 7, "conditions": [_cond("Ready", "Unknown", "U")]}}
    assert kstatus.compute(obj).status == IN_PROGRESS
    obj["status"]["conditions"] = [_cond("Ready", "True", "OK")]
    assert kstatus.compute(obj).status == CURRENT
