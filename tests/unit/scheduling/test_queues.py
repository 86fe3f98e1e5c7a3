"""Per-target job queues: ordering, positions and admission under target and plan capacity."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kuantum.scheduling.queues import SHOWN_POSITIONS, QueueEntry, admit, ordered, positions, shown_position


def entry(name: str, target: str = "t1", priority: str = "Standard", created: str = "2024-05-01T10:00:00Z"
          ) -> QueueEntry:
    return QueueEntry(key=f"ns/{name}", target=target, priority=priority, created=created, name=name)


def test_high_priority_first_then_creation_time_then_name() -> None:
    a = entry("a", created="2024-05-01T10:00:03Z")
    b = entry("b", created="2024-05-01T10:00:01Z")
    c = entry("c", priority="High", created="2024-05-01T10:00:09Z")
    d = entry("d", created="2024-05-01T10:00:01Z")
    e = entry("e", priority="High", created="2024-05-01T10:00:09Z")
    assert [x.name for x in ordered([a, b, c, d, e])] == ["c", "e", "b", "d", "a"]
    assert [x.name for x in ordered([e, d, c, b, a])] == ["c", "e", "b", "d", "a"]


def test_ordered_empty() -> None:
    assert ordered([]) == []
    assert positions([]) == {}
    assert admit([], {}, 1, None) == []


def test_positions_are_one_based_per_target() -> None:
    waiting = [
        entry("a", "t1", created="2024-05-01T10:00:01Z"),
        entry("b", "t2", created="2024-05-01T10:00:02Z"),
        entry("c", "t1", created="2024-05-01T10:00:03Z"),
        entry("d", "t1", priority="High", created="2024-05-01T10:00:04Z"),
        entry("e", "t2", created="2024-05-01T10:00:00Z"),
    ]
    assert positions(waiting) == {"ns/d": 1, "ns/a": 2, "ns/c": 3, "ns/e": 1, "ns/b": 2}


def test_admit_respects_target_capacity_and_running_jobs() -> None:
    waiting = [entry(n, created=f"2024-05-01T10:00:0{i}Z") for i, n in enumerate("abcd")]
    assert admit(waiting, {}, 2, None) == ["ns/a", "ns/b"]
    assert admit(waiting, {"t1": 1}, 2, None) == ["ns/a"]
    assert admit(waiting, {"t1": 2}, 2, None) == []
    assert admit(waiting, {"t1": 5}, 2, None) == []


def test_admit_respects_plan_capacity_across_targets() -> None:
    waiting = [entry("a", "t1", created="2024-05-01T10:00:01Z"),
               entry("b", "t2", created="2024-05-01T10:00:02Z"),
               entry("c", "t3", created="2024-05-01T10:00:03Z")]
    assert admit(waiting, {}, 1, None) == ["ns/a", "ns/b", "ns/c"]
    assert admit(waiting, {}, 1, 2) == ["ns/a", "ns/b"]
    assert admit(waiting, {"t9": 1}, 1, 2) == ["ns/a"]
    assert admit(waiting, {"t9": 2}, 1, 2) == []
    assert admit(waiting, {}, 5, 0) == []


def test_admit_returns_queue_order_with_priorities() -> None:
    waiting = [entry("a", created="2024-05-01T10:00:01Z"), entry("b", priority="High", created="2024-05-01T10:00:05Z")]
    assert admit(waiting, {}, 1, None) == ["ns/b"]
    assert admit(waiting, {}, 2, None) == ["ns/b", "ns/a"]


def test_blocked_target_does_not_block_other_targets() -> None:
    waiting = [entry("a", "t1", created="2024-05-01T10:00:01Z"),
               entry("b", "t2", created="2024-05-01T10:00:02Z"),
               entry("c", "t1", created="2024-05-01T10:00:03Z")]
    assert admit(waiting, {"t1": 1}, 1, None) == ["ns/b"]


# ---------------------------------------------------------------------------------------------- properties
TARGETS = ["t1", "t2", "t3"]
entries = st.builds(
    lambda i, target, prio, sec: QueueEntry(key=f"ns/j{i}", target=target, priority=prio,
                                            created=f"2024-05-01T10:{sec // 60:02d}:{sec % 60:02d}Z", name=f"j{i}"),
    st.integers(0, 10_000), st.sampled_from(TARGETS), st.sampled_from(["High", "Standard"]), st.integers(0, 3599))
waiting_lists = st.lists(entries, max_size=25, unique_by=lambda e: e.key)
running_maps = st.dictionaries(st.sampled_from([*TARGETS, "other"]), st.integers(0, 4), max_size=4)


@settings(max_examples=300, deadline=None)
@given(waiting_lists, running_maps, st.integers(0, 4), st.none() | st.integers(0, 8))
def test_admit_properties(waiting: list[QueueEntry], running: dict[str, int], cap: int, plan: int | None) -> None:
    chosen = admit(waiting, running, cap, plan)
    by_key = {e.key: e for e in waiting}
    assert len(chosen) == len(set(chosen))
    assert set(chosen) <= set(by_key)
    # in queue order
    order = [e.key for e in ordered(waiting)]
    assert chosen == [k for k in order if k in set(chosen)]
    # capacities
    started = Counter(by_key[k].target for k in chosen)
    for target, n in started.items():
        assert running.get(target, 0) + n <= cap
    if plan is not None:
        assert sum(running.values()) + len(chosen) <= max(plan, sum(running.values()))
        if sum(running.values()) >= plan:
            assert chosen == []
    # no overtaking: admitted jobs of a target are a prefix of that target's queue
    for target in TARGETS:
        queue = [e.key for e in ordered(waiting) if e.target == target]
        admitted = [k for k in chosen if by_key[k].target == target]
        assert admitted == queue[:len(admitted)]
    # maximal: when nothing limits, everything that fits is admitted
    if plan is None:
        for target in TARGETS:
            queue = [e for e in waiting if e.target == target]
            assert started[target] == min(len(queue), max(0, cap - running.get(target, 0)))
    else:
        # the plan only cuts the unlimited admission short, in queue order
        unlimited = admit(waiting, running, cap, None)
        assert chosen == unlimited[:max(0, plan - sum(running.values()))]


@settings(max_examples=200, deadline=None)
@given(waiting_lists)
def test_positions_properties(waiting: list[QueueEntry]) -> None:
    pos = positions(waiting)
    assert set(pos) == {e.key for e in waiting}
    for target in TARGETS:
        queue = [e.key for e in ordered(waiting) if e.target == target]
        assert [pos[k] for k in queue] == list(range(1, len(queue) + 1))
    assert positions(list(reversed(waiting))) == pos


def test_queue_entries_are_values() -> None:
    """Entries are immutable, hashable values: equal entries collapse in sets, and none changes in a queue."""
    a = QueueEntry("ns/a", "t", "High", "2024-01-01T00:00:00Z", "a")
    same = QueueEntry("ns/a", "t", "High", "2024-01-01T00:00:00Z", "a")
    assert {a, same} == {a}
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.priority = "Standard"  # type: ignore[misc]


def test_a_sessions_jobs_go_ahead_of_standalone_ones_of_the_same_priority() -> None:
    """Azure runs a session's jobs before standalone jobs of its target and priority; High still comes first."""
    batch = entry("batch", created="2024-05-01T10:00:00Z")
    loop = dataclasses.replace(entry("loop", created="2024-05-01T10:05:00Z"), in_session=True)
    urgent = entry("urgent", priority="High", created="2024-05-01T10:09:00Z")
    assert [x.name for x in ordered([batch, loop, urgent])] == ["urgent", "loop", "batch"]
    assert positions([batch, loop]) == {"ns/loop": 1, "ns/batch": 2}


def test_a_status_shows_the_first_five_positions_exactly_and_none_deeper() -> None:
    assert SHOWN_POSITIONS == 5
    assert [shown_position(p) for p in (1, 2, 5)] == [1, 2, 5]
    assert shown_position(6) is None and shown_position(500) is None
    assert shown_position(None) is None
