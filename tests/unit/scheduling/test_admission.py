"""The Dispatcher (kuantum/scheduling/admission.py) over a hand-filled Store: which waiting jobs may start, under the
plan's and the target's concurrency limits; the slots it owns; a job being queued in this pass, 1-based positions
and the cached queue, which always equals one rebuilt from scratch."""

from __future__ import annotations

import random
from typing import Any

import pytest
from kuantum.models.common import LABEL_JOB_ID
from kuantum.objects import parse_job
from kuantum.runtime.settings import Settings
from kuantum.runtime.store import CHANGE_LOG, Store, group_of
from kuantum.scheduling.admission import Dispatcher

NS, WS = "ns", "ws"
SA = "microsoft.simulatedannealing.cpu"
TABU = "microsoft.tabu.cpu"
GROUP = (NS, WS, "microsoft-qio")


def _provider(limits: dict[str, Any] | None, name: str = "qio", created: str = "2024-01-01T00:00:00Z"
              ) -> dict[str, Any]:
    spec: dict[str, Any] = {"workspace": WS, "providerId": "microsoft-qio", "billingPlan": {"name": "free"}}
    if limits is not None:
        spec["billingPlan"]["limits"] = limits
    return {"metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "creationTimestamp": created},
            "spec": spec}


def _job(name: str, state: str | None = "Waiting", target: str = SA, priority: str = "Standard",
         created: str = "2024-01-01T00:00:00Z", annotations: dict[str, str] | None = None, **spec: Any
         ) -> dict[str, Any]:
    status = {"id": f"id-{name}", "state": state} if state else {}
    return {"metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "creationTimestamp": created,
                         "labels": {LABEL_JOB_ID: f"id-{name}"}, "annotations": annotations or {}},
            "spec": {"workspace": WS, "provider": "microsoft-qio", "target": target, "priority": priority, **spec},
            "status": status}


def _store(providers: list[dict[str, Any]], jobs: list[dict[str, Any]], running: tuple[str, ...] = ()) -> Store:
    store = Store()
    for p in providers:
        store.put("Provider", p)
    for j in jobs:
        store.put("QuantumJob", j)
    for name in running:  # a solver batch Job exists for these jobs
        store.put_child("Job", {"metadata": {"name": f"kuantum-id-{name}", "namespace": NS,
                                             "labels": {LABEL_JOB_ID: f"id-{name}"}}}, deleted=False)
    return store


def _dispatcher(store: Store, target_concurrency: int = 100) -> Dispatcher:
    return Dispatcher(store, Settings(target_concurrency=target_concurrency))


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_plan_capacity_is_the_billing_plans_max_concurrent_jobs(limit: int) -> None:
    d = _dispatcher(_store([_provider({"maxConcurrentJobs": limit})], []))
    assert d.plan_capacity(GROUP) == limit


def test_plan_capacity_without_provider_or_limit_is_unlimited() -> None:
    assert _dispatcher(_store([], [])).plan_capacity(GROUP) is None
    assert _dispatcher(_store([_provider(None)], [])).plan_capacity(GROUP) is None
    assert _dispatcher(_store([_provider({"maxJobsPerMonth": 5})], [])).plan_capacity(GROUP) is None


def test_plan_capacity_comes_from_the_oldest_provider_of_the_id() -> None:
    store = _store([_provider({"maxConcurrentJobs": 5}, "late", "2024-02-01T00:00:00Z"),
                    _provider({"maxConcurrentJobs": 2}, "early", "2024-01-01T00:00:00Z")], [])
    assert _dispatcher(store).plan_capacity(GROUP) == 2


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_admits_exactly_max_concurrent_jobs_across_targets(limit: int) -> None:
    jobs = [_job(f"j{i}", target=(SA, TABU)[i % 2], created=f"2024-01-01T00:00:0{i}Z") for i in range(6)]
    d = _dispatcher(_store([_provider({"maxConcurrentJobs": limit})], jobs))
    admitted = d.admitted(GROUP)
    assert admitted == [f"{NS}/j{i}" for i in range(limit)]


