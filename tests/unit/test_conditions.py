"""kstatus-style condition helpers."""

from __future__ import annotations

from kuantum.conditions import get_condition, remove_condition, set_condition
from kuantum.models import Condition

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T10:05:00Z"


def test_set_condition_adds_a_new_condition() -> None:
    conds = set_condition([], "Ready", True, "Done", "all good", T0, 3)
    assert conds == [Condition(type="Ready", status="True", reason="Done", message="all good",
                               lastTransitionTime=T0, observedGeneration=3)]


def test_set_condition_bool_and_string_status() -> None:
    assert set_condition([], "A", False, "r", "m", T0)[0].status == "False"
    assert set_condition([], "A", "Unknown", "r", "m", T0)[0].status == "Unknown"
    assert set_condition([], "A", "True", "r", "m", T0)[0].status == "True"


def test_set_condition_keeps_transition_time_when_status_unchanged() -> None:
    conds = set_condition([], "Ready", False, "Waiting", "waiting", T0, 1)
    conds = set_condition(conds, "Ready", False, "Executing", "executing", T1, 2)
    (ready,) = conds
    assert ready.lastTransitionTime == T0
    assert ready.reason == "Executing"
    assert ready.message == "executing"
    assert ready.observedGeneration == 2


def test_set_condition_updates_transition_time_when_status_changes() -> None:
    conds = set_condition([], "Ready", False, "Waiting", "waiting", T0)
    conds = set_condition(conds, "Ready", True, "Succeeded", "done", T1)
    assert conds[0].lastTransitionTime == T1
    assert conds[0].status == "True"


def test_set_condition_keeps_order_and_other_conditions_and_does_not_mutate() -> None:
    original = [Condition(type="A", status="True", lastTransitionTime=T0),
                Condition(type="B", status="False", lastTransitionTime=T0),
                Condition(type="C", status="True", lastTransitionTime=T0)]
    snapshot = [c.model_copy() for c in original]
    conds = set_condition(original, "B", True, "r", "m", T1)
    assert [c.type for c in conds] == ["A", "B", "C"]
    assert conds[0] == original[0] and conds[2] == original[2]
    assert conds[1].status == "True" and conds[1].lastTransitionTime == T1
    assert original == snapshot
    assert len(set_condition(conds, "D", True, "r", "m", T1)) == 4


def test_remove_and_get_condition() -> None:
    conds = set_condition(set_condition([], "A", True, "r", "m", T0), "B", False, "r", "m", T0)
    assert get_condition(conds, "A") is conds[0]
    assert get_condition(conds, "Z") is None
    assert [c.type for c in remove_condition(conds, "A")] == ["B"]
    assert remove_condition(conds, "Z") == conds
    assert get_condition([], "A") is None
