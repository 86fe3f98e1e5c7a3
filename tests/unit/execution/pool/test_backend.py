"""The pool backend through the real job reconciler (the job world, tests/support/job_world.py), its workers a
scripted worker on 127.0.0.1 (tests/support/fake_worker.py) that the test ends runs on: a job waits for a worker,
the pool starts one, the job runs on it and ends as the worker says; cancel, a worker lost mid-run, an operator
restart, idle workers, and jobs that stay in pods."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from kuantum.execution.pool import backend, builders
from kuantum.execution.pool.backend import PoolBackend
from kuantum.models.common import LABEL_POOL
from kuantum.storage.blobs import LOGS_BLOB, OUTPUT_BLOB, container_name
from kuantum_solvers.formats import worker as wire
from kuantum_solvers.formats.contract import termination_message

from tests.support.fake_worker import FakeWorker
from tests.support.job_world import NS, SA, World, _condition, _events
from tests.support.operator import free_port

KEY = f"{NS}/j"


@pytest.fixture
def world() -> World:
    return World(pool_size=2)


@pytest.fixture
async def closing(world: World) -> AsyncIterator[World]:
    try:
        yield world
    finally:
        await world.backends.pool.aclose()


@pytest.fixture
def worker() -> Iterator[FakeWorker]:
    with FakeWorker(token="") as started:
        yield started


def pool(w: World) -> PoolBackend:
    return w.backends.pool


def node_runs(w: World, worker: FakeWorker, ready: bool = True, **status: Any) -> dict[str, Any]:
    """The node runs the worker the pool created (its only one), on the fake worker's port; the watch delivers it."""
    ((_, body),) = w.kube.pods.items()
    pod = copy.deepcopy(body)
    pod["spec"]["containers"][0]["ports"] = [{"name": "runs", "containerPort": worker.port}]
    pod["status"] = {"phase": "Running", "podIP": "127.0.0.1",
                     "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                     "containerStatuses": [{"name": builders.CONTAINER, "restartCount": 0, **status}]}
    worker.token = pool(w).tokens[pod["metadata"]["labels"][LABEL_POOL]]
    deliver(w, pod)
    return pod


def deliver(w: World, pod: dict[str, Any], deleted: bool = False) -> None:
    w.store.put_worker_pod(pod, deleted)
    pool(w).worker_changed(pod, deleted)


async def woken(w: World, key: str = KEY, seconds: float = 10.0) -> None:
    """Until the backend asked for the job to be looked at (a long poll's answer), bounded."""
    for _ in range(int(seconds / 0.01)):
        if key in w.enqueued:
            w.enqueued.clear()
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{key} was not woken in {seconds}s")


async def running(w: World, worker: FakeWorker) -> str:
    """Job j submitted, a worker started for it, the job Executing on it; returns the job id."""
    w.qio_job("j")
    first = await w.reconcile("j")
    assert [c.args["body"]["metadata"]["labels"][LABEL_POOL] for c in first.of("create_pod")], first.calls
    assert not first.of("create_job"), "no batch Job: the pool runs it"
    assert w.status("j")["state"] == "Waiting"
    node_runs(w, worker)
    await woken(w)
    second = await w.reconcile("j")
    assert w.status("j")["state"] == "Executing"
    assert _events(second) == ["Executing"]
    return w.job_id("j")


async def test_a_job_runs_on_a_warm_worker_and_succeeds(closing: World, worker: FakeWorker) -> None:
    w = closing
    job_id = await running(w, worker)
    (request,) = worker.requests
    assert (request.id, request.target, request.input_format) == (job_id, SA, "microsoft.qio.v2")
    assert "sig=" in request.input_url and "sp=r" in request.input_url  # read-only SAS of its input
    assert "sp=" in request.output_url and request.output_url.split("?")[0].endswith(f"{job_id}/{OUTPUT_BLOB}")
    w.storage.put_blob(container_name(job_id), OUTPUT_BLOB, b'{"solutions": []}')  # what the solver wrote
    worker.finish(job_id, log="microsoft.simulatedannealing.cpu: done in 0.01s\n")
    await woken(w)
    done = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Succeeded" and status["outputDataUri"].split("?")[0].endswith(OUTPUT_BLOB)
    assert _events(done) == ["Succeeded"]
    assert w.storage.blobs[(container_name(job_id), LOGS_BLOB)].data.startswith(b"microsoft.simulatedannealing")
    await w.reconcile("j")  # after its final write: the worker forgets the run
    assert worker.deleted == [job_id] and not pool(w).assignments
    assert not w.kube.of("delete_secret"), "a pool's job had no SAS Secret to delete"


@pytest.mark.parametrize(("finish", "code", "words"), [
    ({"exit_code": 2, "termination": termination_message("InvalidInputData", "term 3 names no variable")},
     "InvalidInputData", "term 3 names no variable"),
    ({"exit_code": -9, "oom": True}, "OutOfMemory", "memory limit of"),
    ({"exit_code": -9, "timed_out": True}, "Timeout", "timeoutSeconds"),
    ({"exit_code": 1, "log": "Segmentation fault"}, "SolverFailed", "exited with code 1: Segmentation fault"),
])
async def test_a_run_that_fails_fails_its_job_saying_why(closing: World, worker: FakeWorker,
                                                         finish: dict[str, Any], code: str, words: str) -> None:
    w = closing
    job_id = await running(w, worker)
    worker.finish(job_id, **finish)
    await woken(w)
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == code, status
    assert words in status["errorData"]["message"]


async def test_the_next_job_takes_the_freed_worker_at_once(closing: World, worker: FakeWorker) -> None:
    w = closing
    pool(w).settings = replace(pool(w).settings, solver_pool_size=1)  # one worker for both
    job_id = await running(w, worker)
    w.qio_job("k")
    await w.reconcile("k")
    assert w.status("k")["state"] == "Waiting" and not w.kube.of("create_pod")[1:], "the pool is full"
    w.storage.put_blob(container_name(job_id), OUTPUT_BLOB, b"{}")
    worker.finish(job_id)
    await woken(w)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Succeeded"
    await w.reconcile("k")
    assert w.status("k")["state"] == "Executing"
    assert [r.id for r in worker.requests] == [job_id, w.job_id("k")]


async def test_cancel_kills_the_run_on_its_worker(closing: World, worker: FakeWorker) -> None:
    w = closing
    job_id = await running(w, worker)
    w.edit_spec("j", cancel=True)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Cancelled"
    assert worker.deleted == [job_id] and worker.running() is None


@pytest.mark.parametrize(("change", "code", "words"), [
    ("deleted", "PodDeleted", "was deleted"),
    ("oom", "OutOfMemory", "at its memory limit of 512Mi (OOMKilled)"),
    ("restarted", "ExecutionLost", "restarted (exit code 137)"),
])
async def test_a_worker_lost_mid_run_fails_its_job(closing: World, worker: FakeWorker, change: str, code: str,
                                                   words: str) -> None:
    w = closing
    await running(w, worker)
    (pod,) = w.store.worker_pods[next(iter(w.store.worker_pods))].values()
    pod = copy.deepcopy(pod)
    if change != "deleted":
        reason = "OOMKilled" if change == "oom" else "Error"
        pod["status"]["containerStatuses"][0].update(
            restartCount=1, lastState={"terminated": {"reason": reason, "exitCode": 137}})
    deliver(w, pod, deleted=change == "deleted")
    await woken(w)
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == code, status
    assert words in status["errorData"]["message"]


async def test_a_restarted_operator_finds_the_run_where_it_is_and_never_starts_it_twice(
        closing: World, worker: FakeWorker) -> None:
    w = closing
    job_id = await running(w, worker)
    await pool(w).aclose()
    w.restart()  # a new process: its pools know nothing until they ask their workers
    await pool(w).adopt()
    await w.reconcile("j")
    assert w.status("j")["state"] == "Executing" and len(worker.requests) == 1
    w.storage.put_blob(container_name(job_id), OUTPUT_BLOB, b"{}")
    worker.finish(job_id)
    await woken(w)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Succeeded" and len(worker.requests) == 1


async def _started_by_a_leader_that_stopped(w: World, worker: FakeWorker, ready: bool) -> tuple[str, dict[str, Any]]:
    """Job j waiting, a worker up; the previous leader's start reached the worker after it stopped (the job's status
    still says Waiting); then a new leader: the pod as its watch shows it (ready or not)."""
    w.qio_job("j")
    await w.reconcile("j")
    pod = node_runs(w, worker)
    job_id = w.job_id("j")
    request = wire.RunRequest(job_id, SA, "microsoft.qio.v2", "microsoft.qio-results.v2", "in", "out")
    answer = httpx.post(f"http://127.0.0.1:{worker.port}{wire.RUNS_PATH}", content=request.to_json(), timeout=10,
                        headers={"Authorization": f"Bearer {worker.token}"})
    assert answer.status_code == 202, answer.text
    await pool(w).aclose()
    w.restart()
    if not ready:  # busy on a loaded node: its readiness probe timed out
        pod = copy.deepcopy(pod)
        pod["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
        deliver(w, pod)
    assert w.status("j")["state"] == "Waiting" and worker.running() == job_id
    return job_id, pod


@pytest.mark.parametrize("ready", [True, False])
async def test_a_new_leader_finds_a_run_its_predecessor_started_late_ready_worker_or_not(
        closing: World, worker: FakeWorker, ready: bool) -> None:
    w = closing
    job_id, _ = await _started_by_a_leader_that_stopped(w, worker, ready)
    worker.epochs.clear()
    await pool(w).adopt(epoch=7)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Executing" and len(worker.requests) == 1
    assert len(w.kube.of("create_pod")) == 1, "no second worker for a job that runs"
    assert worker.epochs and set(worker.epochs) == {"7"}, "every call carries the leader's epoch: it fences the last"
    w.storage.put_blob(container_name(job_id), OUTPUT_BLOB, b"{}")
    w.enqueued.clear()  # what woke the job before: its end wakes it next
    worker.finish(job_id)
    await woken(w)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Succeeded" and len(worker.requests) == 1


async def test_a_worker_that_does_not_say_what_it_runs_holds_its_pools_jobs_then_goes(
        closing: World, worker: FakeWorker, monkeypatch: pytest.MonkeyPatch) -> None:
    w = closing
    _, pod = await _started_by_a_leader_that_stopped(w, worker, ready=True)
    silent = copy.deepcopy(pod)
    silent["spec"]["containers"][0]["ports"] = [{"name": "runs", "containerPort": free_port()}]  # nobody listens
    deliver(w, silent)
    await pool(w).adopt()
    await w.reconcile("j")
    assert w.status("j")["state"] == "Waiting" and len(worker.requests) == 1, "it may run there: not started again"
    assert len(w.kube.of("create_pod")) == 1
    await pool(w).housekeeping()
    assert not w.kube.of("delete_pod"), "given time to answer"
    monkeypatch.setattr(backend, "ASK_AGAIN_SECONDS", 0.0)
    monkeypatch.setattr(backend, "UNASKED_DELETE_SECONDS", 0.0)
    await pool(w).housekeeping()
    assert [c.args["name"] for c in w.kube.of("delete_pod")] == [pod["metadata"]["name"]]
    deliver(w, silent, deleted=True)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Waiting" and len(w.kube.of("create_pod")) == 2, "a new worker for it"


async def test_a_worker_that_answers_late_is_asked_again_before_its_pool_hands_out_a_job(
        closing: World, worker: FakeWorker, monkeypatch: pytest.MonkeyPatch) -> None:
    w = closing
    _, pod = await _started_by_a_leader_that_stopped(w, worker, ready=True)
    silent = copy.deepcopy(pod)
    silent["spec"]["containers"][0]["ports"] = [{"name": "runs", "containerPort": free_port()}]
    deliver(w, silent)
    monkeypatch.setattr(backend, "ASK_AGAIN_SECONDS", 0.0)
    await pool(w).adopt()
    deliver(w, pod)  # it answers again (its port, as before)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Executing" and len(worker.requests) == 1
    assert not pool(w).unasked


async def test_a_worker_starting_for_a_waiting_job_is_the_only_one_started(closing: World, worker: FakeWorker
                                                                            ) -> None:
    w = closing
    w.qio_job("j")
    await w.reconcile("j")
    node_runs(w, worker, ready=False)  # starting: its engines warm up
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Waiting" and len(w.kube.of("create_pod")) == 1, "one worker starting is enough"
    assert (_condition(status, "Queued") or {}).get("status") == "True"


async def test_workers_asked_for_count_before_the_watch_shows_them(closing: World, worker: FakeWorker) -> None:
    """Jobs reconciled between a worker's creation and its first watch event: the pool still never outgrows its size
    (here 2), however many wait."""
    w = closing
    for name in ("a", "b", "c", "d"):
        w.qio_job(name)
        await w.reconcile(name)
        assert w.status(name)["state"] == "Waiting"
    assert len(w.kube.of("create_pod")) == 2, [c.args["body"]["metadata"]["name"] for c in w.kube.of("create_pod")]


async def test_idle_workers_go_after_the_idle_time(closing: World, worker: FakeWorker) -> None:
    w = closing
    job_id = await running(w, worker)
    w.storage.put_blob(container_name(job_id), OUTPUT_BLOB, b"{}")
    worker.finish(job_id)
    await woken(w)
    await w.reconcile("j")
    await pool(w).housekeeping()
    assert not w.kube.of("delete_pod"), "idle for less than solver_pool_idle_seconds"
    (name,) = [name for _, name in w.kube.pods]
    pool(w).settings = replace(pool(w).settings, solver_pool_idle_seconds=0)
    await asyncio.sleep(0.01)
    await pool(w).housekeeping()
    assert [c.args["name"] for c in w.kube.of("delete_pod")] == [name]


async def test_jobs_run_in_pods_without_pools_and_a_pod_job_stays_in_its_pod(worker: FakeWorker) -> None:
    w = World()  # pools off
    w.qio_job("j")
    first = await w.reconcile("j")
    assert first.of("create_job") and not first.of("create_pod")
    w.deliver_children()
    pool(w).settings = replace(pool(w).settings, solver_pool_size=2)  # turned on while the job runs in its pod
    w.pod("j", "Running", started="2024-01-01T00:00:10Z")
    second = await w.reconcile("j")
    assert w.status("j")["state"] == "Executing" and not second.of("create_pod")


async def test_a_worker_killed_at_its_limit_as_it_starts_fails_the_waiting_job_naming_the_limit(
        closing: World, worker: FakeWorker) -> None:
    w = closing
    w.qio_job("j")
    await w.reconcile("j")
    node_runs(w, worker, ready=False, restartCount=1,
              lastState={"terminated": {"reason": "OOMKilled", "exitCode": 137}})
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == "OutOfMemory", status
    assert "memory limit of 512Mi as it started" in status["errorData"]["message"]
    await pool(w).housekeeping()
    assert len(w.kube.of("delete_pod")) == 1, "the broken worker goes; the next job that needs one starts another"


async def test_a_worker_the_node_cannot_start_yet_is_named_on_the_waiting_job_until_it_runs(
        closing: World, worker: FakeWorker) -> None:
    w = closing
    w.qio_job("j")
    await w.reconcile("j")
    pod = node_runs(w, worker, ready=False)
    pod["status"] = {"phase": "Pending", "containerStatuses": [
        {"name": builders.CONTAINER, "state": {"waiting": {"reason": "ErrImagePull", "message": "refused"}}}]}
    deliver(w, pod)
    await w.reconcile("j")
    queued = _condition(w.status("j"), "Queued") or {}
    assert (w.status("j")["state"], queued.get("status"), queued.get("reason")) == ("Waiting", "False", "ErrImagePull")
    assert "cannot pull the solver image" in queued["message"]
    node_runs(w, worker)
    await w.reconcile("j")
    queued = _condition(w.status("j"), "Queued") or {}
    assert (w.status("j")["state"], queued.get("reason")) == ("Executing", "Started")


async def test_a_run_its_worker_did_not_end_by_the_timeout_is_stopped_by_the_operator(
        closing: World, worker: FakeWorker) -> None:
    w = closing
    w.qio_job("j", timeoutSeconds=1)
    await w.reconcile("j")
    node_runs(w, worker)
    await woken(w)
    await w.reconcile("j")
    job_id = w.job_id("j")
    assignment = pool(w).assignments[job_id]
    pool(w).assignments[job_id] = replace(assignment, started_at=assignment.started_at - 60)  # a minute ago
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == "Timeout", status
    assert "its worker did not end it" in status["errorData"]["message"]
    assert worker.deleted == [job_id]


async def test_a_worker_restarting_after_its_run_died_is_waited_for_not_blamed(closing: World, worker: FakeWorker
                                                                              ) -> None:
    w = closing
    pool(w).settings = replace(pool(w).settings, solver_pool_size=1)
    await running(w, worker)
    (pod,) = w.store.worker_pods[next(iter(w.store.worker_pods))].values()
    pod = copy.deepcopy(pod)
    pod["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    pod["status"]["containerStatuses"][0].update(restartCount=1, lastState={"terminated": {"reason": "OOMKilled"}})
    deliver(w, pod)  # the kernel took the whole worker with its run; it warms up again
    await woken(w)
    await w.reconcile("j")
    assert w.status("j")["errorData"]["code"] == "OutOfMemory"
    w.qio_job("k")
    await w.reconcile("k")
    assert w.status("k")["state"] == "Waiting", w.status("k")  # not "killed as it started"


async def _idle_worker_and_a_pool_with_no_room(w: World, worker: FakeWorker) -> str:
    """The QIO pool's worker idle after its run; a simulator job whose pool's worker no node has room for.
    Returns the idle worker's name."""
    job_id = await running(w, worker)  # the QIO pool's worker
    w.storage.put_blob(container_name(job_id), OUTPUT_BLOB, b"{}")
    worker.finish(job_id)
    await woken(w)
    await w.reconcile("j")  # done: its worker is idle
    (idle,) = [name for _, name in w.kube.pods]
    w.add_provider("sim", "kuantum")
    w.add_job("bell", provider="kuantum", target="kuantum.simulator", input={"inline": {"qubits": 1, "circuit": []}},
              inputDataFormat="ionq.circuit.v1", outputDataFormat="ionq.quantum-results.v1")
    await w.reconcile("bell")
    (created,) = [c.args["body"] for c in w.kube.of("create_pod")[1:]]
    pending = copy.deepcopy(created)
    pending["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                                             "reason": "Unschedulable", "message": "0/1 nodes"}]}
    deliver(w, pending)
    return idle


async def test_a_worker_no_node_has_room_for_makes_another_pools_idle_worker_go(closing: World,
                                                                                 worker: FakeWorker) -> None:
    w = closing
    idle = await _idle_worker_and_a_pool_with_no_room(w, worker)
    pool(w).idle_since[idle] -= 60  # idle for a minute
    await w.reconcile("bell")
    assert [c.args["name"] for c in w.kube.of("delete_pod")] == [idle]
    assert w.status("bell")["state"] == "Waiting"
    await w.reconcile("bell")  # it is still going: nothing more is deleted meanwhile
    assert len(w.kube.of("delete_pod")) == 1


async def test_making_room_spares_a_worker_that_just_ended_a_run_or_whose_pool_has_jobs_waiting(
        closing: World, worker: FakeWorker) -> None:
    """Busy pools sharing a full node must not trade warm workers back and forth: a worker that ended a run
    moments ago is about to take its pool's next job."""
    w = closing
    idle = await _idle_worker_and_a_pool_with_no_room(w, worker)
    await w.reconcile("bell")
    assert not w.kube.of("delete_pod"), "a worker idle for a moment is kept"
    pool(w).idle_since[idle] -= 60
    qio_pool = next(p for p, pods in w.store.worker_pods.items() if idle in pods)
    pool(w).waiting[qio_pool] = {"other": f"{NS}/other"}  # a job of its pool waits for a worker
    await w.reconcile("bell")
    assert not w.kube.of("delete_pod"), "a worker its own pool's jobs wait for is kept"
    assert w.status("bell")["state"] == "Waiting"