def test_running_jobs_count_against_the_plan() -> None:
    jobs = [_job("r1", state="Executing"), _job("r2", state="Waiting", target=TABU),
            _job("w1", created="2024-01-02T00:00:00Z"), _job("w2", created="2024-01-03T00:00:00Z")]
    store = _store([_provider({"maxConcurrentJobs": 3})], jobs, running=("r1", "r2"))
    d = _dispatcher(store)
    assert d.running(GROUP) == {SA: 1, TABU: 1}
    assert d.admitted(GROUP) == [f"{NS}/w1"]  # 2 running + 1 = the plan's 3
    full = _store([_provider({"maxConcurrentJobs": 2})], jobs, running=("r1", "r2"))
    assert _dispatcher(full).admitted(GROUP) == []


def test_final_jobs_do_not_count_as_running() -> None:
    jobs = [_job("done", state="Succeeded"), _job("w1", created="2024-01-02T00:00:00Z")]
    store = _store([_provider({"maxConcurrentJobs": 1})], jobs, running=("done",))
    assert _dispatcher(store).admitted(GROUP) == [f"{NS}/w1"]


def test_target_concurrency_without_a_plan_limit() -> None:
    jobs = [_job(f"j{i}", created=f"2024-01-01T00:00:0{i}Z") for i in range(4)]
    d = _dispatcher(_store([_provider(None)], jobs), target_concurrency=2)
    assert d.admitted(GROUP) == [f"{NS}/j0", f"{NS}/j1"]


def test_waiting_skips_cancelled_deleted_started_and_unidentified_jobs() -> None:
    deleted = _job("deleted")
    deleted["metadata"]["deletionTimestamp"] = "2024-01-05T00:00:00Z"
    jobs = [_job("ok"), _job("cancel", cancel=True), deleted, _job("new", state=None), _job("started"),
            _job("other-ws", workspace="ws2")]
    store = _store([_provider(None)], jobs, running=("started",))
    d = _dispatcher(store)
    assert [e.key for e in d.waiting(GROUP)] == [f"{NS}/ok"]
    d.claim(store.jobs[f"{NS}/ok"])  # a solver Job was just created, not yet seen by the watch
    assert d.waiting(GROUP) == []


def test_high_priority_first() -> None:
    jobs = [_job("std", created="2024-01-01T00:00:00Z"), _job("high", priority="High", created="2024-01-09T00:00:00Z")]
    d = _dispatcher(_store([_provider({"maxConcurrentJobs": 1})], jobs))
    assert d.admitted(GROUP) == [f"{NS}/high"]


def test_groups_and_group_of_use_the_canonical_provider_id() -> None:
    jobs = [_job("a", provider="Microsoft.QIO"), _job("b", provider="microsoft")]
    assert {group_of(j) for j in jobs} == {GROUP}
    d = _dispatcher(_store([_provider({"maxConcurrentJobs": 1})], jobs))
    assert d.groups() == {GROUP}
    assert d.admitted(GROUP) == [f"{NS}/a"]


def test_a_joining_jobs_position_and_admission_match_a_full_sort() -> None:
    """The queue is computed once per change; a job being queued is placed by bisection, as a sort would."""
    jobs = [_job(f"j{i}", created=f"2024-01-01T00:00:{i:02d}Z", priority="High" if i % 3 == 0 else "Standard",
                 target=SA if i % 2 else TABU) for i in range(12)]
    store = _store([_provider({"maxConcurrentJobs": 2})], jobs, running=("j1",))
    d = _dispatcher(store, target_concurrency=1)
    for joining in (_job("new", state=None, created="2024-01-01T00:00:05Z", priority="High", target=SA),
                    _job("late", state=None, created="2024-01-02T00:00:00Z", target=TABU)):
        store.put("QuantumJob", joining)
        typed = store.jobs[f"{NS}/{joining['metadata']['name']}"]
        full = [e for e in d.waiting(GROUP, joining=typed) if e.target == typed.target]
        assert d.position(GROUP, typed) == [e.key for e in full].index(typed.key) + 1
        assert d.admitted(GROUP, joining=typed) == d.admitted(GROUP, joining=typed)


