"""The warm solver worker (kuantum_solvers/worker.py) on the terms of the worker contract (formats/worker.py): a real
`kuantum-solve-worker` process on 127.0.0.1, its runs reading and writing local files, stopped by PID."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kuantum_solvers.formats import worker as wire
from kuantum_solvers.formats.contract import parse_termination_message

from tests.support.kube import wait_for
from tests.support.operator import free_port
from tests.support.otlp import Receiver

TOKEN = "test-token-0123456789"
SA = "microsoft.simulatedannealing.cpu"
QIO_IN, QIO_OUT = "microsoft.qio.v2", "microsoft.qio-results.v2"
ISING = {"cost_function": {"version": "1.0", "type": "ising",
                           "terms": [{"c": -1, "ids": [0, 1]}, {"c": 1, "ids": [1, 2]}, {"c": -2, "ids": [2]}]}}
FOREVER = {"params": {"sweeps": 10**9, "seed": 1}}  # runs until it is killed


class Worker:
    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.folder = folder
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=90)

    def request(self, run_id: str, params: dict[str, Any], problem: Any = ISING, **extra: Any) -> dict[str, Any]:
        source = self.folder / f"{run_id}.in.json"
        source.write_text(json.dumps(problem))
        return {"id": run_id, "target": SA, "input_format": QIO_IN, "output_format": QIO_OUT,
                "input_url": str(source), "output_url": str(self.folder / f"{run_id}.out.json"),
                "params": json.dumps(params), **extra}

    def post(self, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(wire.RUNS_PATH, content=json.dumps(body))

    def ended(self, run_id: str) -> wire.RunStatus:
        answer = self.http.get(f"{wire.RUNS_PATH}/{run_id}", params={"wait": "60"})
        assert answer.status_code == 200, answer.text
        status = wire.RunStatus.from_json(answer.content)
        assert status.ended, status
        return status


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    folder = tmp_path_factory.mktemp("worker")
    port = free_port()
    env = {**os.environ, wire.TOKEN_ENV: TOKEN}
    with open(folder / "worker.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "kuantum_solvers.worker", "--host", "127.0.0.1", "--port",
                                 str(port), "--scratch", str(folder)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"

        def warm() -> bool:
            try:
                return httpx.get(url + wire.HEALTH_PATH, timeout=2).status_code == 200
            except httpx.HTTPError:
                assert proc.poll() is None, (folder / "worker.log").read_text()
                return False

        wait_for(warm, timeout=120, interval=0.2, what="the worker's engines to be warm")
        yield Worker(url, folder)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_a_run_writes_what_kuantum_solve_writes(worker: Worker, tmp_path: Path) -> None:
    params = {"params": {"sweeps": 300, "seed": 7}}
    answer = worker.post(worker.request("same", params))
    assert answer.status_code == 202, answer.text
    assert wire.RunStatus.from_json(answer.content).state == wire.RUNNING
    status = worker.ended("same")
    assert (status.state, status.exit_code, status.termination) == (wire.SUCCEEDED, 0, "")
    assert f"{SA}: done in" in status.log
    (tmp_path / "in.json").write_text(json.dumps(ISING))
    direct = subprocess.run([sys.executable, "-m", "kuantum_solvers", "--target", SA, "--input",
                             str(tmp_path / "in.json"), "--output", str(tmp_path / "out.json"), "--params",
                             json.dumps(params)], capture_output=True, text=True, timeout=120)
    assert direct.returncode == 0, direct.stderr
    assert json.loads((worker.folder / "same.out.json").read_text()) == json.loads((tmp_path / "out.json").read_text())


def test_a_run_reports_its_phases_in_the_trace_it_was_given(worker: Worker) -> None:
    """A forked run starts its own tracer (the fork server's is never started) and flushes it before it exits."""
    trace_id, parent_id = "5bf92f3577b34da6a3ce929d0e0e4736", "10f067aa0ba902b7"
    with Receiver() as receiver:
        body = worker.request("traced", {"params": {"sweeps": 5, "seed": 1}},
                              traceparent=f"00-{trace_id}-{parent_id}-01", otlp_endpoint=receiver.endpoint)
        assert worker.post(body).status_code == 202
        assert worker.ended("traced").state == wire.SUCCEEDED
        wait_for(lambda: len(receiver.of_trace(trace_id)) >= 4, timeout=30, what="the run's spans")
        spans = {s.name: s for s in receiver.of_trace(trace_id)}
    assert set(spans) == {"kuantum-solve", "download", "solve", "upload"}
    assert spans["kuantum-solve"].parent_id == parent_id


def test_a_failed_run_ends_as_a_solver_pod_does(worker: Worker) -> None:
    body = worker.request("missing", {"params": {"sweeps": 5}})
    body["input_url"] = str(worker.folder / "no-such-input.json")
    assert worker.post(body).status_code == 202
    status = worker.ended("missing")
    assert (status.state, status.exit_code) == (wire.FAILED, 2)
    parsed = parse_termination_message(status.termination)
    assert parsed is not None and parsed[0] == "InputNotFound", status
    assert not status.oom_killed and not status.timed_out
    assert not (worker.folder / "missing.out.json").exists()


def test_one_run_at_a_time_the_same_id_again_and_a_cancel(worker: Worker) -> None:
    first = worker.request("long", FOREVER)
    assert worker.post(first).status_code == 202
    again = worker.post(first)
    assert again.status_code == 200 and again.json()["state"] == wire.RUNNING
    other = worker.post(worker.request("other", {"params": {"sweeps": 5}}))
    assert other.status_code == 409 and other.json()["running"] == "long"
    assert worker.http.get("/healthz").json() == {"busy": "long"}
    assert [run["id"] for run in worker.http.get(wire.RUNS_PATH).json()["runs"]][:1] == ["long"]
    cancelled = worker.http.delete(f"{wire.RUNS_PATH}/long")
    assert cancelled.status_code == 200
    status = wire.RunStatus.from_json(cancelled.content)
    assert (status.state, status.exit_code, status.oom_killed) == (wire.FAILED, -9, False)
    assert worker.http.get(f"{wire.RUNS_PATH}/long").status_code == 404  # forgotten
    assert worker.post(worker.request("other", {"params": {"sweeps": 5}})).status_code == 202
    assert worker.ended("other").state == wire.SUCCEEDED
    assert worker.http.delete(f"{wire.RUNS_PATH}/other").status_code == 200


def test_a_run_past_its_timeout_is_killed_and_says_so(worker: Worker) -> None:
    began = time.monotonic()
    assert worker.post(worker.request("slow", FOREVER, timeout_seconds=1)).status_code == 202
    status = worker.ended("slow")
    assert (status.state, status.timed_out, status.exit_code) == (wire.FAILED, True, -9)
    assert status.ended_at is not None and status.ended_at >= status.started_at + 1
    assert time.monotonic() - began < 60


def test_requests_without_the_pools_token_are_refused(worker: Worker) -> None:
    stranger = httpx.Client(base_url=worker.url, headers={"Authorization": "Bearer guess"}, timeout=30)
    assert stranger.post(wire.RUNS_PATH, content=json.dumps(worker.request("x", {}))).status_code == 401
    assert stranger.get(f"{wire.RUNS_PATH}/same").status_code == 401
    assert stranger.delete(f"{wire.RUNS_PATH}/same").status_code == 401
    assert httpx.get(worker.url + wire.RUNS_PATH, timeout=30).status_code == 401
    assert httpx.get(worker.url + wire.HEALTH_PATH, timeout=30).status_code == 200  # the probe needs none


@pytest.mark.parametrize(("body", "error"), [
    (b"{", "not JSON"),
    (b"[]", "not a JSON object"),
    (json.dumps({"id": "x", "target": SA}).encode(), "missing or not a string: input_format"),
    (json.dumps({"id": "x", "target": SA, "input_format": QIO_IN, "output_format": QIO_OUT, "input_url": "a",
                 "output_url": "b", "timeout_seconds": -1}).encode(), "timeout_seconds must be a positive number"),
    (json.dumps({"id": "x", "target": SA, "input_format": QIO_IN, "output_format": QIO_OUT, "input_url": "a",
                 "output_url": "b", "params": {"sweeps": 1}}).encode(), "params must be a string"),
])
def test_a_request_the_contract_does_not_allow_is_refused_saying_why(worker: Worker, body: bytes, error: str) -> None:
    answer = worker.http.post(wire.RUNS_PATH, content=body)
    assert answer.status_code == 400 and error in answer.json()["error"], answer.text


def test_unknown_runs_and_paths(worker: Worker) -> None:
    assert worker.http.get(f"{wire.RUNS_PATH}/nobody").status_code == 404
    assert worker.http.delete(f"{wire.RUNS_PATH}/nobody").status_code == 404
    assert worker.http.get("/v1/elsewhere").status_code == 404
    assert worker.http.get(f"{wire.RUNS_PATH}/nobody", params={"wait": "soon"}).status_code == 400


def test_a_worker_nobody_asks_anything_exits_by_itself(tmp_path: Path) -> None:
    """Its operator gone (uninstalled), an idle worker frees its node: exit 0 (its pod is then Succeeded)."""
    env = {**os.environ, wire.TOKEN_ENV: TOKEN}
    done = subprocess.run([sys.executable, "-m", "kuantum_solvers.worker", "--host", "127.0.0.1", "--port",
                           str(free_port()), "--scratch", str(tmp_path), "--idle-exit", "1"],
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "idle for 1 s, exiting" in done.stderr


def test_a_newer_leaders_listing_fences_an_older_leaders_calls(worker: Worker) -> None:
    def epoch(n: int | str) -> dict[str, str]:
        return {wire.EPOCH_HEADER: str(n)}

    run = worker.request("fenced", {"params": {"sweeps": 5}})
    assert worker.http.post(wire.RUNS_PATH, content=json.dumps(run), headers=epoch(3)).status_code == 202
    assert worker.http.get(wire.RUNS_PATH, headers=epoch(4)).status_code == 200  # the next leader takes over
    late = worker.http.post(wire.RUNS_PATH, content=json.dumps(worker.request("late", {})), headers=epoch(3))
    assert late.status_code == 412 and late.json()["epoch"] == 4, late.text
    assert worker.http.delete(f"{wire.RUNS_PATH}/fenced", headers=epoch(3)).status_code == 412
    assert worker.http.get(wire.RUNS_PATH, headers=epoch(3)).status_code == 412
    assert worker.http.get(wire.RUNS_PATH, headers=epoch("four")).status_code == 412
    assert worker.http.get(f"{wire.RUNS_PATH}/late").status_code == 404  # never started
    assert worker.ended("fenced").state == wire.SUCCEEDED  # a status is read whoever asks
    assert worker.http.delete(f"{wire.RUNS_PATH}/fenced", headers=epoch(4)).status_code == 200
    assert worker.post(worker.request("unfenced", {"params": {"sweeps": 5}})).status_code == 202  # no epoch: taken
    assert worker.ended("unfenced").state == wire.SUCCEEDED
    assert worker.http.delete(f"{wire.RUNS_PATH}/unfenced").status_code == 200
