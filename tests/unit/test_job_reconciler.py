"""The job reconciler's decisions, over fakes: given these objects -> this next write, this child, this SAS.

A real Store, Dispatcher and Settings and the real JobReconciler, pod backend and remote backend; the
API server, the blob storage and the provider's HTTP API are the in-memory fakes of
tests/support/fake_kube.py, which record every call. Nothing sleeps: a "later" reconcile is just the
next call, after the test changed what the watch would have delivered (a pod's phase, a spec field).
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from kuantum import accepted_spec, builders
from kuantum.backends import ionq
from kuantum.backends.pod import STOP_POLL_SECONDS
from kuantum.backends.registry import Backends
from kuantum.backends.remote import RemoteBackend
from kuantum.catalog import IONQ, KUANTUM, QIO, targets_of
from kuantum.controller import Controller
from kuantum.dispatch import Dispatcher
from kuantum.kubeapi import Conflict, ObjectGone
from kuantum.models.common import FINALIZER, LABEL_JOB_ID, LABEL_PROVIDER, LABEL_TARGET, LABEL_WORKSPACE
from kuantum.reconcilers.context import Context
from kuantum.reconcilers.job import ACCEPTED_SPEC, JobReconciler, job_id_for
from kuantum.remote.base import CredentialsRejected, ProviderUnavailable, RemoteState
from kuantum.settings import Settings
from kuantum.storage import INPUT_BLOB, OUTPUT_BLOB, container_name
from kuantum.store import Store
from kuantum.timeutil import format_time, now_iso, parse
from kubernetes import client

from tests.support.fake_kube import (
    BLOB_BASE,
    Call,
    FakeKube,
    FakeProviderApi,
    FakeStorage,
    FakeStorageRegistry,
    Journal,
)

NS, WS = "ns", "ws"
SA = "microsoft.simulatedannealing.cpu"
ARIA = "ionq.qpu.aria-1"
IONQ_SIM = "ionq.simulator"
QIO_INPUT = {"cost_function": {"version": "1.0", "type": "ising", "terms": [{"c": 1, "ids": [0, 1]}]}}
BELL = {"qubits": 2, "circuit": [{"gate": "h", "targets": [0]}, {"gate": "x", "targets": [1], "controls": [0]}]}
API_KEY = "ionq-key-s3cr3t-0123456789"
SOLVER_IMAGE = "registry.example/kuantum-solver:test"


def _uid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.test.kuantum.dev"))


@dataclass
class Pass:
    """What one reconcile did: the kube calls it made, in order."""

    calls: list[Call]

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def writes(self) -> list[str]:
        return [c.method for c in self.calls if c.method not in ("read_data_object", "job_exists", "event_reasons")]

    @property
    def status_writes(self) -> int:
        return len(self.of("patch_status"))


class World:
    """One namespace with a workspace (storage Secret), the built-in QIO Provider, and the fakes."""

    def __init__(self, qio_limits: dict[str, Any] | None = None) -> None:
        self.journal = Journal()
        self.kube = FakeKube(self.journal)
        self.storage = FakeStorage(self.journal)
        self.api = FakeProviderApi(self.journal)
        self.api_credentials: list[dict[str, str]] = []
        self.settings = Settings(solver_image=SOLVER_IMAGE, target_concurrency=4, sas_margin_seconds=3600,
                                 sas_default_seconds=24 * 3600)
        self.store = Store()
        self.dispatcher = Dispatcher(self.store, self.settings)
        self.enqueued: list[str] = []
        self.enqueued_after: list[tuple[str, float]] = []
        self.ctx = Context(store=self.store, kube=self.kube, settings=self.settings, dispatcher=self.dispatcher,
                           storages=FakeStorageRegistry(self.kube, self.storage),
                           enqueue=lambda kind, key: self.enqueued.append(key),
                           enqueue_after=lambda kind, key, delay: self.enqueued_after.append((key, delay)))
        self.restart()
        self.kube.add_secret(NS, "storage", {"connectionString": "AccountName=devstoreaccount1;AccountKey=a2V5"})
        self._put("QuantumWorkspace", {
            "metadata": {"name": WS, "namespace": NS, "uid": "uid-ws", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"storage": {"connectionStringSecretRef": {"name": "storage", "key": "connectionString"}}}})
        self.add_provider("microsoft-qio", QIO, limits=qio_limits)

    def restart(self) -> None:
        """A new operator process: new backends and reconciler (their memory is lost), the same cluster."""
        self.backends = Backends(self.ctx)
        self.remote = RemoteBackend(self.ctx, IONQ, make_api=self._make_api, translate=ionq.translate,
                                    default_credentials_key="apiKey")
        self.backends._by_name[IONQ] = self.remote
        self.reconciler = JobReconciler(self.ctx, self.backends)

    def _make_api(self, endpoint: str | None, credentials: dict[str, str]) -> FakeProviderApi:
        self.api_credentials.append(dict(credentials))
        return self.api

    def _put(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        stored = self.kube.add(kind, body)
        self.store.put(kind, stored)  # as the watch delivers it
        return stored

    def add_provider(self, name: str, provider_id: str, limits: dict[str, Any] | None = None,
                     credentials: bool = True, targets: list[dict[str, Any]] | None = None) -> None:
        spec: dict[str, Any] = {"workspace": WS, "providerId": provider_id, "billingPlan": {"name": "plan"}}
        if limits:
            spec["billingPlan"]["limits"] = limits
        if provider_id == IONQ and credentials:
            spec["credentialsSecretRef"] = {"name": "ionq-creds", "key": "apiKey"}
            spec["endpoint"] = "http://ionq.invalid/v0.4"
            self.kube.add_secret(NS, "ionq-creds", {"apiKey": API_KEY})
        if targets:
            spec["targets"] = targets
        self._put("Provider", {"metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}",
                                            "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": spec})

    def add_job(self, name: str, status: dict[str, Any] | None = None, created: str = "2024-01-01T00:00:00Z",
                **spec: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"apiVersion": "kuantum.dev/v1alpha1", "kind": "QuantumJob",
                                "metadata": {"name": name, "namespace": NS, "uid": _uid(name),
                                             "creationTimestamp": created, "generation": 1},
                                "spec": {"workspace": WS, **spec}}
        if status is not None:
            body["status"] = status
        return self._put("QuantumJob", body)

    def qio_job(self, name: str, **spec: Any) -> dict[str, Any]:
        return self.add_job(name, **{"provider": "microsoft-qio", "target": SA, "input": {"inline": QIO_INPUT},
                                     **spec})

    def ionq_job(self, name: str, target: str = IONQ_SIM, **spec: Any) -> dict[str, Any]:
        return self.add_job(name, **{"provider": "ionq", "target": target, "input": {"inline": BELL},
                                     "inputParams": {"shots": 100}, **spec})

    def job(self, name: str) -> dict[str, Any]:
        found = self.kube.get("QuantumJob", NS, name)
        assert found is not None
        return found

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.job(name).get("status") or {})

    def job_id(self, name: str) -> str:
        return job_id_for(_uid(name))

    def edit_spec(self, name: str, **changes: Any) -> None:
        """A user's edit: the API server bumps generation and resourceVersion; the watch delivers it."""
        obj = self.kube.objects[("QuantumJob", NS, name)]
        obj["spec"].update(changes)
        obj["metadata"]["generation"] += 1
        obj["metadata"]["resourceVersion"] = self.kube.next_rv()
        self.store.put("QuantumJob", self.job(name))

    def deliver_children(self) -> None:
        """The watch delivers the batch Jobs the operator created."""
        for body in self.kube.batch_jobs.values():
            self.store.put_child("Job", body, deleted=False)

    def pod(self, name: str, phase: str, started: str | None = None, finished: str | None = None,
            exit_code: int | None = None, message: str | None = None) -> None:
        """The solver pod of job `name`, as the node reports it."""
        job_id = self.job_id(name)
        state: dict[str, Any]
        if phase in ("Succeeded", "Failed"):
            state = {"terminated": {"exitCode": exit_code if exit_code is not None else (0 if phase == "Succeeded"
                                                                                         else 1),
                                    "startedAt": started, "finishedAt": finished, "message": message or ""}}
        elif phase == "Running":
            state = {"running": {"startedAt": started}}
        else:
            state = {"waiting": {"reason": "ContainerCreating"}}
        self.store.put_child("Pod", {"metadata": {"name": f"kuantum-{job_id}-abcde", "namespace": NS,
                                                  "labels": {LABEL_JOB_ID: job_id},
                                                  "creationTimestamp": "2024-01-01T00:00:00Z"},
                                     "status": {"phase": phase, "containerStatuses": [{"name": "solver",
                                                                                       "state": state}]}},
                             deleted=False)

    async def reconcile(self, name: str, poll_due: bool = True) -> Pass:
        """One pass; by default as when the remote backend's poller wakes the job (its poll is due)."""
        if poll_due:
            self.remote._poller.forget(f"{NS}/{name}")
        before = len(self.kube.calls)
        await self.reconciler.reconcile(f"{NS}/{name}")
        return Pass(self.kube.calls[before:])