def test_admission_follows_a_plan_change_without_a_queue_change() -> None:
    jobs = [_job(f"j{i}", created=f"2024-01-01T00:00:{i:02d}Z") for i in range(4)]
    store = _store([_provider({"maxConcurrentJobs": 1})], jobs)
    d = _dispatcher(store)
    assert d.admitted(GROUP) == [f"{NS}/j0"]
    store.put("Provider", _provider({"maxConcurrentJobs": 3}))
    assert d.admitted(GROUP) == [f"{NS}/j0", f"{NS}/j1", f"{NS}/j2"], "the cached admission is for the old plan"


# ---------------------------------------------------------------------------------------------- queue places
def _job_at(name: str, second: int, state: str | None = "Waiting", target: str = SA) -> dict[str, Any]:
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
    store, d = _setup(_job_at("a", 1), _job_at("c", 3), limit=2)
    joining = store.put_job(_job_at("b", 2, state=None))  # its Waiting status is not written yet
    assert _keys(d.waiting(GROUP)) == [f"{NS}/a", f"{NS}/c"]
    assert _keys(d.waiting(GROUP, joining)) == [f"{NS}/a", f"{NS}/b", f"{NS}/c"]
    assert d.position(GROUP, joining) == 2
    assert d.admitted(GROUP, joining) == [f"{NS}/a", f"{NS}/b"]


def test_a_job_already_waiting_or_launched_is_not_placed_twice() -> None:
    store, d = _setup(_job_at("a", 1), _job_at("b", 2), _job_at("c", 3))
    for name, second in (("a", 1), ("b", 2), ("c", 3)):
        # The store's copy, or an event's.
        for job in (store.groups[GROUP][f"{NS}/{name}"], parse_job(_job_at(name, second))):
            assert _keys(d.waiting(GROUP, job)) == [f"{NS}/a", f"{NS}/b", f"{NS}/c"]
    launched = store.put_job(_job_at("z", 0, state=None))
    d.claim(launched)
    assert _keys(d.waiting(GROUP, launched)) == [f"{NS}/a", f"{NS}/b", f"{NS}/c"]
    assert d.position(GROUP, launched) is None


def test_positions_are_per_target_and_follow_the_queue() -> None:
    store, d = _setup(_job_at("a", 1), _job_at("t", 2, target=TABU), _job_at("c", 3))
    jobs = store.groups[GROUP]
    assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("a", "t", "c")] == [1, 1, 2]
    store.put("QuantumJob", _job_at("early", 0))  # queued ahead of everyone: the cached places move
    jobs = store.groups[GROUP]
    assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("early", "a", "t", "c")] == [1, 2, 1, 3]
    d.claim(jobs[f"{NS}/early"])  # launched: out of the queue, the rest move up
    assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("early", "a", "c")] == [None, 1, 2]


