"""The dispatcher's queue places: a job being queued in this pass, 1-based positions and their cache.

Cases mutation testing found unasserted by test_dispatch.py (the same hand-filled Store).
"""

from __future__ import annotations

from typing import Any

from kuantum.dispatch import Dispatcher
from kuantum.models.common import LABEL_JOB_ID
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
    for name in ("a", "b", "c"):
        job = store.groups[GROUP][f"{NS}/{name}"]
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