def _sas_query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _events(p: Pass) -> list[str]:
    return [c.args["reason"] for c in p.of("event")]


def _status_body(call: Call) -> dict[str, Any]:
    """The status a patch_status call writes (merge patch or JSON patch replace)."""
    patch = call.args["patch"]
    if call.args["json_patch"]:
        replace = [op for op in patch if op["op"] == "replace" and op["path"] == "/status"]
        assert len(replace) == 1, patch
        return dict(replace[0]["value"])
    return dict(patch["status"])


def _condition(status: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c["type"] == type_), None)


def _hours_ago(hours: float) -> str:
    return format_time(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours))


# ============================================================================================== acceptance
async def test_new_qio_job_gets_metadata_then_one_status_write_and_a_gzip_upload() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.qio_job("other", status={"id": "id-other", "state": "Executing", "creationTime": now_iso()})
    w.dispatcher.started.add(f"{NS}/other")  # the only slot is taken: this pass stops at the queue
    spec: dict[str, Any] = {"provider": "microsoft-qio", "target": SA, "input": {"inline": QIO_INPUT},
            "inputParams": {"params": {"sweeps": 10}}, "tags": ["a"], "cancel": False}
    w.add_job("j", **spec)
    job_id = w.job_id("j")
    assert job_id == job_id_for(_uid("j"))

    p = await w.reconcile("j")

    assert p.writes() == ["patch_meta", "patch_status", "event"]
    meta_patch = p.of("patch_meta")[0].args["patch"]["metadata"]
    assert meta_patch["labels"] == {LABEL_JOB_ID: job_id, LABEL_WORKSPACE: WS, LABEL_PROVIDER: "microsoft-qio",
                                    LABEL_TARGET: SA}
    assert meta_patch["finalizers"] == [FINALIZER]
    annotation = meta_patch["annotations"][ACCEPTED_SPEC]
    assert meta_patch["annotations"] == {ACCEPTED_SPEC: accepted_spec.encode({"workspace": WS, **spec})}
    assert accepted_spec.accepted_spec(accepted_spec.decode(annotation), {"workspace": WS, **spec}) == \
        {"workspace": WS, **spec}, "the annotation gives back the spec as accepted"
    assert not set(accepted_spec.MUTABLE_FIELDS) & set(accepted_spec.decode(annotation))
    assert meta_patch["resourceVersion"] is not None, "the metadata write must not build on a stale spec"

    status_call = p.of("patch_status")[0]
    assert status_call.args["json_patch"] is False  # the first write: a merge patch
    status = _status_body(status_call)
    uri = f"{BLOB_BASE}/{container_name(job_id)}/{INPUT_BLOB}"
    assert status["id"] == job_id
    assert status["state"] == "Waiting"
    assert status["inputDataUri"] == uri
    assert status["queuePosition"] == 1
    assert status["observedGeneration"] == 1
    queued = _condition(status, "Queued")
    assert queued is not None and queued["status"] == "True" and queued["reason"] == "Queued"
    assert w.status("j") == status, "what was written is what the API server holds"

    uploads = w.storage.uploads()
    assert len(uploads) == 1
    upload = uploads[0].args
    assert (upload["container"], upload["blob"]) == (container_name(job_id), INPUT_BLOB)
    assert upload["data"][:2] == b"\x1f\x8b", "microsoft.qio.v2 is uploaded gzip-compressed"
    assert gzip.decompress(upload["data"]) == json.dumps(QIO_INPUT, separators=(",", ":")).encode()
    assert upload["content_encoding"] == "gzip"
    assert upload["content_type"] == "application/json"
    assert w.journal.index(lambda c: c.method == "upload") < w.journal.index(lambda c: c.method == "patch_status"), \
        "inputDataUri is written only after the blob exists"

    event = p.of("event")[0].args
    assert event["reason"] == "Queued" and not event["warning"] and job_id in event["message"]
    assert not w.kube.secrets and not w.kube.batch_jobs


async def test_a_second_pass_over_a_queued_job_writes_nothing() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.qio_job("other", status={"id": "id-other", "state": "Executing", "creationTime": now_iso()})
    w.dispatcher.started.add(f"{NS}/other")
    w.qio_job("j")
    await w.reconcile("j")
    again = await w.reconcile("j")
    assert again.writes() == []
    assert len(w.storage.uploads()) == 1


async def test_ionq_input_is_uploaded_as_it_is() -> None:
    w = World()
    w.add_provider("ionq", IONQ)
    w.ionq_job("j")
    await w.reconcile("j")
    upload = w.storage.uploads()[0].args
    assert upload["data"] == json.dumps(BELL, separators=(",", ":")).encode()
    assert upload["content_encoding"] is None


async def test_missing_storage_secret_keeps_the_job_waiting_with_a_reason() -> None:
    w = World()
    del w.kube.data_objects[("secret", NS, "storage")]
    w.qio_job("j")
    p = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Waiting"
    queued = _condition(status, "Queued")
    assert queued is not None and queued["status"] == "False" and queued["reason"] == "WorkspaceNotReady"
    assert _events(p) == ["WorkspaceNotReady"]
    assert not w.storage.uploads() and not w.kube.batch_jobs
    assert (f"{NS}/j", 10.0) in w.enqueued_after
    assert p.status_writes == 1


# ============================================================================================== pod backend
@pytest.mark.parametrize("timeout", [None, 120])
async def test_admitted_pod_job_gets_a_sas_secret_and_a_solver_job_and_nothing_else(timeout: int | None) -> None:
    w = World()
    extra = {"timeoutSeconds": timeout} if timeout else {}
    w.qio_job("j", inputParams={"params": {"sweeps": 10}}, **extra)
    job_id = w.job_id("j")

    p = await w.reconcile("j")

    # Children first, then the reconcile's one status write (Waiting, queued) and its Event.
    assert p.writes() == ["patch_meta", "create_secret", "create_job", "patch_status", "event"]
    lifetime = builders.sas_lifetime(timeout, w.settings)
    assert lifetime < timedelta(days=2), "bounded, never a 10-year token"
    sas = w.storage.sas_requests
    assert [(r.container, r.blob, r.write, r.valid_for) for r in sas] == [
        (container_name(job_id), INPUT_BLOB, False, lifetime),
        (container_name(job_id), OUTPUT_BLOB, True, lifetime)]

    secret = p.of("create_secret")[0].args["body"]
    job = w.job("j")
    assert secret == builders.sas_secret(job, job_id, sas[0].url, sas[1].url, {"params": {"sweeps": 10}})
    input_query = _sas_query(secret["stringData"][builders.INPUT_URL_KEY])
    output_query = _sas_query(secret["stringData"][builders.OUTPUT_URL_KEY])
    assert input_query["sp"] == "r", "the solver may only read its input"
    assert "r" not in output_query["sp"] and set(output_query["sp"]) == {"c", "w"}, "and only write its output"
    for query in (input_query, output_query):
        start, expiry = parse(query["st"]), parse(query["se"])
        assert abs((expiry - start) - (lifetime + timedelta(minutes=5))) <= timedelta(seconds=2)

    target = targets_of(QIO)[SA]
    expected = builders.solver_job(job, job_id, target, SOLVER_IMAGE, "microsoft.qio.v2",
                                   target.output_format_for("microsoft.qio.v2"), timeout, target.default_cpu,
                                   target.default_memory, None)
    assert p.of("create_job")[0].args["body"] == expected
    assert expected["spec"].get("activeDeadlineSeconds") == timeout
    assert w.journal.index(lambda c: c.method == "create_secret") < w.journal.index(lambda c: c.method == "create_job")
    assert not w.api.calls


