"""Traces (runtime/tracing.py, gateway/tracing.py, kuantum_solvers/tracing.py) against an in-process OTLP/HTTP
receiver: the gateway continues a caller's traceparent and puts its span's context on the job it creates; the
solver reports its phases as children of the TRACEPARENT it is given; tracing off, nothing is exported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kuantum.execution.pod import builders
from kuantum.runtime import tracing
from kuantum_solvers.formats import contract

from tests.support.kube import wait_for
from tests.support.otlp import Receiver

REPO = Path(__file__).resolve().parents[2]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
ISING = {"cost_function": {"version": "1.0", "type": "ising", "terms": [{"c": -1, "ids": [0, 1]}]}}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def test_off_without_an_endpoint() -> None:
    assert not tracing.configure("kuantum-test", {})
    assert not tracing.enabled() and tracing.traceparent() is None
    with tracing.span("nothing") as span:
        assert span is None


def test_the_solver_pod_gets_the_trace_context_through_the_pod_contract() -> None:
    qjob = {"metadata": {"name": "j", "namespace": "team-a", "uid": "u"},
            "spec": {"workspace": "ws", "provider": "microsoft-qio", "target": "microsoft.simulatedannealing.cpu",
                     "input": {"inline": {}}}}
    from kuantum.catalog import targets_of

    target = targets_of("microsoft-qio")["microsoft.simulatedannealing.cpu"]
    plain = builders.solver_job(qjob, "id", target, "img", "microsoft.qio.v2", "microsoft.qio-results.v2", None,
                                "1", "1Gi")
    names = [e["name"] for e in plain["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert contract.TRACEPARENT_ENV not in names, "tracing off: nothing in the pod"
    traced_job = builders.solver_job(qjob, "id", target, "img", "microsoft.qio.v2", "microsoft.qio-results.v2",
                                     None, "1", "1Gi", traceparent=TRACEPARENT, otlp_endpoint="http://collector:4318")
    env_vars = {e["name"]: e.get("value") for e in traced_job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env_vars[contract.TRACEPARENT_ENV] == TRACEPARENT
    assert env_vars[contract.OTLP_ENDPOINT_ENV] == "http://collector:4318"


def _solve(tmp_path: Path, receiver: Receiver, problem: object, params: str,
           **otel: str) -> subprocess.CompletedProcess[str]:
    inp, out = tmp_path / "in.json", tmp_path / "out.json"
    inp.write_text(json.dumps(problem))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update({contract.TRACEPARENT_ENV: TRACEPARENT, contract.OTLP_ENDPOINT_ENV: receiver.endpoint, **otel})
    return subprocess.run([sys.executable, "-m", "kuantum_solvers", "--target", "microsoft.simulatedannealing.cpu",
                           "--input", str(inp), "--output", str(out), "--params", params],
                          capture_output=True, text=True, env=env, timeout=300)


def test_the_solver_reports_its_phases_in_the_jobs_trace(tmp_path: Path, receiver: Receiver) -> None:
    done = _solve(tmp_path, receiver, ISING, '{"params": {"sweeps": 5, "seed": 1}}')
    assert done.returncode == 0, done.stderr
    wait_for(lambda: len(receiver.of_trace(TRACE_ID)) >= 4, timeout=30, what="the solver's spans")
    spans = {s.name: s for s in receiver.of_trace(TRACE_ID)}
    assert set(spans) == {"kuantum-solve", "download", "solve", "upload"}
    assert {s.service for s in spans.values()} == {"kuantum-solver"}
    assert spans["kuantum-solve"].parent_id == PARENT_ID
    assert {spans[p].parent_id for p in ("download", "solve", "upload")} == {spans["kuantum-solve"].span_id}
    assert spans["solve"].attributes["kuantum.target"] == "microsoft.simulatedannealing.cpu"


def test_the_solvers_spans_leave_in_one_request_at_exit(tmp_path: Path, receiver: Receiver) -> None:
    """Not on the batch processor's timer mid-solve (here made 1 ms, as the environment may set it): an export then
    competes with the solve, and on a loaded node one timed out and lost the trace's first phases."""
    done = _solve(tmp_path, receiver, ISING, '{"params": {"sweeps": 200, "seed": 1}}', OTEL_BSP_SCHEDULE_DELAY="1")
    assert done.returncode == 0, done.stderr
    assert {s.name for s in receiver.of_trace(TRACE_ID)} == {"kuantum-solve", "download", "solve", "upload"}
    assert receiver.requests == 1


