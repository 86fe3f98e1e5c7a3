"""The dispatcher's queue places: a job being queued in this pass, 1-based positions and their cache.

Cases mutation testing found unasserted by test_dispatch.py (the same hand-filled Store).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from kuantum.models.common import LABEL_JOB_ID
from kuantum.objects import parse_job
from kuantum.runtime.settings import Settings
from kuantum.runtime.store import CHANGE_LOG, Store
from kuantum.scheduling.admission import Dispatcher

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
    d.claim(launched)
    assert _keys(d.waiting(GROUP, launched)) == [f"{NS}/a", f"{NS}/b", f"{NS}/c"]
    assert d.position(GROUP, launched) is None


def test_positions_are_per_target_and_follow_the_queue() -> None:
    store, d = _setup(_job("a", 1), _job("t", 2, target=TABU), _job("c", 3))
    jobs = store.groups[GROUP]
    assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("a", "t", "c")] == [1, 1, 2]
    store.put("QuantumJob", _job("early", 0))  # queued ahead of everyone: the cached places move
    jobs = store.groups[GROUP]
    assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("early", "a", "t", "c")] == [1, 2, 1, 3]
    d.claim(jobs[f"{NS}/early"])  # launched: out of the queue, the rest move up
    assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("early", "a", "c")] == [None, 1, 2]


def test_a_job_no_longer_started_is_back_in_its_queue() -> None:
    store, d = _setup(_job("a", 1), _job("b", 2))
    jobs = store.groups[GROUP]
    d.claim(jobs[f"{NS}/a"])
    assert d.position(GROUP, jobs[f"{NS}/b"]) == 1
    d.unclaim(jobs[f"{NS}/a"])  # its solver Job could not be created
    assert not d.claimed(jobs[f"{NS}/a"])
    assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("a", "b")] == [1, 2]
    d.unclaim(jobs[f"{NS}/a"])  # twice: no harm
    assert d.running(GROUP) == {}


def test_the_queue_is_scanned_once_then_updated_by_the_jobs_that_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of the cache: a reconcile of any job of the group does not rescan it (the 1,000-job run), and
    a change is applied for the job that changed (the 6,000-job run) until the change log is outrun."""
    store, d = _setup(_job("a", 1), _job("b", 2), _job("c", 3))
    scans = 0
    members = d.members

    def counting_members(group: Any) -> Any:
        nonlocal scans
        scans += 1  # one scan of the group's jobs
        return members(group)

    monkeypatch.setattr(d, "members", counting_members)
    jobs = store.groups[GROUP]
    for _ in range(3):
        assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("a", "b", "c")] == [1, 2, 3]
        assert len(d.waiting(GROUP)) == 3
    assert scans == 1
    store.put("QuantumJob", _job("d", 4))
    store.put("QuantumJob", _job("early", 0))
    jobs = store.groups[GROUP]
    assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("early", "a", "d")] == [1, 2, 5]
    assert scans == 1, "updated by the two jobs, not rescanned"
    for i in range(CHANGE_LOG + 1):
        store.put("QuantumJob", _job(f"n{i}", 59))
    assert d.position(GROUP, store.groups[GROUP][f"{NS}/a"]) == 2
    assert scans == 2, "more changes than the log holds: rebuilt"


@pytest.mark.parametrize("seed", range(6))
def test_the_updated_queue_always_equals_one_rebuilt_from_scratch(seed: int) -> None:
    """Random arrivals, starts, solver Jobs created and gone, ends, cancels, deletions and edits, read now and
    then (so updates batch up): the cached queue stays what a scan of the store gives."""
    rng = random.Random(seed)
    store, d = _setup(limit=rng.choice([None, 3]))
    names = [f"j{i}" for i in range(40)]
    claims: set[str] = set()
    for step in range(400):
        name = rng.choice(names)
        key = f"{NS}/{name}"
        action = rng.random()
        if action < 0.45:
            job = _job(name, rng.randrange(60), rng.choice(["Waiting", "Waiting", "Executing", "Succeeded", None]),
                       rng.choice([SA, TABU]))
            job["spec"]["priority"] = rng.choice(["High", "Standard"])
            job["spec"]["cancel"] = rng.random() < 0.1
            job["metadata"]["resourceVersion"] = str(step + 1)
            store.put("QuantumJob", job)
        elif action < 0.55:
            if key in store.jobs:
                store.remove("QuantumJob", store.jobs[key].body)
        elif action < 0.75:
            if rng.random() < 0.5:
                d.claim(parse_job(_job(name, 0)))
                claims.add(name)
            else:
                d.unclaim(parse_job(_job(name, 0)))
                claims.discard(name)
        else:
            child = {"metadata": {"name": f"kuantum-id-{name}", "namespace": NS,
                                  "labels": {LABEL_JOB_ID: f"id-{name}"}}}
            store.put_child("Job", child, deleted=rng.random() < 0.5)
        if rng.random() < 0.3:
            fresh = Dispatcher(store, d.settings)
            for claimed in claims:
                fresh.claim(parse_job(_job(claimed, 0)))
            assert d.waiting(GROUP) == fresh.waiting(GROUP), f"step {step}"
            assert d.running(GROUP) == fresh.running(GROUP), f"step {step}"
            assert d.admitted(GROUP) == fresh.admitted(GROUP), f"step {step}"
            for job in store.groups.get(GROUP, {}).values():
                assert d.position(GROUP, job) == fresh.position(GROUP, job), f"step {step}: {job.key}"