async def test_emulated_remote_target_runs_the_local_simulator_in_a_pod() -> None:
    w = World()
    w.add_provider("ionq", IONQ, targets=[{"id": ARIA, "backend": "local", "memory": "2Gi"}])
    w.ionq_job("j", target=ARIA)
    p = await w.reconcile("j")
    body = p.of("create_job")[0].args["body"]
    simulator = targets_of(KUANTUM)["kuantum.simulator"]
    assert body == builders.solver_job(w.job("j"), w.job_id("j"), simulator, SOLVER_IMAGE, "ionq.circuit.v1",
                                       "ionq.quantum-results.v1", None, simulator.default_cpu, "2Gi", None)
    assert not w.api.calls and not w.api_credentials, "emulation never talks to the provider"


@pytest.mark.parametrize(("limit", "starts"), [(1, False), (2, True)])
async def test_plan_max_concurrent_jobs(limit: int, starts: bool) -> None:
    w = World(qio_limits={"maxConcurrentJobs": limit})
    w.qio_job("first", created="2024-01-01T00:00:00Z")
    await w.reconcile("first")
    assert len(w.kube.batch_jobs) == 1
    w.qio_job("second", created="2024-01-01T00:00:01Z")
    p = await w.reconcile("second")
    assert bool(p.of("create_job")) is starts
    assert bool(p.of("create_secret")) is starts
    assert w.status("second")["state"] == "Waiting"


async def test_the_waiting_job_starts_once_the_running_one_is_final() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.qio_job("first", created="2024-01-01T00:00:00Z")
    await w.reconcile("first")
    w.qio_job("second", created="2024-01-01T00:00:01Z")
    assert not (await w.reconcile("second")).of("create_job")
    w.deliver_children()
    w.pod("first", "Succeeded", started=_hours_ago(0.1), finished=_hours_ago(0.05))
    w.storage.put_blob(container_name(w.job_id("first")), OUTPUT_BLOB, b"{}")
    w.enqueued.clear()
    await w.reconcile("first")  # -> Succeeded
    await w.reconcile("first")  # final: frees the slot, wakes the queue
    assert f"{NS}/second" in w.enqueued
    p = await w.reconcile("second")
    assert [c.args["body"]["metadata"]["name"] for c in p.of("create_job")] == [
        builders.child_name(w.job_id("second"))]


def _month_job(w: World, name: str, created: str, code: str | None = None) -> None:
    status: dict[str, Any] = {"id": f"id-{name}", "state": "Failed" if code else "Succeeded", "creationTime": created,
                              "inputDataUri": f"{BLOB_BASE}/job-id-{name}/inputData"}
    if code:
        status["errorData"] = {"code": code, "message": "m"}
    w.qio_job(name, status=status)


@pytest.mark.parametrize(("limit", "fails"), [(2, True), (3, False)])
async def test_monthly_job_quota_at_the_limit_fails_and_below_it_does_not(limit: int, fails: bool) -> None:
    w = World(qio_limits={"maxJobsPerMonth": limit})
    _month_job(w, "a", now_iso())
    _month_job(w, "b", now_iso())
    _month_job(w, "last-month", _hours_ago(24 * 40))  # another month: does not count
    _month_job(w, "refused", now_iso(), code="QuotaExceeded")  # never submitted: does not count
    w.qio_job("j")
    p = await w.reconcile("j")
    status = w.status("j")
    if fails:
        assert status["state"] == "Failed"
        assert status["errorData"]["code"] == "QuotaExceeded"
        assert f"allows {limit} jobs per month" in status["errorData"]["message"]
        assert "2 were submitted" in status["errorData"]["message"]
        assert not w.storage.uploads() and not p.of("create_job")
        assert p.status_writes == 1
        assert _events(p) == ["Failed"]
    else:
        assert status["state"] == "Waiting"
        assert "errorData" not in status
        assert len(w.storage.uploads()) == 1 and len(p.of("create_job")) == 1


async def _started_pod_job(w: World, name: str = "j", **spec: Any) -> str:
    """A QIO job launched and executing (its pod runs); returns its id."""
    w.qio_job(name, **spec)
    await w.reconcile(name)
    w.deliver_children()
    w.pod(name, "Running", started=_hours_ago(0.1))
    p = await w.reconcile(name)
    assert w.status(name)["state"] == "Executing"
    assert _events(p) == ["Executing"]
    return w.job_id(name)


async def test_pod_succeeded_with_output_is_one_write_to_succeeded() -> None:
    w = World()
    w.qio_job("j")
    await w.reconcile("j")
    w.deliver_children()
    job_id = w.job_id("j")
    base = datetime.now(UTC).replace(microsecond=0)
    started, finished = format_time(base - timedelta(seconds=360)), format_time(base - timedelta(seconds=180))
    w.pod("j", "Succeeded", started=started, finished=finished)
    w.storage.put_blob(container_name(job_id), OUTPUT_BLOB, b'{"solutions": []}')

    p = await w.reconcile("j")

    assert p.writes() == ["patch_status", "event", "event"]
    assert _events(p) == ["Executing", "Succeeded"]
    patch = p.of("patch_status")[0].args["patch"]
    assert patch[0] == {"op": "test", "path": "/status/state", "value": "Waiting"}
    status = w.status("j")
    assert status["state"] == "Succeeded"
    assert status["outputDataUri"] == f"{BLOB_BASE}/{container_name(job_id)}/{OUTPUT_BLOB}"
    assert (status["beginExecutionTime"], status["endExecutionTime"]) == (started, finished)
    assert status["usage"] == {"executionSeconds": 180.0}
    assert "errorData" not in status
    assert (w.storage.blobs[(container_name(job_id), OUTPUT_BLOB)].data == b'{"solutions": []}'), "never rewritten"


async def test_pod_succeeded_without_output_fails_output_missing() -> None:
    w = World()
    await _started_pod_job(w)
    w.pod("j", "Succeeded", started=_hours_ago(0.1), finished=_hours_ago(0.05))
    p = await w.reconcile("j")
    assert p.status_writes == 1
    assert w.status("j")["errorData"]["code"] == "OutputMissing"


async def test_pod_failed_with_the_solvers_termination_message_fails_with_its_code() -> None:
    w = World()
    await _started_pod_job(w)
    finished = _hours_ago(0.05)
    w.pod("j", "Failed", started=_hours_ago(0.1), finished=finished, exit_code=2,
          message='solver log line\n{"code": "InvalidInputData", "message": "term 3 names variable -1"}\n')
    p = await w.reconcile("j")
    assert p.writes() == ["patch_status", "event"]
    status = w.status("j")
    assert status["state"] == "Failed"
    assert status["errorData"] == {"code": "InvalidInputData", "message": "term 3 names variable -1"}
    assert status["endExecutionTime"] == finished
    assert _condition(status, "Stalled")["reason"] == "InvalidInputData"  # type: ignore[index]
    assert p.of("event")[0].args["warning"] is True


