"""How the node agent hands pods to its workers: one piece of work per pod at a time, pods the API changed
before routine looks at running ones, and a pod deleted mid-work forgotten only once its work is done."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path
from typing import Any

from nodeagent.agent import NodeAgent


class RecordingWorkers:
    """Stands in for the thread pool: records what was handed out; the test decides when it is done."""

    def __init__(self) -> None:
        self.handed: list[str] = []
        self.futures: dict[str, Future[None]] = {}

    def submit(self, _fn: Any, uid: str, _pod: dict[str, Any]) -> Future[None]:
        self.handed.append(uid)
        self.futures[uid] = Future()
        return self.futures[uid]

    def finish(self, uid: str) -> None:
        self.futures[uid].set_result(None)


def _pod(uid: str, phase: str = "Running") -> dict[str, Any]:
    return {"metadata": {"uid": uid, "name": uid, "namespace": "ns"}, "spec": {"containers": []},
            "status": {"phase": phase}}


def _agent(tmp_path: Path) -> tuple[NodeAgent, RecordingWorkers]:
    agent = NodeAgent(None, "node", tmp_path, {})  # no API call is made here
    workers = RecordingWorkers()
    agent.workers = workers
    (tmp_path / "pods").mkdir()
    return agent, workers


def test_a_new_pod_is_handed_out_before_the_running_pods_are_looked_at(tmp_path: Path) -> None:
    agent, workers = _agent(tmp_path)
    for uid in ("run-1", "run-2"):
        agent.pods[uid] = _pod(uid)  # known, not changed: routine
    agent._apply_event("SYNC", _pod("new", "Pending"))
    agent._dispatch()
    assert workers.handed == ["new", "run-1", "run-2"]


def test_a_pod_gets_one_piece_of_work_at_a_time_and_finished_pods_none(tmp_path: Path) -> None:
    agent, workers = _agent(tmp_path)
    agent._apply_event("SYNC", _pod("busy"))
    agent._apply_event("SYNC", _pod("done", "Succeeded"))
    agent._dispatch()
    agent._apply_event("SYNC", _pod("busy"))  # changed again while its work is in flight
    agent._dispatch()
    assert workers.handed == ["busy"]
    workers.finish("busy")
    agent._dispatch()
    assert workers.handed == ["busy", "busy"]  # the change is not lost


def test_a_pod_deleted_while_its_worker_runs_is_forgotten_once_the_work_is_done(tmp_path: Path) -> None:
    agent, workers = _agent(tmp_path)
    agent._apply_event("SYNC", _pod("starting", "Pending"))
    agent._dispatch()
    folder = tmp_path / "pods" / "starting"
    folder.mkdir()  # what the start in flight writes
    agent._apply_event("DELETED", _pod("starting"))
    assert folder.exists(), "forgotten under a start in flight: its processes could outlive the pod"
    workers.finish("starting")
    agent._dispatch()
    assert not folder.exists()
    assert "starting" not in agent.pods
