"""The dispatcher over a hand-filled Store: which waiting jobs may start, under the plan's and the
target's concurrency limits."""

from __future__ import annotations

from typing import Any

import pytest
from kuantum.models.common import LABEL_JOB_ID
from kuantum.runtime.settings import Settings
from kuantum.runtime.store import Store, group_of
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
         created: str = "2024-01-01T00:00:00Z", **spec: Any) -> dict[str, Any]:
    status = {"id": f"id-{name}", "state": state} if state else {}
    return {"metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "creationTimestamp": created,
                         "labels": {LABEL_JOB_ID: f"id-{name}"}},
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
