"""The job reconciler's test bench, shared by the tests/unit/jobs/test_job_reconciler_*.py modules: a World over fakes.

A real Store, Dispatcher and Settings and the real JobReconciler, pod backend and remote backend; the
API server, the blob storage and the provider's HTTP API are the in-memory fakes of tests/support/fake_kube.py,
fake_storage.py and fake_provider_api.py, which record every call. Nothing sleeps: a "later" reconcile is just the
next call, after the test changed what the watch would have delivered (a pod's phase, a spec field).
Besides the World and what one reconcile did (a Pass): the small readers of a Pass or a status the tests
share, and the set-ups several of them start from (a pod job that runs, an IonQ job admitted or sent).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kuantum.catalog import IONQ, QIO
from kuantum.context import Context
from kuantum.execution.providers.backend import RemoteBackend
from kuantum.execution.providers.ionq import backend as ionq
from kuantum.execution.registry import Backends
from kuantum.jobs.reconciler import JobReconciler
from kuantum.models.common import LABEL_JOB_ID
from kuantum.objects import job_id_for
from kuantum.runtime.result import Reconciler, Result
from kuantum.runtime.settings import Settings
from kuantum.runtime.store import Store
from kuantum.runtime.timeutil import format_time
from kuantum.scheduling.admission import Dispatcher

from tests.support.fake_kube import FakeKube
from tests.support.fake_provider_api import FakeProviderApi
from tests.support.fake_storage import FakeStorage, FakeStorageRegistry
from tests.support.journal import Call, Journal

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
    """What one reconcile did: the kube calls it made, in order, and what it asked of the work queue."""

    calls: list[Call]
    result: Result

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def writes(self) -> list[str]:
        return [c.method for c in self.calls if c.method not in ("read_data_object", "job_exists", "event_reasons")]

    @property
    def status_writes(self) -> int:
        return len(self.of("patch_status"))


class World:
    """One namespace with a workspace (storage Secret), the built-in QIO Provider, and the fakes."""

    def __init__(self, qio_limits: dict[str, Any] | None = None, pool_size: int = 0) -> None:
        self.journal = Journal()
        self.kube = FakeKube(self.journal)
        self.storage = FakeStorage(self.journal)
        self.api = FakeProviderApi(self.journal)
        self.api_credentials: list[dict[str, str]] = []
        self.settings = Settings(solver_image=SOLVER_IMAGE, target_concurrency=4, sas_margin_seconds=3600,
                                 sas_default_seconds=24 * 3600, solver_pool_size=pool_size)
        self.store = Store()
        self.enqueued: list[str] = []
        self.enqueued_after: list[tuple[str, float]] = []
        self.restart()
        self.kube.add_secret(NS, "storage", {"connectionString": "AccountName=devstoreaccount1;AccountKey=a2V5"})
        self._put("QuantumWorkspace", {
            "metadata": {"name": WS, "namespace": NS, "uid": "uid-ws", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"storage": {"connectionStringSecretRef": {"name": "storage", "key": "connectionString"}}}})
        self.add_provider("microsoft-qio", QIO, limits=qio_limits)

    def restart(self) -> None:
        """A new operator process: new slots, backends and reconciler (their memory is lost), the same cluster."""
        self.dispatcher = Dispatcher(self.store, self.settings, wake_first=self.enqueued.append)
        self.ctx = Context(store=self.store, kube=self.kube, settings=self.settings, dispatcher=self.dispatcher,
                           storages=FakeStorageRegistry(self.kube, self.storage))
        self.backends = Backends(self.store, self.kube, self.settings, self.dispatcher, self.kube,
                                 wake=self.enqueued.append)
        self.remote = RemoteBackend(self.kube, IONQ, make_api=self._make_api, translate=ionq.translate,
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

    def edit_spec(self, name: str, /, **changes: Any) -> None:
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
            exit_code: int | None = None, message: str | None = None, reason: str | None = None,
            memory_limit: str = "1Gi") -> None:
        """The solver pod of job `name`, as the node reports it."""
        job_id = self.job_id(name)
        state: dict[str, Any]
        if phase in ("Succeeded", "Failed"):
            state = {"terminated": {"exitCode": exit_code if exit_code is not None else (0 if phase == "Succeeded"
                                                                                         else 1),
                                    "startedAt": started, "finishedAt": finished, "message": message or "",
                                    **({"reason": reason} if reason else {})}}
        elif phase == "Running":
            state = {"running": {"startedAt": started}}
        else:
            state = {"waiting": {"reason": "ContainerCreating"}}
        self.store.put_child("Pod", {"metadata": {"name": f"kuantum-{job_id}-abcde", "namespace": NS,
                                                  "labels": {LABEL_JOB_ID: job_id},
                                                  "creationTimestamp": "2024-01-01T00:00:00Z"},
                                     "spec": {"containers": [{"name": "solver", "resources": {
                                         "limits": {"memory": memory_limit}}}]},
                                     "status": {"phase": phase, "containerStatuses": [{"name": "solver",
                                                                                       "state": state}]}},
                             deleted=False)

    async def reconcile(self, name: str, poll_due: bool = True) -> Pass:
        """One pass; by default as when the remote backend's poller wakes the job (its poll is due)."""
        if poll_due:
            self.remote._poller.forget(f"{NS}/{name}")
        before = len(self.kube.calls)
        result = await self.run(self.reconciler, f"{NS}/{name}")
        return Pass(self.kube.calls[before:], result)

    async def run(self, reconciler: Reconciler, key: str) -> Result:
        """One reconcile of key, its result followed as the controller follows it: `enqueued_after` records when
        the object asked to be looked at again, `enqueued` the other objects it woke (and the slots' kicks)."""
        result = await reconciler.reconcile(key)
        if result.requeue_after is not None:
            self.enqueued_after.append((key, result.requeue_after))
        self.enqueued.extend(woken for _, woken in result.wake)
        return result


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


async def _admitted_remote(w: World, name: str = "j", target: str = IONQ_SIM) -> Pass:
    w.add_provider("ionq", IONQ)
    w.ionq_job(name, target=target)
    return await w.reconcile(name)


async def _submitted(w: World, target: str = IONQ_SIM) -> str:
    await _admitted_remote(w, target=target)
    await w.reconcile("j")
    remote_id = w.status("j")["providerJobId"]
    assert isinstance(remote_id, str)
    return remote_id
