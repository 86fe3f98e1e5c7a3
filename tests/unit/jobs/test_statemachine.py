"""The job state machine: allowed transitions, what each writes into status, invariants over any sequence, and
its notes (queue positions, explaining conditions)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kuantum.conditions import get_condition
from kuantum.jobs.statemachine import (
    ALLOWED,
    Cancelled,
    Completed,
    Enqueued,
    Event,
    Failed,
    InputUploaded,
    Noted,
    QueueMoved,
    Started,
    SubmitAttempted,
    Submitted,
    apply,
    can_move,
    is_final,
)
from kuantum.models import ErrorData, JobState, QuantumJobStatus

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T10:00:05Z"
T2 = "2024-05-01T10:00:17Z"
T3 = "2024-05-01T10:01:30Z"
JOB_ID = "0b0c6f6e-7d55-5d1e-9c55-2f5d2c3f6a01"
IN_URI = "http://127.0.0.1:10000/devstoreaccount1/job-x/inputData"
OUT_URI = "http://127.0.0.1:10000/devstoreaccount1/job-x/outputData"
FINAL = {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}
RANK = {None: 0, JobState.WAITING: 1, JobState.EXECUTING: 2,
        JobState.SUCCEEDED: 3, JobState.FAILED: 3, JobState.CANCELLED: 3}


def _state(status: QuantumJobStatus) -> JobState | None:
    return JobState(status.state) if status.state else None


def _cond_status(status: QuantumJobStatus, type_: str) -> str | None:
    c = get_condition(status.conditions, type_)
    return c.status if c else None


def _waiting(generation: int | None = 1) -> QuantumJobStatus:
    status = apply(QuantumJobStatus(), Enqueued(JOB_ID), T0, generation)
    return apply(apply(status, InputUploaded(IN_URI), T0, generation), QueueMoved(3), T0, generation)


def _executing() -> QuantumJobStatus:
    return apply(_waiting(), Started(T1), T1, 1)


# ---------------------------------------------------------------------------------------------- helpers
def test_is_final() -> None:
    assert not is_final(None)
    assert not is_final("Waiting")
    assert not is_final(JobState.EXECUTING)
    for state in ("Succeeded", "Failed", "Cancelled"):
        assert is_final(state)
        assert is_final(JobState(state))


def test_allowed_table_never_leaves_final_states_nor_goes_back() -> None:
    for state in FINAL:
        assert state not in ALLOWED
        for target in JobState:
            assert not can_move(state, target)
            assert not can_move(state.value, target)
    for current, targets in ALLOWED.items():
        for target in targets:
            assert RANK[target] > RANK[current]
    assert can_move(None, JobState.WAITING)
    assert not can_move(None, JobState.EXECUTING)
    assert not can_move(None, JobState.SUCCEEDED)
    assert can_move("Waiting", JobState.EXECUTING)
    assert not can_move("Waiting", JobState.SUCCEEDED)
    assert not can_move("Executing", JobState.WAITING)
    assert not can_move("Executing", JobState.EXECUTING)


# ---------------------------------------------------------------------------------------------- Enqueued
def test_enqueued_sets_id_times_and_conditions() -> None:
    before = QuantumJobStatus()
    status = apply(before, Enqueued(JOB_ID), T0, 4)
    assert before == QuantumJobStatus(), "apply must not mutate its input"
    assert status.state == JobState.WAITING
    assert status.id == JOB_ID
    assert status.creationTime == T0
    assert status.inputDataUri is None and status.queuePosition is None  # InputUploaded, QueueMoved
    assert status.observedGeneration == 4
    assert status.beginExecutionTime is None and status.endExecutionTime is None
    assert status.outputDataUri is None and status.errorData is None and status.duration is None
    assert _cond_status(status, "Queued") == "True"
    assert _cond_status(status, "Reconciling") == "True"
    assert _cond_status(status, "Ready") == "False"
    assert _cond_status(status, "Stalled") is None
    for c in status.conditions:
        assert c.lastTransitionTime == T0
        assert c.observedGeneration == 4
        assert c.reason


def test_enqueued_keeps_an_existing_creation_time() -> None:
    status = apply(QuantumJobStatus(creationTime="2024-01-01T00:00:00Z"), Enqueued(JOB_ID), T0)
    assert status.creationTime == "2024-01-01T00:00:00Z"


def test_enqueued_twice_is_ignored() -> None:
    waiting = _waiting()
    assert apply(waiting, Enqueued("other-id"), T1) is waiting


# ---------------------------------------------------------------------------------------------- Started
def test_started_sets_begin_time_clears_queue_position_and_keeps_ready_transition_time() -> None:
    waiting = _waiting()
    status = apply(waiting, Started(T1), T2, 1)
    assert status.state == JobState.EXECUTING
    assert status.beginExecutionTime == T1
    assert status.queuePosition is None
    assert status.id == JOB_ID and status.creationTime == T0
    assert _cond_status(status, "Executing") == "True"
    assert _cond_status(status, "Queued") == "False"
    assert _cond_status(status, "Reconciling") == "True"
    ready = get_condition(status.conditions, "Ready")
    assert ready is not None and ready.status == "False"
    assert ready.reason == "Executing"
    # Ready stayed False: its lastTransitionTime is the one of Waiting.
    assert ready.lastTransitionTime == T0
    reconciling = get_condition(status.conditions, "Reconciling")
    assert reconciling is not None and reconciling.lastTransitionTime == T0
    queued = get_condition(status.conditions, "Queued")
    assert queued is not None and queued.lastTransitionTime == T2
    executing = get_condition(status.conditions, "Executing")
    assert executing is not None and executing.lastTransitionTime == T2


def test_started_from_nothing_is_ignored() -> None:
    empty = QuantumJobStatus()
    assert apply(empty, Started(T1), T1) is empty


# ---------------------------------------------------------------------------------------------- Completed
def test_completed_sets_output_end_usage_duration_and_ready() -> None:
    status = apply(_executing(), Completed(OUT_URI, T2, {"executionSeconds": 12.0}), T3, 2)
    assert status.state == JobState.SUCCEEDED
    assert status.outputDataUri == OUT_URI
    assert status.endExecutionTime == T2
    assert status.usage == {"executionSeconds": 12.0}
    assert status.errorData is None
    assert status.duration == "12s"
    assert status.queuePosition is None
    assert status.observedGeneration == 2
    ready = get_condition(status.conditions, "Ready")
    assert ready is not None and ready.status == "True" and ready.reason == "Succeeded"
    assert ready.lastTransitionTime == T3
    assert _cond_status(status, "Reconciling") is None
    assert _cond_status(status, "Executing") == "False"
    assert _cond_status(status, "Queued") == "False"
    assert _cond_status(status, "Stalled") is None


def test_completed_while_waiting_is_ignored() -> None:
    waiting = _waiting()
    assert apply(waiting, Completed(OUT_URI, T2, {}), T2) is waiting


# ---------------------------------------------------------------------------------------------- Failed
def test_failed_while_executing() -> None:
    status = apply(_executing(), Failed("InvalidInputData", "bad problem", T2, {"executionSeconds": 1.0}), T3)
    assert status.state == JobState.FAILED
    assert status.errorData == ErrorData(code="InvalidInputData", message="bad problem")
    assert status.endExecutionTime == T2
    assert status.usage == {"executionSeconds": 1.0}
    assert status.outputDataUri is None
    assert status.duration == "12s"
    ready = get_condition(status.conditions, "Ready")
    assert ready is not None and ready.status == "False" and ready.reason == "Failed"
    assert "InvalidInputData" in ready.message and "bad problem" in ready.message
    stalled = get_condition(status.conditions, "Stalled")
    assert stalled is not None and stalled.status == "True"
    assert stalled.reason == "InvalidInputData" and stalled.message == "bad problem"
    assert _cond_status(status, "Reconciling") is None
    assert _cond_status(status, "Executing") == "False"


def test_failed_while_executing_without_end_time_uses_now() -> None:
    status = apply(_executing(), Failed("Timeout", "too long"), T3)
    assert status.endExecutionTime == T3
    assert status.duration == "1m25s"


def test_failed_while_waiting_has_no_execution_times() -> None:
    status = apply(_waiting(), Failed("InvalidTarget", "no such target"), T1)
    assert status.state == JobState.FAILED
    assert status.beginExecutionTime is None
    assert status.endExecutionTime is None
    assert status.duration is None
    assert status.queuePosition is None
    assert _cond_status(status, "Executing") is None  # it never executed
    assert _cond_status(status, "Stalled") == "True"


def test_failed_before_enqueued() -> None:
    status = apply(QuantumJobStatus(), Failed("InvalidTarget", "no such target"), T0, 1)
    assert status.state == JobState.FAILED
    assert status.errorData is not None and status.errorData.code == "InvalidTarget"
    assert _cond_status(status, "Ready") == "False"
    assert _cond_status(status, "Stalled") == "True"
    assert _cond_status(status, "Reconciling") is None


def test_failed_keeps_previous_usage_when_the_event_has_none() -> None:
    executing = _executing().model_copy(update={"usage": {"executionSeconds": 3.0}})
    status = apply(executing, Failed("X", "y"), T2)
    assert status.usage == {"executionSeconds": 3.0}


# ---------------------------------------------------------------------------------------------- Cancelled
def test_cancelled_while_waiting() -> None:
    status = apply(_waiting(), Cancelled(T1), T1)
    assert status.state == JobState.CANCELLED
    assert status.cancellationTime == T1
    assert status.endExecutionTime is None
    assert status.beginExecutionTime is None
    assert status.duration is None
    assert status.queuePosition is None
    assert status.errorData is None
    assert status.outputDataUri is None
    # Final as asked: Ready=True (kstatus Current), never Stalled (a cancel is not a failure).
    ready = get_condition(status.conditions, "Ready")
    assert ready is not None and ready.status == "True" and ready.reason == "Cancelled"
    assert ready.lastTransitionTime == T1
    assert _cond_status(status, "Reconciling") is None
    assert _cond_status(status, "Stalled") is None


def test_cancelled_while_executing_records_end_and_usage() -> None:
    status = apply(_executing(), Cancelled(T3, {"executionSeconds": 85.0}), T3)
    assert status.state == JobState.CANCELLED
    assert status.cancellationTime == T3
    assert status.endExecutionTime == T3
    assert status.usage == {"executionSeconds": 85.0}
    assert status.duration == "1m25s"
    assert _cond_status(status, "Executing") == "False"


def test_cancelled_before_enqueued() -> None:
    status = apply(QuantumJobStatus(), Cancelled(T0), T0)
    assert status.state == JobState.CANCELLED
    assert status.cancellationTime == T0


# ---------------------------------------------------------------------------------------------- final states
@pytest.mark.parametrize("event", [
    Enqueued("other"), Started(T3), Completed("out", T3, {"x": 1.0}), Failed("C", "m", T3), Cancelled(T3),
])
@pytest.mark.parametrize("final", ["succeeded", "failed", "cancelled"])
def test_final_states_never_change(final: str, event: Event) -> None:
    ex = _executing()
    status = {"succeeded": apply(ex, Completed(OUT_URI, T2, {}), T2),
              "failed": apply(ex, Failed("C", "m", T2), T2),
              "cancelled": apply(ex, Cancelled(T2), T2)}[final]
    snapshot = status.model_copy(deep=True)
    after = apply(status, event, "2030-01-01T00:00:00Z", 99)
    assert after is status
    assert after == snapshot


# ---------------------------------------------------------------------------------------------- duration
@pytest.mark.parametrize(("seconds", "expected"), [
    (0, "0s"), (1, "1s"), (12, "12s"), (59, "59s"), (60, "1m0s"), (61, "1m1s"), (125, "2m5s"), (3600, "60m0s"),
])
def test_duration_formatting(seconds: int, expected: str) -> None:
    begin = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
    end = (begin + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = apply(apply(_waiting(), Started(begin.strftime("%Y-%m-%dT%H:%M:%SZ")), T0), Completed("o", end, {}), end)
    assert status.duration == expected


def test_duration_never_negative() -> None:
    status = apply(apply(_waiting(), Started(T2), T2), Completed("o", T1, {}), T2)
    assert status.duration == "0s"


# ---------------------------------------------------------------------------------------------- properties
_BASE = datetime(2024, 5, 1, tzinfo=UTC)
stamps = st.integers(min_value=0, max_value=10 * 86400).map(
    lambda s: (_BASE + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ"))
codes = st.sampled_from(["InvalidInputData", "Timeout", "SolverFailed", "PodDeleted"])
usages = st.none() | st.dictionaries(st.sampled_from(["executionSeconds", "cpuSeconds"]),
                                     st.floats(0, 1e6, allow_nan=False), max_size=2)
events: st.SearchStrategy[Event] = st.one_of(
    st.builds(Enqueued, st.uuids().map(str)),
    st.builds(Started, stamps),
    st.builds(Completed, st.just(OUT_URI), stamps, usages.map(lambda u: u or {})),
    st.builds(Failed, codes, st.text(min_size=1, max_size=20), st.none() | stamps, usages),
    st.builds(Cancelled, stamps, usages),
)


def _check_invariants(status: QuantumJobStatus) -> None:
    state = _state(status)
    if state is None:
        assert status.conditions == []
        return
    # Ready=True exactly in the final states that ended as asked (kstatus Current); Failed is Stalled instead.
    assert (_cond_status(status, "Ready") == "True") == (state in (JobState.SUCCEEDED, JobState.CANCELLED))
    assert _cond_status(status, "Ready") is not None
    if state == JobState.FAILED:
        assert _cond_status(status, "Stalled") == "True"
    else:
        assert _cond_status(status, "Stalled") != "True"
    assert (get_condition(status.conditions, "Reconciling") is not None) == (
        state in (JobState.WAITING, JobState.EXECUTING))
    assert (status.errorData is not None) == (state == JobState.FAILED)
    if status.outputDataUri is not None:
        assert state == JobState.SUCCEEDED
    if state == JobState.SUCCEEDED:
        assert status.outputDataUri is not None
    if state != JobState.WAITING:
        assert status.queuePosition is None
    if state in FINAL:
        assert status.duration is not None or status.beginExecutionTime is None or status.endExecutionTime is None
    else:
        assert status.duration is None
    if state == JobState.EXECUTING:
        assert status.beginExecutionTime is not None
    if state == JobState.CANCELLED:
        assert status.cancellationTime is not None
    types = [c.type for c in status.conditions]
    assert len(types) == len(set(types)), "a condition type appears twice"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(events, stamps, st.none() | st.integers(1, 20)), max_size=12))
def test_any_sequence_of_events(sequence: list[tuple[Event, str, int | None]]) -> None:
    status = QuantumJobStatus()
    final_snapshot: QuantumJobStatus | None = None
    for event, now, generation in sequence:
        before_rank = RANK[_state(status)]
        new = apply(status, event, now, generation)
        # (b) never backwards
        assert RANK[_state(new)] >= before_rank
        # an ignored event returns the very same status
        if new.state == status.state:
            assert new is status
        # (a) once final, stays exactly equal
        if final_snapshot is not None:
            assert new == final_snapshot
        elif _state(new) in FINAL:
            final_snapshot = new.model_copy(deep=True)
        # the id, once set, never changes
        if status.id is not None:
            assert new.id == status.id
        if status.creationTime is not None:
            assert new.creationTime == status.creationTime
        if status.beginExecutionTime is not None:
            assert new.beginExecutionTime == status.beginExecutionTime
        # (c) conditions and fields
        _check_invariants(new)
        status = new


@settings(max_examples=100, deadline=None)
@given(stamps, stamps, stamps, stamps)
def test_condition_transition_times_follow_status_changes(t_enq: str, t_start: str, begin: str, t_end: str) -> None:
    waiting = apply(QuantumJobStatus(), Enqueued(JOB_ID), t_enq)
    executing = apply(waiting, Started(begin), t_start)
    done = apply(executing, Completed(OUT_URI, t_end, {}), t_end)
    ready_w = get_condition(waiting.conditions, "Ready")
    ready_e = get_condition(executing.conditions, "Ready")
    ready_d = get_condition(done.conditions, "Ready")
    assert ready_w and ready_e and ready_d
    assert ready_w.lastTransitionTime == ready_e.lastTransitionTime == t_enq
    assert ready_d.lastTransitionTime == t_end
    exec_e = get_condition(executing.conditions, "Executing")
    exec_d = get_condition(done.conditions, "Executing")
    assert exec_e and exec_d
    assert exec_e.lastTransitionTime == t_start
    assert exec_d.lastTransitionTime == t_end


def test_remote_submission_notes_keep_the_state_and_the_first_attempt() -> None:
    from kuantum.jobs.statemachine import SubmitAttempted, Submitted

    waiting = apply(QuantumJobStatus(), Enqueued("id-1"), "2026-01-01T00:00:00Z")
    attempted = apply(waiting, SubmitAttempted("2026-01-01T00:00:05Z"), "2026-01-01T00:00:05Z")
    assert attempted.state == JobState.WAITING and attempted.providerSubmitTime == "2026-01-01T00:00:05Z"
    again = apply(attempted, SubmitAttempted("2026-01-01T00:09:00Z"), "2026-01-01T00:09:00Z")
    assert again.providerSubmitTime == "2026-01-01T00:00:05Z"
    submitted = apply(again, Submitted("remote-7"), "2026-01-01T00:00:06Z")
    assert submitted.providerJobId == "remote-7" and submitted.state == JobState.WAITING
    final = apply(submitted, Cancelled("2026-01-01T00:01:00Z"), "2026-01-01T00:01:00Z")
    assert apply(final, Submitted("remote-8"), "2026-01-01T00:02:00Z") is final
    assert apply(QuantumJobStatus(), SubmitAttempted("t"), "t") == QuantumJobStatus()


@pytest.mark.parametrize("event", [
    Enqueued(JOB_ID), Started(T1), Completed("out", T2, {"executionSeconds": 1.0}), Failed("E", "m"),
    Cancelled(T3), SubmitAttempted(T1), Submitted("provider-id"),
], ids=lambda e: type(e).__name__)
def test_events_are_immutable_values(event: Event) -> None:
    """Events are recorded and replayed (and compared): none may change after it was created."""
    field = next(iter(dataclasses.fields(event))).name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(event, field, "changed")
    assert event == dataclasses.replace(event)


def test_apply_never_changes_its_input() -> None:
    status = apply(QuantumJobStatus(), Enqueued(JOB_ID), T0, 1)
    before = status.model_dump()
    for event in (Started(T1), Completed("out", T2, {"executionSeconds": 1.0}), Failed("E", "m", T2),
                  Cancelled(T3)):
        apply(status, event, T2, 2)
        assert status.model_dump() == before


# ---------------------------------------------------------------------------------------------- notes
NOW = "2026-11-28T12:00:00Z"
LATER = "2026-11-28T12:05:00Z"


def test_a_waiting_job_gets_its_queue_position_and_others_none() -> None:
    waiting = QuantumJobStatus(state=JobState.WAITING)
    assert apply(waiting, QueueMoved(3), NOW).queuePosition == 3
    placed = apply(waiting, QueueMoved(3), NOW)
    assert apply(placed, QueueMoved(3), NOW) is placed  # no change, no write
    executing = QuantumJobStatus(state=JobState.EXECUTING, queuePosition=2)
    assert apply(executing, QueueMoved(5), NOW).queuePosition is None


def test_a_note_is_set_once_and_changed_only_by_a_different_note() -> None:
    status = QuantumJobStatus(state=JobState.WAITING)
    reason = "".join(["Waiting", "ForCapacity"])  # as read back from JSON: not the same string object
    noted = apply(status, Noted("Queued", True, "WaitingForCapacity", "2 jobs ahead"), NOW)
    (queued,) = [c for c in noted.conditions if c.type == "Queued"]
    assert (queued.status, queued.reason, queued.message) == ("True", "WaitingForCapacity", "2 jobs ahead")
    again = apply(noted, Noted("Queued", True, reason, "2 jobs ahead"), LATER)
    assert again is noted
    moved = apply(noted, Noted("Queued", True, reason, "1 job ahead"), LATER)
    assert [c.message for c in moved.conditions if c.type == "Queued"] == ["1 job ahead"]