def test_a_failing_solve_marks_its_span_failed(tmp_path: Path, receiver: Receiver) -> None:
    done = _solve(tmp_path, receiver, {"cost_function": {"version": "1.0", "type": "ising", "terms": []}},
                  '{"params": {"sweeps": 5}}')
    assert done.returncode == 2, done.stderr
    wait_for(lambda: any(s.name == "kuantum-solve" for s in receiver.of_trace(TRACE_ID)), timeout=30,
             what="the solver's spans")
    root = next(s for s in receiver.of_trace(TRACE_ID) if s.name == "kuantum-solve")
    assert root.error


@pytest.fixture
def operator_tracing(receiver: Receiver) -> Iterator[Receiver]:
    assert tracing.configure("kuantum-test", {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint})
    try:
        yield receiver
    finally:
        tracing.shutdown()


def _exported(receiver: Receiver) -> dict[str, Any]:
    tracing.shutdown()  # exports what is left
    return {s.name: s for s in receiver.spans}


def test_a_reconcile_that_did_nothing_leaves_no_span(operator_tracing: Receiver) -> None:
    with tracing.span_if_used("idle", parent=TRACEPARENT, attributes={"kuantum.state": "Waiting"}) as draft:
        assert draft is not None
        draft.set_attributes(**{"kuantum.state.after": "Waiting"})
    with tracing.span("kept"):
        pass
    assert set(_exported(operator_tracing)) == {"kept"}


def test_a_reconcile_span_is_recorded_with_the_ids_its_children_were_given(operator_tracing: Receiver) -> None:
    with tracing.span_if_used("reconcile", parent=TRACEPARENT, attributes={"kuantum.state": "Waiting"}):
        given = tracing.traceparent()  # e.g. into a solver pod's environment
        with tracing.span("POST ionq", kind="CLIENT"):
            pass
    assert given is not None
    spans = _exported(operator_tracing)
    reconcile, child = spans["reconcile"], spans["POST ionq"]
    assert given == f"00-{TRACE_ID}-{reconcile.span_id}-01", "the pod names the span that is recorded"
    assert reconcile.trace_id == child.trace_id == TRACE_ID
    assert reconcile.parent_id == PARENT_ID and child.parent_id == reconcile.span_id
    assert reconcile.attributes["kuantum.state"] == "Waiting"


def test_a_reconcile_without_a_trace_starts_one_and_keep_and_failed_record_it(operator_tracing: Receiver) -> None:
    with tracing.span_if_used("first reconcile") as draft:
        assert draft is not None
        context = tracing.traceparent()  # a job made with kubectl: its annotation
    with tracing.span_if_used("wrote the job", parent=context) as draft:
        assert draft is not None
        draft.keep()
    with tracing.span_if_used("failed the job", parent=context) as draft:
        assert draft is not None
        draft.failed("InvalidInput: not JSON")
    with pytest.raises(RuntimeError), tracing.span_if_used("raised", parent=context):
        raise RuntimeError("the API server is gone")
    spans = _exported(operator_tracing)
    assert context is not None and spans["first reconcile"].parent_id == ""
    trace_id = context.split("-")[1]
    assert {s.trace_id for s in spans.values()} == {trace_id}
    assert {spans[n].parent_id for n in ("wrote the job", "failed the job", "raised")} == {context.split("-")[2]}
    assert not spans["wrote the job"].error and spans["failed the job"].error and spans["raised"].error


def test_an_api_write_inside_a_reconcile_keeps_its_span(operator_tracing: Receiver) -> None:
    from kuantum.runtime.writer import Kube
    from kubernetes import client

    kube = Kube(client.ApiClient())
    with tracing.span_if_used("wrote", parent=TRACEPARENT):
        kube._count("patch", "quantumjobs/status")  # what every write of the operator's client counts, and only those
    assert set(_exported(operator_tracing)) == {"wrote"}


