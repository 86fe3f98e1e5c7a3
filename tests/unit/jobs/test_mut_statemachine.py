"""State machine notes: queue positions and explaining conditions (cases mutation testing found unasserted)."""

from __future__ import annotations

from kuantum.jobs.statemachine import Noted, QueueMoved, apply
from kuantum.models import JobState, QuantumJobStatus

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