async def test_pod_failed_without_a_message_names_the_exit_code() -> None:
    w = World()
    await _started_pod_job(w)
    w.pod("j", "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.05), exit_code=137, message="Killed")
    await w.reconcile("j")
    error = w.status("j")["errorData"]
    assert error["code"] == "SolverFailed" and "137" in error["message"]


async def test_launched_job_whose_batch_job_vanished_fails_execution_lost() -> None:
    w = World()
    w.qio_job("j")
    await w.reconcile("j")
    w.kube.batch_jobs.clear()  # deleted by someone else before the watch ever showed it
    p = await w.reconcile("j")
    assert p.of("job_exists"), "confirmed with the API server first"
    assert w.status("j")["errorData"]["code"] == "ExecutionLost"


# ---------------------------------------------------------------------------------------------- cancel
async def test_cancel_of_a_new_job_is_cancelled_with_no_upload_and_no_child() -> None:
    w = World()
    w.qio_job("j", cancel=True)
    p = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Cancelled"
    assert status["id"] == w.job_id("j")
    assert p.status_writes == 1
    assert not w.storage.uploads() and not w.kube.secrets and not w.kube.batch_jobs
    assert _events(p) == ["Cancelled"]


async def test_cancel_while_waiting_in_the_queue_is_cancelled_and_never_started() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.qio_job("first", created="2024-01-01T00:00:00Z")
    await w.reconcile("first")
    w.qio_job("j", created="2024-01-01T00:00:01Z")
    await w.reconcile("j")
    assert w.status("j")["state"] == "Waiting"
    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    assert p.writes() == ["patch_status", "event"]
    assert p.of("patch_status")[0].args["patch"][0] == {"op": "test", "path": "/status/state", "value": "Waiting"}
    status = w.status("j")
    assert status["state"] == "Cancelled" and status["cancellationTime"]
    assert "beginExecutionTime" not in status
    assert [k[1] for k in w.kube.batch_jobs] == [builders.child_name(w.job_id("first"))]


async def test_cancel_while_executing_on_a_non_cancellable_target_asks_once_and_runs_on() -> None:
    w = World()
    w.add_provider("ionq", IONQ, targets=[{"id": ARIA, "backend": "local"}])  # the pod backend, emulating
    w.ionq_job("j", target=ARIA)
    await w.reconcile("j")
    w.deliver_children()
    w.pod("j", "Running", started=_hours_ago(0.1))
    await w.reconcile("j")
    assert w.status("j")["state"] == "Executing"

    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    assert p.writes() == ["patch_status", "event"]
    status = w.status("j")
    assert status["state"] == "Executing"
    cond = _condition(status, "CancelRequested")
    assert cond is not None and cond["status"] == "True" and cond["reason"] == "NotCancellableWhileExecuting"
    assert p.of("event")[0].args["reason"] == "CancelRequested"
    assert not p.of("delete_job") and w.kube.batch_jobs

    again = await w.reconcile("j")
    assert again.writes() == [], "the condition and its Event come once"

    w.pod("j", "Succeeded", started=_hours_ago(0.1), finished=_hours_ago(0.05))
    w.storage.put_blob(container_name(w.job_id("j")), OUTPUT_BLOB, b"{}")
    await w.reconcile("j")
    assert w.status("j")["state"] == "Succeeded", "the job ran to completion"


async def test_cancel_while_executing_stops_the_pod_then_cancels_and_deletes_the_secret() -> None:
    w = World()
    job_id = await _started_pod_job(w)
    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    # The pod still runs: the state stays; the one status write records that the cancel (a new generation)
    # was seen (observedGeneration, which kstatus reads).
    assert p.writes() == ["delete_job", "patch_status"]
    assert w.status("j")["state"] == "Executing"
    assert w.status("j")["observedGeneration"] == w.job("j")["metadata"]["generation"]
    assert p.of("delete_job")[0].args == {"namespace": NS, "name": builders.child_name(job_id)}
    assert any(key == f"{NS}/j" for key, _ in w.enqueued_after)

    w.pod("j", "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.01), exit_code=143, message="")
    p = await w.reconcile("j")
    assert not p.of("delete_job"), "deleted once"
    assert p.status_writes == 1
    status = w.status("j")
    assert status["state"] == "Cancelled"
    assert "errorData" not in status, "stopping the pod for the cancel is not a failure"
    assert status["usage"]["executionSeconds"] > 0

    p = await w.reconcile("j")  # final: cleanup
    assert p.writes() == ["delete_secret"]
    assert p.of("delete_secret")[0].args == {"namespace": NS, "name": builders.secret_name(job_id)}


# ---------------------------------------------------------------------------------------------- final
async def test_final_job_deletes_its_sas_secret_once() -> None:
    w = World()
    w.qio_job("j")
    await w.reconcile("j")
    job_id = w.job_id("j")
    assert (NS, builders.secret_name(job_id)) in w.kube.secrets
    w.deliver_children()
    w.pod("j", "Succeeded", started=_hours_ago(0.1), finished=_hours_ago(0.05))
    w.storage.put_blob(container_name(job_id), OUTPUT_BLOB, b"{}")
    await w.reconcile("j")
    p = await w.reconcile("j")
    # It ended minutes ago, past child_retention_seconds: the solver Job (and so its pod) goes too, once.
    assert p.writes() == ["delete_secret", "delete_job"]
    assert p.of("delete_job")[0].args["name"] == builders.child_name(job_id)
    assert not w.kube.secrets
    w.kube.batch_jobs.clear()
    w.store.batch_jobs.pop(job_id, None)  # as the watch delivers the deletion
    assert (await w.reconcile("j")).writes() == []


async def test_a_just_finished_jobs_solver_job_is_kept_for_its_logs_then_deleted() -> None:
    w = World()
    w.qio_job("j")
    await w.reconcile("j")
    job_id = w.job_id("j")
    w.deliver_children()
    w.pod("j", "Succeeded", started=_hours_ago(0.001), finished=now_iso())
    w.storage.put_blob(container_name(job_id), OUTPUT_BLOB, b"{}")
    await w.reconcile("j")
    p = await w.reconcile("j")
    assert p.writes() == ["delete_secret"], "the SAS Secret goes at once"
    later = [delay for key, delay in w.enqueued_after if key == f"{NS}/j"]
    assert later and 0 < max(later) <= w.settings.child_retention_seconds + 1


async def test_final_job_after_a_restart_still_deletes_its_sas_secret() -> None:
    w = World()
    w.qio_job("j")
    await w.reconcile("j")
    w.deliver_children()
    w.pod("j", "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.05), message='{"code": "X", "message": "y"}')
    await w.reconcile("j")
    w.restart()
    w.dispatcher.started.clear()  # the new process knows only what the watch lists
    p = await w.reconcile("j")
    assert p.of("delete_secret")


@pytest.mark.parametrize(("ttl", "ended_hours_ago", "deleted"), [(0, 0.0, True), (60, 2.0, True),
                                                                  (7200, 1.0, False)])
async def test_ttl_after_finished(ttl: int, ended_hours_ago: float, deleted: bool) -> None:
    w = World()
    ended = _hours_ago(ended_hours_ago)
    w.qio_job("j", ttlSecondsAfterFinished=ttl,
              status={"id": w.job_id("j"), "state": "Succeeded", "creationTime": _hours_ago(3),
                      "beginExecutionTime": _hours_ago(3), "endExecutionTime": ended,
                      "outputDataUri": "x"})
    p = await w.reconcile("j")
    assert [c.args for c in p.of("delete_custom")] == ([{"kind": "QuantumJob", "namespace": NS, "name": "j"}]
                                                      if deleted else [])
    if not deleted:
        assert [key for key, _ in w.enqueued_after] == [f"{NS}/j"]
        assert p.writes() == []


async def test_final_status_is_never_written_again() -> None:
    w = World()
    w.qio_job("j", status={"id": w.job_id("j"), "state": "Failed", "creationTime": _hours_ago(1),
                           "errorData": {"code": "X", "message": "y"}})
    w.edit_spec("j", target="microsoft.tabu.cpu", cancel=True)
    p = await w.reconcile("j")
    assert p.status_writes == 0 and not p.of("patch_meta")


# ============================================================================================== remote (IonQ)
async def _admitted_remote(w: World, name: str = "j", target: str = IONQ_SIM) -> Pass:
    w.add_provider("ionq", IONQ)
    w.ionq_job(name, target=target)
    return await w.reconcile(name)


async def test_remote_submit_time_is_recorded_before_any_submit() -> None:
    w = World()
    first = await _admitted_remote(w)
    assert not w.api.of("submit"), "the first pass only records the attempt"
    status = w.status("j")
    assert status["providerSubmitTime"]
    assert "providerJobId" not in status
    assert (f"{NS}/j", 0.0) in w.enqueued_after
    assert not first.of("create_job") and not first.of("create_secret"), "no pod for a remote target"
    assert w.api_credentials == [{"apiKey": API_KEY}]

    second = await w.reconcile("j")
    assert len(w.api.of("submit")) == 1
    submit = w.journal.index(lambda c: c.source == "api" and c.method == "submit")
    recorded = w.journal.index(lambda c: c.method == "patch_status" and "providerSubmitTime" in
                               json.dumps(c.args["patch"]))
    assert recorded < submit
    program = w.api.of("submit")[0].args["program"]
    assert program.marker == w.job_id("j") and w.job_id("j") in program.name
    assert program.target == IONQ_SIM and program.shots == 100
    assert program.body == {"gateset": "qis", **BELL}
    assert second.status_writes == 1
    assert w.status("j")["providerJobId"] == "remote-1"
    assert w.status("j")["state"] == "Waiting"
    assert not w.api.of("find"), "this process sent nothing before: no search needed"

    third = await w.reconcile("j")
    assert len(w.api.of("submit")) == 1, "exactly once"
    assert third.writes() == []
    assert [c.args for c in w.api.of("get")] == [{"remote_id": "remote-1"}]


async def test_remote_first_pass_writes_status_once() -> None:
    w = World()
    first = await _admitted_remote(w)
    assert first.status_writes <= 1


async def test_submit_with_an_unclear_outcome_is_found_and_adopted_not_sent_twice() -> None:
    w = World()
    await _admitted_remote(w)
    w.api.accept_then_fail.append(ProviderUnavailable("connection dropped after the request was sent"))
    p = await w.reconcile("j")
    assert len(w.api.of("submit")) == 1
    assert p.writes() == [], "an unclear answer is no failure"
    assert "providerJobId" not in w.status("j")
    assert w.status("j")["state"] == "Waiting"

    p = await w.reconcile("j")
    calls = [c.method for c in w.api.calls if c.method in ("submit", "find")]
    assert calls == ["submit", "find"], "searched for, and not sent again"
    find = w.api.of("find")[0].args
    assert find["marker"] == w.job_id("j")
    assert find["not_before"] <= parse(w.status("j")["providerSubmitTime"])
    assert w.status("j")["providerJobId"] == "remote-1"
    assert len(w.api.jobs) == 1
    assert p.status_writes == 1


async def test_submit_that_never_arrived_is_searched_for_then_sent_once_more() -> None:
    w = World()
    await _admitted_remote(w)
    w.api.fail_next["submit"] = [ProviderUnavailable("503 from the load balancer")]
    await w.reconcile("j")
    await w.reconcile("j")
    calls = [c.method for c in w.api.calls if c.method in ("submit", "find")]
    assert calls == ["submit", "find", "submit"]
    assert len(w.api.jobs) == 1
    assert w.status("j")["providerJobId"] in w.api.jobs


async def test_after_a_restart_an_attempted_submit_is_searched_for_first() -> None:
    w = World()
    await _admitted_remote(w)
    w.api.accept_then_fail.append(ProviderUnavailable("timeout"))
    await w.reconcile("j")
    w.restart()
    await w.reconcile("j")
    assert [c.method for c in w.api.calls if c.method in ("submit", "find")] == ["submit", "find"]
    assert w.status("j")["providerJobId"] == "remote-1"


async def test_rejected_credentials_fail_the_job_without_leaking_the_key() -> None:
    w = World()
    await _admitted_remote(w)
    w.api.fail_next["submit"] = [CredentialsRejected("401 Unauthorized: invalid API key", 401)]
    p = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed"
    assert status["errorData"]["code"] == "CredentialsRejected"
    assert "invalid API key" in status["errorData"]["message"]
    assert _events(p) == ["Failed"]
    everything = json.dumps([c.args for c in w.kube.calls], default=str) + json.dumps(status) + \
        json.dumps(w.kube.events)
    assert API_KEY not in everything
    assert base64.b64encode(API_KEY.encode()).decode() not in everything
    assert len(w.api.of("submit")) == 1, "no retry storm"
    await w.reconcile("j")
    assert len(w.api.of("submit")) == 1


async def test_provider_without_credentials_fails_the_job_before_anything_is_recorded() -> None:
    w = World()
    w.add_provider("ionq", IONQ, credentials=False)
    w.ionq_job("j")
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == "CredentialsRejected"
    assert "providerSubmitTime" not in status
    assert not w.api.calls


async def test_missing_credentials_secret_keeps_the_job_waiting() -> None:
    w = World()
    w.add_provider("ionq", IONQ)
    del w.kube.data_objects[("secret", NS, "ionq-creds")]
    w.ionq_job("j")
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Waiting"
    assert _condition(status, "Queued")["reason"] == "CredentialsNotFound"  # type: ignore[index]
    assert "providerSubmitTime" not in status
    assert not w.api.calls


async def test_missing_credentials_secret_is_one_status_write() -> None:
    w = World()
    w.add_provider("ionq", IONQ)
    del w.kube.data_objects[("secret", NS, "ionq-creds")]
    w.ionq_job("j")
    p = await w.reconcile("j")
    assert p.status_writes <= 1


async def _submitted(w: World, target: str = IONQ_SIM) -> str:
    await _admitted_remote(w, target=target)
    await w.reconcile("j")
    remote_id = w.status("j")["providerJobId"]
    assert isinstance(remote_id, str)
    return remote_id


async def test_provider_job_running_then_completed_writes_the_output_and_succeeds() -> None:
    w = World()
    remote_id = await _submitted(w)
    w.api.set_state(remote_id, RemoteState.EXECUTING)
    p = await w.reconcile("j")
    assert p.status_writes == 1 and w.status("j")["state"] == "Executing"
    assert not w.storage.uploads()[1:], "no output before completion"

    w.api.set_state(remote_id, RemoteState.SUCCEEDED)
    p = await w.reconcile("j")
    job_id = w.job_id("j")
    blob = w.storage.blobs[(container_name(job_id), OUTPUT_BLOB)]
    assert blob.data == w.api.jobs[remote_id].results
    assert blob.content_type == "application/json"
    status = w.status("j")
    assert status["state"] == "Succeeded"
    assert status["outputDataUri"] == f"{BLOB_BASE}/{container_name(job_id)}/{OUTPUT_BLOB}"
    assert p.status_writes == 1
    assert w.journal.index(lambda c: c.method == "upload" and c.args["blob"] == OUTPUT_BLOB) < \
        max(i for i, c in enumerate(w.journal.calls) if c.method == "patch_status"), "output before Succeeded"
    assert (await w.reconcile("j")).status_writes == 0
    assert len([c for c in w.storage.uploads() if c.args["blob"] == OUTPUT_BLOB]) == 1, "written once"


async def test_a_reconcile_before_the_poll_is_due_asks_the_provider_nothing() -> None:
    """Its own status write or a resync wakes the job too: only the poll schedule sends a GET."""
    w = World()
    remote_id = await _submitted(w)
    assert w.remote._poller.waiting(f"{NS}/j"), "the submit scheduled the first poll"
    w.api.set_state(remote_id, RemoteState.EXECUTING)
    p = await w.reconcile("j", poll_due=False)
    assert not w.api.of("get") and p.writes() == []
    assert w.status("j")["state"] == "Waiting"
    p = await w.reconcile("j")  # the poller wakes it
    assert len(w.api.of("get")) == 1 and w.status("j")["state"] == "Executing"


async def test_provider_job_completed_straight_from_waiting_is_started_and_succeeded_in_one_write() -> None:
    w = World()
    remote_id = await _submitted(w)
    w.api.set_state(remote_id, RemoteState.SUCCEEDED)
    p = await w.reconcile("j")
    assert p.status_writes == 1
    assert _events(p) == ["Executing", "Succeeded"]
    assert w.status("j")["state"] == "Succeeded"


async def test_provider_job_failed_fails_with_the_providers_code_and_message() -> None:
    w = World()
    remote_id = await _submitted(w)
    w.api.set_state(remote_id, RemoteState.EXECUTING)
    await w.reconcile("j")
    w.api.set_state(remote_id, RemoteState.FAILED, "QuotaExhausted", "the account has no credit left")
    p = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed"
    assert status["errorData"] == {"code": "QuotaExhausted", "message": "the account has no credit left"}
    assert p.status_writes == 1
    assert (container_name(w.job_id("j")), OUTPUT_BLOB) not in w.storage.blobs


async def test_unknown_provider_job_fails_the_job() -> None:
    w = World()
    remote_id = await _submitted(w)
    del w.api.jobs[remote_id]
    await w.reconcile("j")
    assert w.status("j")["errorData"]["code"] == "NotFound"


async def test_remote_cancel_while_waiting_cancels_at_the_provider() -> None:
    w = World()
    remote_id = await _submitted(w, target=ARIA)
    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    assert [c.args for c in w.api.of("cancel")] == [{"remote_id": remote_id}]
    assert w.status("j")["state"] == "Cancelled"
    assert p.status_writes == 1


async def test_remote_cancel_while_executing_on_a_qpu_asks_once_and_runs_on() -> None:
    w = World()
    remote_id = await _submitted(w, target=ARIA)
    w.api.set_state(remote_id, RemoteState.EXECUTING)
    await w.reconcile("j")
    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    assert not w.api.of("cancel")
    assert _condition(w.status("j"), "CancelRequested") is not None
    assert w.status("j")["state"] == "Executing"
    assert p.status_writes == 1
    assert (await w.reconcile("j")).writes() == []


async def test_cancel_refused_together_with_start_is_one_status_write() -> None:
    w = World()
    remote_id = await _submitted(w, target=ARIA)
    w.api.set_state(remote_id, RemoteState.EXECUTING)
    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    assert w.status("j")["state"] == "Executing"
    assert _condition(w.status("j"), "CancelRequested") is not None
    assert p.status_writes <= 1


async def test_remote_cancel_while_executing_on_a_simulator_cancels() -> None:
    w = World()
    remote_id = await _submitted(w)
    w.api.set_state(remote_id, RemoteState.EXECUTING)
    await w.reconcile("j")
    w.edit_spec("j", cancel=True)
    await w.reconcile("j")
    assert [c.args for c in w.api.of("cancel")] == [{"remote_id": remote_id}]
    status = w.status("j")
    assert status["state"] == "Cancelled" and status["endExecutionTime"]


async def test_deleting_a_remote_job_cancels_it_at_the_provider_and_releases_the_finalizer() -> None:
    w = World()
    remote_id = await _submitted(w)
    await w.kube.delete_custom("QuantumJob", NS, "j")
    w.store.put("QuantumJob", w.job("j"))
    p = await w.reconcile("j")
    assert [c.args for c in w.api.of("cancel")] == [{"remote_id": remote_id}]
    assert p.writes() == ["patch_status", "event", "patch_meta"]
    assert p.of("patch_meta")[0].args["patch"] == {"metadata": {"finalizers": []}}
    assert w.kube.get("QuantumJob", NS, "j") is None


async def test_a_deleted_job_whose_reconcile_hits_object_gone_is_done_without_error() -> None:
    w = World()
    remote_id = await _submitted(w)
    await w.kube.delete_custom("QuantumJob", NS, "j")
    w.store.put("QuantumJob", w.job("j"))  # the operator saw the deletion start...
    del w.kube.objects[("QuantumJob", NS, "j")]  # ...and the object is gone before the reconcile writes
    with pytest.raises(ObjectGone):
        await w.reconciler.reconcile(f"{NS}/j")
    assert [c.args for c in w.api.of("cancel")] == [{"remote_id": remote_id}], "stopped at the provider first"

    controller = Controller(client.ApiClient(), w.settings, [NS])
    try:
        controller.reconcilers["QuantumJob"] = w.reconciler
        before = len(w.api.calls)
        await controller._handle(f"QuantumJob|{NS}/j")  # ObjectGone: done, not an error, not retried
        assert [c.method for c in w.api.calls[before:] if c.method == "submit"] == []
    finally:
        controller.api_client.close()


# ============================================================================================== races, deletion
async def test_metadata_write_on_a_stale_object_is_a_conflict() -> None:
    w = World()
    w.qio_job("j")
    w.kube.objects[("QuantumJob", NS, "j")]["metadata"]["resourceVersion"] = w.kube.next_rv()  # edited meanwhile
    with pytest.raises(Conflict):
        await w.reconcile("j")
    assert not w.storage.uploads() and not w.kube.of("patch_status")


async def test_status_write_over_a_state_that_moved_is_a_conflict() -> None:
    w = World()
    await _started_pod_job(w)
    w.kube.objects[("QuantumJob", NS, "j")]["status"]["state"] = "Cancelled"  # another writer won the race
    w.pod("j", "Succeeded", started=_hours_ago(0.1), finished=_hours_ago(0.05))
    w.storage.put_blob(container_name(w.job_id("j")), OUTPUT_BLOB, b"{}")
    with pytest.raises(Conflict):
        await w.reconcile("j")
    assert w.status("j")["state"] == "Cancelled", "a final state is never overwritten"


async def test_deleting_a_waiting_job_cancels_it_and_releases_the_finalizer() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.qio_job("first", created="2024-01-01T00:00:00Z")
    await w.reconcile("first")
    w.qio_job("j", created="2024-01-01T00:00:01Z")
    await w.reconcile("j")
    await w.kube.delete_custom("QuantumJob", NS, "j")
    w.store.put("QuantumJob", w.job("j"))
    p = await w.reconcile("j")
    # The Secret delete (a 404 here) is for a job an earlier process may have begun to launch (see below).
    assert p.writes() == ["patch_status", "event", "delete_secret", "patch_meta"]
    assert _status_body(p.of("patch_status")[0])["state"] == "Cancelled"
    assert w.kube.get("QuantumJob", NS, "j") is None
    assert not p.of("delete_job") and not p.of("create_job")


async def test_deleting_an_executing_pod_job_stops_the_pod_first() -> None:
    w = World()
    job_id = await _started_pod_job(w)
    await w.kube.delete_custom("QuantumJob", NS, "j")
    w.store.put("QuantumJob", w.job("j"))
    p = await w.reconcile("j")
    assert p.writes() == ["delete_job"], "the finalizer stays while the pod runs"
    w.pod("j", "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.01), exit_code=143)
    p = await w.reconcile("j")
    assert p.writes() == ["patch_status", "event", "delete_secret", "patch_meta"]
    assert p.of("delete_secret")[0].args["name"] == builders.secret_name(job_id)
    assert w.kube.get("QuantumJob", NS, "j") is None


async def test_spec_change_and_a_transition_are_one_status_write() -> None:
    w = World()
    await _started_pod_job(w)
    w.edit_spec("j", target="microsoft.tabu.cpu")
    w.pod("j", "Succeeded", started=_hours_ago(0.1), finished=_hours_ago(0.05))
    w.storage.put_blob(container_name(w.job_id("j")), OUTPUT_BLOB, b"{}")
    p = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Succeeded"
    assert _condition(status, "SpecChangeIgnored") is not None
    assert p.status_writes <= 1


async def test_spec_change_is_ignored_and_said_once() -> None:
    w = World()
    await _started_pod_job(w)
    w.edit_spec("j", target="microsoft.tabu.cpu")
    p = await w.reconcile("j")
    assert p.status_writes == 1 and _events(p) == ["SpecChangeIgnored"]
    cond = _condition(w.status("j"), "SpecChangeIgnored")
    assert cond is not None and "target" in cond["message"]
    assert (await w.reconcile("j")).writes() == []
    assert not w.kube.of("delete_job")
    assert w.status("j")["state"] == "Executing"


async def test_ignored_spec_change_keeps_the_accepted_labels() -> None:
    w = World()
    await _started_pod_job(w)
    w.edit_spec("j", target="microsoft.tabu.cpu")
    p = await w.reconcile("j")
    assert not p.of("patch_meta")
    assert w.job("j")["metadata"]["labels"][LABEL_TARGET] == SA


async def test_remote_job_cancelled_before_it_was_sent_is_never_sent() -> None:
    w = World()
    await _admitted_remote(w)  # attempt recorded, not sent yet
    w.edit_spec("j", cancel=True)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Cancelled"
    assert not w.api.of("submit")


def _used_seconds(w: World, seconds: float) -> None:
    # Seconds count in the month the execution ended (kuantum.usage), as the Provider's status shows them.
    w.qio_job("used", status={"id": "id-used", "state": "Succeeded", "creationTime": now_iso(),
                              "endExecutionTime": now_iso(),
                              "inputDataUri": f"{BLOB_BASE}/job-id-used/inputData",
                              "usage": {"executionSeconds": seconds}})


@pytest.mark.parametrize(("used", "fails"), [(100.0, True), (99.0, False)])
async def test_monthly_execution_seconds_at_the_limit_fail_and_below_start(used: float, fails: bool) -> None:
    w = World(qio_limits={"maxExecutionSecondsPerMonth": 100})
    _used_seconds(w, used)
    w.qio_job("j")
    p = await w.reconcile("j")
    status = w.status("j")
    if fails:
        assert status["state"] == "Failed" and status["errorData"]["code"] == "QuotaExceeded"
        assert not p.of("create_job") and not p.of("create_secret")
    else:
        assert status["state"] == "Waiting" and len(p.of("create_job")) == 1


async def test_execution_seconds_quota_refusal_is_one_status_write() -> None:
    w = World(qio_limits={"maxExecutionSecondsPerMonth": 100})
    _used_seconds(w, 100.0)
    w.qio_job("j")
    p = await w.reconcile("j")
    assert p.status_writes <= 1


async def test_a_workspace_being_deleted_cancels_its_waiting_and_executing_jobs() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    job_id = await _started_pod_job(w, "running")
    w.qio_job("queued")
    await w.reconcile("queued")
    assert w.status("queued")["state"] == "Waiting"
    workspace = copy.deepcopy(w.store.workspaces[f"{NS}/{WS}"].body)
    workspace["metadata"]["deletionTimestamp"] = "2024-01-02T00:00:00Z"  # as the watch delivers a deletion
    w.store.put("QuantumWorkspace", workspace)

    await w.reconcile("queued")
    assert w.status("queued")["state"] == "Cancelled", "a waiting job is cancelled at once"
    p = await w.reconcile("running")
    assert p.of("delete_job") and p.of("delete_job")[0].args["name"] == builders.child_name(job_id)
    w.pod("running", "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.01), exit_code=143, message="")
    await w.reconcile("running")
    assert w.status("running")["state"] == "Cancelled", "the executing one once its pod stopped"


async def test_a_workspace_that_found_its_storage_unreachable_makes_new_jobs_wait_at_once() -> None:
    w = World()
    workspace = copy.deepcopy(w.store.workspaces[f"{NS}/{WS}"].body)
    workspace["status"] = {"conditions": [{"type": "StorageReady", "status": "False", "reason": "StorageUnreachable",
                                           "message": "storage account devstoreaccount1 is not reachable"}]}
    w.store.put("QuantumWorkspace", workspace)
    w.qio_job("j")
    p = await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Waiting" and p.status_writes == 1
    queued = _condition(status, "Queued")
    assert queued is not None and queued["reason"] == "WorkspaceNotReady" and "not reachable" in queued["message"]
    assert not w.storage.uploads(), "no connection attempt that could hang the first status"


async def test_a_pod_killed_at_its_deadline_before_it_was_seen_running_is_a_timeout() -> None:
    w = World()
    w.qio_job("j", timeoutSeconds=3)
    await w.reconcile("j")
    job_id = w.job_id("j")
    for body in w.kube.batch_jobs.values():
        body["status"] = {"startTime": _hours_ago(0.01)}  # started 36 s ago, its deadline 3 s
    w.deliver_children()
    w.pod("j", "Pending")
    pod = next(iter(w.store.pods[job_id].values()))
    w.store.put_child("Pod", pod, deleted=True)  # the Job controller deleted it at activeDeadlineSeconds
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == "Failed" and status["errorData"]["code"] == "Timeout", status


@pytest.mark.parametrize(("created_by", "state"), [(None, "Waiting"), ("kuantum-gateway", "Failed")])
async def test_an_unknown_provider_waits_for_gitops_but_fails_a_gateway_job(created_by: str | None,
                                                                              state: str) -> None:
    w = World()
    annotations = {"kuantum.dev/created-by": created_by} if created_by else {}
    w._put("QuantumJob", {"apiVersion": "kuantum.dev/v1alpha1", "kind": "QuantumJob",
                          "metadata": {"name": "j", "namespace": NS, "uid": _uid("j"), "generation": 1,
                                       "creationTimestamp": "2024-01-01T00:00:00Z", "annotations": annotations},
                          "spec": {"workspace": WS, "provider": "no-such-provider", "target": SA,
                                   "input": {"inline": QIO_INPUT}}})
    await w.reconcile("j")
    status = w.status("j")
    assert status["state"] == state, status
    if created_by:
        assert status["errorData"]["code"] == "InvalidProvider"
    else:
        assert _condition(status, "Queued")["reason"] == "ProviderNotFound"  # type: ignore[index]


async def test_queue_positions_are_rewritten_at_the_front_of_a_queue_not_deep_in_it() -> None:
    w = World(qio_limits={"maxConcurrentJobs": 1})
    w.qio_job("running", status={"id": "id-running", "state": "Executing", "creationTime": now_iso(),
                                 "inputDataUri": f"{BLOB_BASE}/job-id-running/inputData"})
    w.dispatcher.started.add(f"{NS}/running")
    for i in range(10):  # queued in this order; every one wrote a position one too high (a job ahead left)
        w.add_job(f"q{i}", provider="microsoft-qio", target=SA, input={"inline": QIO_INPUT},
                  created=f"2024-01-01T00:00:{10 + i}Z",
                  status={"id": f"id-q{i}", "state": "Waiting", "queuePosition": i + 2, "creationTime": now_iso(),
                          "inputDataUri": f"{BLOB_BASE}/job-id-q{i}/inputData",
                          "observedGeneration": 1,
                          "conditions": [{"type": "Queued", "status": "True", "reason": "Queued",
                                          "message": f"queued for {SA} in workspace {WS}"}]})
    front, deep = await w.reconcile("q1"), await w.reconcile("q8")
    assert w.status("q1")["queuePosition"] == 2 and front.status_writes == 1, "exact at the front"
    assert w.status("q8")["queuePosition"] == 10 and deep.status_writes == 0, "no write per start deep in a queue"


async def test_a_job_finished_by_a_killed_process_gets_its_final_event_from_the_next_one() -> None:
    """The status write landed, the Event did not (SIGKILL in between): the next process records it, once."""
    w = World()
    ended = _hours_ago(0.01)
    w.qio_job("j")
    w.kube.objects[("QuantumJob", NS, "j")]["status"] = {
        "state": "Succeeded", "id": w.job_id("j"), "beginExecutionTime": _hours_ago(0.02),
        "endExecutionTime": ended, "outputDataUri": "http://blob/out"}
    w.store.put("QuantumJob", w.job("j"))
    p = await w.reconcile("j")
    assert _events(p) == ["Succeeded"]
    assert _events(await w.reconcile("j")) == [], "once"
    w.restart()
    assert _events(await w.reconcile("j")) == [], "a process that finds the Event records none"


async def test_a_job_that_ended_long_before_the_process_started_is_not_looked_up() -> None:
    w = World()
    w.qio_job("j")
    w.kube.objects[("QuantumJob", NS, "j")]["status"] = {
        "state": "Failed", "id": w.job_id("j"), "endExecutionTime": _hours_ago(2),
        "errorData": {"code": "SolverFailed", "message": "m"}}
    w.store.put("QuantumJob", w.job("j"))
    p = await w.reconcile("j")
    assert not p.of("event_reasons") and _events(p) == []


async def test_a_surplus_pod_deleted_beside_the_running_one_is_not_the_jobs_deletion() -> None:
    """After an API server restart the Job controller may create a second pod and delete it again."""
    w = World()
    job_id = await _started_pod_job(w)
    surplus = {"metadata": {"name": f"kuantum-{job_id}-zzzzz", "namespace": NS, "labels": {LABEL_JOB_ID: job_id},
                            "creationTimestamp": "2023-12-31T00:00:00Z"}, "status": {"phase": "Pending"}}
    w.store.put_child("Pod", surplus, deleted=False)
    w.store.put_child("Pod", surplus, deleted=True)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Executing", "its pod runs on"
    w.store.pods.pop(job_id)  # now the job's own pod is gone too, and nothing runs in its place
    await w.reconcile("j")
    assert w.status("j")["state"] == "Failed" and w.status("j")["errorData"]["code"] == "PodDeleted"


async def test_a_job_cancelled_after_a_restart_whose_solver_job_the_old_process_deleted_loses_its_secret() -> None:
    w = World()
    job_id = await _started_pod_job(w)
    w.edit_spec("j", cancel=True)
    await w.reconcile("j")  # the old process deletes the solver Job ...
    assert w.status("j")["state"] == "Executing"
    w.restart()  # ... and is killed before it saw the pod stop
    w.dispatcher.started.clear()
    w.store.forget_job_children(job_id)
    p = await w.reconcile("j")
    assert w.status("j")["state"] == "Cancelled"
    p = await w.reconcile("j")
    assert [c.args["name"] for c in p.of("delete_secret")] == [builders.secret_name(job_id)]


async def test_a_cancelled_job_whose_solver_job_is_gone_has_its_orphaned_pod_deleted_once() -> None:
    """The old process deleted the solver Job and was killed; the garbage collector has not yet taken the pod
    (it lags after an API server restart): the new process deletes the pod itself, once, and the job is
    Cancelled when the pod has stopped."""
    w = World()
    job_id = await _started_pod_job(w)
    w.edit_spec("j", cancel=True)
    await w.reconcile("j")
    w.restart()
    w.dispatcher.started.clear()
    w.store.batch_jobs.pop(job_id, None)  # the watch delivered the solver Job's deletion; its pod runs on
    p = await w.reconcile("j")
    assert [c.args for c in p.of("delete_pod")] == [{"namespace": NS, "name": f"kuantum-{job_id}-abcde"}]
    assert not p.of("delete_job"), "no solver Job left to delete"
    assert w.status("j")["state"] == "Executing", "cancelled only when the pod has stopped"
    assert (f"{NS}/j", STOP_POLL_SECONDS) in w.enqueued_after
    p = await w.reconcile("j")
    assert not p.of("delete_pod"), "deleted once"
    w.pod("j", "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.0), exit_code=143)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Cancelled"


async def test_a_pod_whose_solver_job_the_store_has_not_seen_yet_is_not_deleted() -> None:
    """After a restart the pod watch may deliver before the Job watch: a pod deleted under a live solver Job would
    be replaced by the Job controller (a second run), so the API server is asked first."""
    w = World()
    job_id = await _started_pod_job(w)
    w.restart()
    w.dispatcher.started.clear()
    w.store.batch_jobs.pop(job_id, None)  # not relisted yet; the API server still has it
    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    assert not p.of("delete_pod")
    assert [c.args["name"] for c in p.of("job_exists")] == [builders.child_name(job_id)]


async def test_a_cancelled_job_with_its_solver_job_alive_leaves_the_pod_to_it() -> None:
    w = World()
    await _started_pod_job(w)
    w.edit_spec("j", cancel=True)
    p = await w.reconcile("j")
    p = await w.reconcile("j")
    assert not p.of("delete_pod"), "the solver Job's deletion stops its pod"


async def test_a_job_whose_launch_a_killed_process_left_half_done_loses_its_secret_when_cancelled() -> None:
    """SIGKILLed between creating the SAS Secret and the solver Job (seen in the component-fault test): the new
    process sees a waiting job with no child; cancelled, it must not leave the Secret (a 24 h write token)."""
    w = World()
    w.qio_job("j")
    w.kube.fail_next["create_job"] = [ConnectionError("killed")]
    with pytest.raises(ConnectionError):
        await w.reconcile("j")
    job_id = w.job_id("j")
    assert (NS, builders.secret_name(job_id)) in w.kube.secrets
    w.restart()
    w.dispatcher.started.clear()
    w.edit_spec("j", cancel=True)
    await w.reconcile("j")
    assert w.status("j")["state"] == "Cancelled"
    await w.reconcile("j")
    assert (NS, builders.secret_name(job_id)) not in w.kube.secrets


async def test_a_final_event_the_api_server_refused_is_recorded_on_a_later_pass() -> None:
    """During an API server restart an Event create may be refused (503): the job's final Event comes later."""
    w = World()
    await _started_pod_job(w)
    w.pod("j", "Failed", started=_hours_ago(0.1), finished=_hours_ago(0.0), message='{"code": "X", "message": "y"}')
    w.kube.refuse_events = True
    await w.reconcile("j")
    assert w.status("j")["state"] == "Failed"
    assert "Failed" not in [e["reason"] for e in w.kube.events]
    await w.reconcile("j")  # the clean-up pass: still refused, looked at again later
    assert (f"{NS}/j", 5.0) in w.enqueued_after
    w.kube.refuse_events = False
    await w.reconcile("j")
    await w.reconcile("j")
    assert [e["reason"] for e in w.kube.events].count("Failed") == 1


async def test_a_solver_job_create_that_failed_leaves_the_job_queued_not_lost() -> None:
    """The API server went away mid-create: the job is admitted again, never ExecutionLost."""
    w = World()
    w.qio_job("j")
    w.kube.fail_next["create_job"] = [ConnectionError("connection refused")]
    with pytest.raises(ConnectionError):
        await w.reconcile("j")
    assert not w.dispatcher.has_child(w.store.jobs[f"{NS}/j"])
    await w.reconcile("j")
    assert w.status("j")["state"] == "Waiting" and len(w.kube.batch_jobs) == 1