class _Kube:
    """The status write of the operator's client, as far as tracing sees it: every write counts (Kube._count)."""

    async def write_state_guarded(self, kind: str, namespace: str, name: str, expected: str | None,
                                  status: dict[str, Any]) -> dict[str, Any]:
        from kuantum.runtime.writer import Kube
        from kubernetes import client

        Kube(client.ApiClient())._count("patch", "quantumjobs/status")
        return {"apiVersion": "kuantum.dev/v1alpha1", "kind": "QuantumJob", "status": status,
                "metadata": {"name": name, "namespace": namespace, "uid": "u1", "generation": 1},
                "spec": {"workspace": "ws", "provider": "microsoft-qio", "target": "microsoft.simulatedannealing.cpu"}}

    async def event(self, *args: Any, **kwargs: Any) -> None:
        pass  # an Event is a write too: left out, so that only the status write decides


async def test_a_reconcile_that_only_moves_a_job_in_its_queue_leaves_no_span(operator_tracing: Receiver) -> None:
    """A queued job's place moves several times per job: routine writes, no span each (at 1,000 jobs they cost the
    operator 14 % more CPU per job). A change of state still makes its reconcile a span."""
    from kuantum.jobs.statemachine import Enqueued, QueueMoved, Started
    from kuantum.jobs.status import StatusWriter
    from kuantum.models import QuantumJobStatus
    from kuantum.runtime.store import Store

    store = Store()
    writer = StatusWriter(_Kube(), store, None)  # type: ignore[arg-type]
    job = store.put_job(await _Kube().write_state_guarded("QuantumJob", "ns", "j", None, {}))
    queued = QuantumJobStatus()
    for event in (Enqueued("0b0c6f6e-7d55-5d1e-9c55-2f5d2c3f6a01"), QueueMoved(3)):
        queued = apply_event(queued, event)
    with tracing.span_if_used("moved", parent=TRACEPARENT):
        await writer.write(job, queued, [QueueMoved(2)])
    with tracing.span_if_used("started", parent=TRACEPARENT):
        await writer.write(job, queued, [Started("2024-05-01T10:00:05Z")])
    assert set(_exported(operator_tracing)) == {"started"}


def apply_event(status: Any, event: Any) -> Any:
    from kuantum.jobs.statemachine import apply

    return apply(status, event, "2024-05-01T10:00:00Z", 1)


async def test_a_reconcile_that_moved_a_queued_job_is_no_span_and_one_that_queued_it_is(
        operator_tracing: Receiver) -> None:
    from kuantum.runtime.timeutil import now_iso

    from tests.support.fake_storage import BLOB_BASE
    from tests.support.job_world import NS, QIO_INPUT, SA, WS, World

    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.qio_job("running", status={"id": "id-running", "state": "Executing", "creationTime": now_iso(),
                                 "inputDataUri": f"{BLOB_BASE}/job-id-running/inputData"})
    w.dispatcher.claim(w.store.jobs[f"{NS}/running"])
    w.add_job("queued", provider="microsoft-qio", target=SA, input={"inline": QIO_INPUT},
              status={"id": "id-queued", "state": "Waiting", "queuePosition": 2, "creationTime": now_iso(),
                      "inputDataUri": f"{BLOB_BASE}/job-id-queued/inputData", "observedGeneration": 1,
                      "conditions": [{"type": "Queued", "status": "True", "reason": "Queued",
                                      "message": f"queued for {SA} in workspace {WS}"}]})
    await w.reconcile("queued")  # its metadata (finalizer, labels): a write worth a span
    obj = w.kube.objects[("QuantumJob", NS, "queued")]
    obj["status"]["queuePosition"] = 2  # a job ahead of it left
    obj["metadata"]["resourceVersion"] = w.kube.next_rv()
    w.store.put("QuantumJob", w.job("queued"))
    moved = await w.reconcile("queued")
    assert w.status("queued")["queuePosition"] == 1 and moved.status_writes == 1
    w.qio_job("new")
    await w.reconcile("new")
    assert w.status("new")["state"] == "Waiting"
    spans = [s for s in _all_exported(operator_tracing) if s.name == "reconcile QuantumJob"]
    assert [s.attributes["kuantum.job.name"] for s in spans] == ["queued", "new"]


def _all_exported(receiver: Receiver) -> list[Any]:
    tracing.shutdown()
    return list(receiver.spans)
