"""The dispatcher's queue places: a job being queued in this pass, 1-based positions and their cache.

Cases mutation testing found unasserted by test_dispatch.py (the same hand-filled Store).
"""

from __future__ import annotations

from typing import Any

import pytest
from kuantum import queueing
from kuantum.dispatch import Dispatcher
from kuantum.models.common import LABEL_JOB_ID
from kuantum.objects import parse_job
from kuantum.settings import Settings
from kuantum.store import Store

NS, WS = "ns", "ws"
SA = "microsoft.simulatedannealing.cpu"
TABU = "microsoft.tabu.cpu"
GROUP = (NS, WS, "microsoft-qio")


def _job(name: str, second: int, state: str | None = "Waiting", target: str = SA) -> dict[str, Any]:
    created = f"2024-01-01T00:00:{second:02d}Z"
    status = {"id": f"id-{name}", "state": state} if state else {}
    return {"metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "creationTimestamp": created,
                         "labels": {LABEL_JOB_ID: f"id-{name}"}},
            "spec": {"workspace": WS, "provider": "microsoft-qio", "target": target}, "status": status}


def _setup(*jobs: dict[str, Any], limit: int | None = None) -> tuple[Store, Dispatcher]:
    store = Store()
    spec: dict[str, Any] = {"workspace": WS, "providerId": "microsoft-qio"}
    if limit is not None:
        spec["billingPlan"] = {"limits": {"maxConcurrentJobs": limit}}
    store.put("Provider", {"metadata": {"name": "qio", "namespace": NS, "uid": "uid-qio",
                                        "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": spec})
    for job in jobs:
        store.put("QuantumJob", job)
    return store, Dispatcher(store, Settings(target_concurrency=100))


def _keys(entries: list[Any]) -> list[str]:
    return [e.key for e in entries]


def test_a_job_being_queued_takes_its_place_in_the_same_pass() -> None:
    store, d = _setup(_job("a", 1), _job("c", 3), limit=2)
    joining = store.put_job(_job("b", 2, state=None))  # its Waiting status is not written yet
    assert _keys(d.waiting(GROUP)) == [f"{NS}/a", f"{NS}/c"]
    assert _keys(d.waiting(GROUP, joining)) == [f"{NS}/a", f"{NS}/b", f"{NS}/c"]
    assert d.position(GROUP, joining) == 2
    assert d.admitted(GROUP, joining) == [f"{NS}/a", f"{NS}/b"]


def test_a_job_already_waiting_or_launched_is_not_placed_twice() -> None:
    store, d = _setup(_job("a", 1), _job("b", 2), _job("c", 3))
    for name, second in (("a", 1), ("b", 2), ("c", 3)):
        for job in (store.groups[GROUP][f"{NS}/{name}"], parse_job(_job(name, second))):  # the store's, or an event's
            assert _keys(d.waiting(GROUP, job)) == [f"{NS}/a", f"{NS}/b", f"{NS}/c"]
    launched = store.put_job(_job("z", 0, state=None))
    d.started.add(launched.key)
    assert _keys(d.waiting(GROUP, launched)) == [f"{NS}/a", f"{NS}/b", f"{NS}/c"]
    assert d.position(GROUP, launched) is None


def test_positions_are_per_target_and_follow_the_queue() -> None:
    store, d = _setup(_job("a", 1), _job("t", 2, target=TABU), _job("c", 3))
    jobs = store.groups[GROUP]
    assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("a", "t", "c")] == [1, 1, 2]
    store.put("QuantumJob", _job("early", 0))  # queued ahead of everyone: the cached places move
    jobs = store.groups[GROUP]
    assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("early", "a", "t", "c")] == [1, 2, 1, 3]
    d.started.add(f"{NS}/early")  # launched: out of the queue, the rest move up
    assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("early", "a", "c")] == [None, 1, 2]


def test_a_job_no_longer_started_is_back_in_its_queue() -> None:
    store, d = _setup(_job("a", 1), _job("b", 2))
    jobs = store.groups[GROUP]
    d.started.add(f"{NS}/a")
    assert d.position(GROUP, jobs[f"{NS}/b"]) == 1
    d.started.discard(f"{NS}/a")  # its solver Job could not be created
    assert f"{NS}/a" not in d.started
    assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("a", "b")] == [1, 2]
    d.started.discard(f"{NS}/a")  # twice: no harm
    assert d.running(GROUP) == {}


def test_the_queue_is_computed_once_per_change_of_its_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of the cache: a reconcile of any job of the group does not re-sort it (the 1,000-job run)."""
    calls = {"members": 0, "positions": 0}
    positions = queueing.positions

    def counting_positions(entries: Any) -> Any:
        calls["positions"] += 1
        return positions(entries)

    monkeypatch.setattr(queueing, "positions", counting_positions)
    store, d = _setup(_job("a", 1), _job("b", 2), _job("c", 3))
    members = d.members

    def counting_members(group: Any) -> Any:
        calls["members"] += 1  # one scan of the group's jobs
        return members(group)

    monkeypatch.setattr(d, "members", counting_members)
    jobs = store.groups[GROUP]
    for _ in range(3):
        assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("a", "b", "c")] == [1, 2, 3]
        assert len(d.waiting(GROUP)) == 3
    assert calls == {"members": 1, "positions": 1}
    store.put("QuantumJob", _job("d", 4))
    jobs = store.groups[GROUP]
    for _ in range(3):
        assert d.position(GROUP, jobs[f"{NS}/d"]) == 4
    assert calls == {"members": 2, "positions": 2}