def test_a_job_no_longer_started_is_back_in_its_queue() -> None:
    store, d = _setup(_job_at("a", 1), _job_at("b", 2))
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
    store, d = _setup(_job_at("a", 1), _job_at("b", 2), _job_at("c", 3))
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
    store.put("QuantumJob", _job_at("d", 4))
    store.put("QuantumJob", _job_at("early", 0))
    jobs = store.groups[GROUP]
    assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("early", "a", "d")] == [1, 2, 5]
    assert scans == 1, "updated by the two jobs, not rescanned"
    for i in range(CHANGE_LOG + 1):
        store.put("QuantumJob", _job_at(f"n{i}", 59))
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
            job = _job_at(name, rng.randrange(60), rng.choice(["Waiting", "Waiting", "Executing", "Succeeded", None]),
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
                d.claim(parse_job(_job_at(name, 0)))
                claims.add(name)
            else:
                d.unclaim(parse_job(_job_at(name, 0)))
                claims.discard(name)
        else:
            child = {"metadata": {"name": f"kuantum-id-{name}", "namespace": NS,
                                  "labels": {LABEL_JOB_ID: f"id-{name}"}}}
            store.put_child("Job", child, deleted=rng.random() < 0.5)
        if rng.random() < 0.3:
            fresh = Dispatcher(store, d.settings)
            for claimed in claims:
                fresh.claim(parse_job(_job_at(claimed, 0)))
            assert d.waiting(GROUP) == fresh.waiting(GROUP), f"step {step}"
            assert d.running(GROUP) == fresh.running(GROUP), f"step {step}"
            assert d.admitted(GROUP) == fresh.admitted(GROUP), f"step {step}"
            for job in store.groups.get(GROUP, {}).values():
                assert d.position(GROUP, job) == fresh.position(GROUP, job), f"step {step}: {job.key}"


def test_a_session_job_queued_last_stands_first() -> None:
    store, d = _setup(_job_at("a", 1), _job_at("b", 2))
    joined = _job_at("s", 3)
    joined["spec"]["session"] = "calibration"
    store.put("QuantumJob", joined)
    jobs = store.groups[GROUP]
    assert [d.position(GROUP, jobs[f"{NS}/{n}"]) for n in ("s", "a", "b")] == [1, 2, 3]


def test_the_front_of_a_targets_queue_in_order_with_a_joining_job_in_its_place() -> None:
    store, d = _setup(_job_at("a", 1), _job_at("t", 2, target=TABU), _job_at("c", 4), _job_at("e", 6),
                      _job_at("u", 7, target=TABU))
    assert d.front(GROUP, SA, 2) == [f"{NS}/a", f"{NS}/c"]
    assert d.front(GROUP, TABU, 5) == [f"{NS}/t", f"{NS}/u"]
    assert d.front(GROUP, SA, 10) == [f"{NS}/a", f"{NS}/c", f"{NS}/e"]
    joining = store.put_job(_job_at("b", 3, state=None))  # being queued in this pass
    assert d.front(GROUP, SA, 3, joining) == [f"{NS}/a", f"{NS}/b", f"{NS}/c"]
    assert d.front(GROUP, SA, 1, joining) == [f"{NS}/a"]
    assert d.front(GROUP, TABU, 5, joining) == [f"{NS}/t", f"{NS}/u"], "another target's job is not placed"
    tabu_joining = store.put_job(_job_at("v", 0, state=None, target=TABU))
    assert d.front(GROUP, SA, 2, tabu_joining) == [f"{NS}/a", f"{NS}/c"]
    assert d.front(GROUP, TABU, 2, tabu_joining) == [f"{NS}/v", f"{NS}/t"]


def test_a_kick_reconciles_first_the_jobs_that_may_start_now() -> None:
    woken: list[str] = []
    store, _ = _setup(_job_at("a", 1), _job_at("b", 2), _job_at("c", 3), limit=2)
    d = Dispatcher(store, Settings(target_concurrency=100), wake_first=woken.append)
    d.kick(GROUP)
    assert woken == [f"{NS}/a", f"{NS}/b"]


def test_jobs_a_client_submitted_in_one_second_start_in_the_order_it_submitted_them() -> None:
    """The gateway names jobs by random UUIDs: within a creation second they start by submission time, not name."""
    def submitted(fraction: str) -> dict[str, str]:
        return {"kuantum.dev/submitted-at": f"2024-01-01T00:00:00.{fraction}Z"}
    jobs = [_job("ffff", annotations=submitted("100000")), _job("aaaa", annotations=submitted("900000")),
            _job("cccc", annotations=submitted("500000")), _job("bbbb", created="2024-01-01T00:00:01Z")]
    d = _dispatcher(_store([_provider({"maxConcurrentJobs": 1})], jobs))
    assert d.admitted(GROUP) == [f"{NS}/ffff"]
    assert [e.name for e in d.waiting(GROUP)] == ["ffff", "cccc", "aaaa", "bbbb"]
