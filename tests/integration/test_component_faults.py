"""Faults of every component, on a dev cluster of this module's own (never the shared one: its components
are SIGKILLed here), started on free ports under a temporary folder and stopped by PID at the end.

A batch of twenty jobs in every state at once (executing, waiting behind the plan's maxConcurrentJobs,
succeeded, failed, cancelled) goes through consecutive faults: kube-apiserver SIGKILLed and restarted, etcd
SIGKILLed and restarted, the operator SIGKILLed twice in a row; a second batch through Azurite stopped (new
jobs wait with StorageUnavailable) and restarted, the kubelet SIGKILLed and restarted, containerd SIGKILLed and
restarted, a solver container SIGKILLed. Afterwards every job is in the state it should be, reached exactly
once: one batch Job and one solver container started per job that ran (containerd's log records every container
it ever started), never more than one final Event and never a wrong one, the output blob of every succeeded
job, no SAS Secret left. A watch that
resumes after an API server restart gets 410 Gone; the operator relists and misses nothing that changed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.support import devcluster
from tests.support import quantum as q
from tests.support.faultcluster import FaultCluster
from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
CHILDREN = "kuantum.dev/job-id"
FINAL_REASONS = {"Succeeded", "Failed", "Cancelled"}
SWEEPS = 400  # a few seconds per job with the solver's start-up
LONG = 10**9  # runs until cancelled
BAD_INPUT = {"inline": {"cost_function": {"type": "ising", "terms": [{"c": "lots", "ids": [0, 1]}]}}}


class FaultOperator(OperatorProcess):
    """The operator, kept running as its Deployment keeps it (restartPolicy Always): a process that exits on
    its own is started again, and the exit is recorded. Kopf's watch-stream restarts (410 Gone), at DEBUG,
    are logged too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exits: list[str] = []  # exits nobody asked for: 'rc, last log line'
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.watcher = threading.Thread(target=self._supervise, daemon=True)

    def start(self) -> FaultOperator:
        code = ("import logging\n"
                "from kuantum.runtime import logconfig\n"
                "configure = logconfig.configure\n"
                "def traced(*args, **kwargs):\n"
                "    configure(*args, **kwargs)\n"
                "    logging.getLogger('kopf._cogs.clients.watching').setLevel(logging.DEBUG)\n"
                "logconfig.configure = traced\n"
                "from kuantum.main import run\n"
                "run()\n")
        env = {**os.environ, "KUBECONFIG": self.kubeconfig, "KUANTUM_QUEUE_POSITION_SECONDS": "1", **self.env}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, "-n", self.namespace, "--metrics-port", str(self.metrics_port),
                 "--metrics-addr", "127.0.0.1", "--liveness", "", *self.args],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        if not self.watcher.is_alive():
            self.watcher.start()
        return self

    def kill(self) -> None:
        with self.lock:
            super().kill()

    def kill_and_start(self) -> None:
        """SIGKILL, then a new process (no exit recorded: this one was asked for)."""
        with self.lock:
            super().kill()
            self.start()

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            super().stop()

    def _supervise(self) -> None:
        while not self.stopping.wait(0.5):
            with self.lock:
                if self.stopping.is_set() or self.proc is None or self.proc.poll() is None:
                    continue
                last = [line for line in self.log().splitlines() if " ERROR " in line][-1:]
                self.exits.append(f"rc {self.proc.returncode}: {last}")
                self.start()


@dataclass
class Env:
    fc: FaultCluster
    api: client.ApiClient
    core: client.CoreV1Api
    batch: client.BatchV1Api
    ns: str
    operator: FaultOperator
    blobs: BlobServiceClient


@pytest.fixture(scope="module")
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    # Not under pytest's tmp_path: concurrent pytest sessions rotate those away, logs included.
    state = Path(tempfile.mkdtemp(prefix="kuantum-faults-"))
    failed_before = request.session.testsfailed
    fc = FaultCluster(state / "cluster")
    try:
        cluster = fc.up()
        devcluster.install_crds(cluster)
        # The controller-manager's garbage collector watches new CRDs only from its next resync (30 s in 1.20).
        # Until then the QuantumJob owning a solver Job is a "virtual" node that it checks with a GET, and an API
        # server that has just restarted answers 404 for custom resources: it took the owner for gone and
        # deleted finished jobs' solver Jobs (seen in CI). Restarted now, it watches QuantumJobs from the start.
        fc.stop("kube-controller-manager")
        fc.start("kube-controller-manager")
        api = config.new_client_from_config(config_file=cluster.kubeconfig)
        core = client.CoreV1Api(api)
        ns = f"f-{uuid.uuid4().hex[:8]}"
        core.create_namespace({"metadata": {"name": ns}})
        q.storage_secret(core, ns, cluster.azurite_connection_string)
        # Solver Jobs and pods stay for the whole module, so each test counts every one ever made.
        operator = FaultOperator(cluster.kubeconfig, ns, state, env={"KUANTUM_CHILD_RETENTION_SECONDS": "3600"})
        operator.start()
        try:
            yield Env(fc, api, core, client.BatchV1Api(api), ns, operator,
                      BlobServiceClient.from_connection_string(cluster.azurite_connection_string))
        finally:
            operator.stop()
    finally:
        fc.down()
        if request.session.testsfailed == failed_before and not os.environ.get("KUANTUM_KEEP_FAULT_LOGS"):
            shutil.rmtree(state, ignore_errors=True)
        else:
            print(f"\nfault cluster logs and operator log kept in {state}")


# ---------------------------------------------------------------------------------------------- batches
@dataclass
class Batch:
    """Twenty jobs of one test, with the final state each must reach and whether a solver pod runs it.

    The plan runs four at once: two long jobs execute throughout (cancelled at the end), six short ones
    (High priority) go through the other two slots, one times out, one is refused for its parameters, and ten
    long ones (Standard priority, behind all the others) are cancelled: four at once, the rest around the
    faults (executing by then or not, they end Cancelled)."""

    env: Env
    prefix: str
    expected: dict[str, str] = field(default_factory=dict)
    runs: dict[str, bool | None] = field(default_factory=dict)  # None: a pod may or may not have started
    long_running: list[str] = field(default_factory=list)
    late_cancels: list[str] = field(default_factory=list)

    @property
    def workspace(self) -> str:
        return f"ws-{self.prefix}"

    def add(self, name: str, state: str, runs: bool | None, sweeps: int = SWEEPS, **spec: Any) -> str:
        q.sa_job(self.env.api, self.env.ns, name, sweeps=sweeps, workspace=self.workspace, **spec)
        self.expected[name], self.runs[name] = state, runs
        return name

    def start(self) -> Batch:
        """A workspace of its own (its plan's slots are this batch's alone), then the jobs."""
        p = self.prefix
        q.workspace(self.env.api, self.env.ns, self.workspace)
        # Four at once: two long-running jobs hold two slots for a whole test, the rest queue for two.
        q.provider(self.env.api, self.env.ns, f"qio-{p}", "microsoft-qio", workspace=self.workspace,
                   limits={"maxConcurrentJobs": 4})
        # In three steps, so that the queue's order is the intended one however slow the machine: the
        # long-running pair first (and running), then the short ones, then those to cancel behind them.
        for i in range(2):
            self.long_running.append(self.add(f"{p}-long-{i}", "Cancelled", True, sweeps=LONG, priority="High"))
        for name in self.long_running:
            q.wait_state(self.env.api, self.env.ns, name, "Executing", timeout=120)
        for i in range(6):
            self.add(f"{p}-ok-{i}", "Succeeded", True, priority="High")
        # At most once: the deadline counts from its solver Job's start (scheduling inside it, as documented), so on
        # a loaded node it may end before the container starts (a CI dry run saw 0 starts, Failed as expected).
        self.add(f"{p}-timeout", "Failed", None, sweeps=LONG, timeoutSeconds=4, priority="High")
        self.add(f"{p}-invalid", "Failed", False, inputParams={"params": {"sweeps": "many"}}, priority="High")
        for name in list(self.expected):
            q.wait_state(self.env.api, self.env.ns, name, ("Waiting", "Executing", *q.FINAL), timeout=120)
        for i in range(10):
            name = self.add(f"{p}-cancel-{i}", "Cancelled", None, sweeps=LONG)
            if i < 4:
                self.cancel(name)
            else:
                self.late_cancels.append(name)
        return self

    def cancel(self, name: str) -> None:
        q.patch(self.env.api, self.env.ns, "quantumjobs", name, {"spec": {"cancel": True}})

    def cancel_some(self, count: int = 3) -> None:
        """Cancels a few of the late ones (around a fault: the operator must see these changes)."""
        for _ in range(min(count, len(self.late_cancels))):
            self.cancel(self.late_cancels.pop(0))

    def states(self) -> Counter[str]:
        return Counter(q.job_status(self.env.api, self.env.ns, n).get("state", "New") for n in self.expected)

    def wait_mixed(self, timeout: float = 180) -> Counter[str]:
        """Until jobs are in every state at once: executing, waiting, succeeded, failed and cancelled."""
        last: list[Counter[str]] = []

        def mixed() -> Counter[str] | None:
            seen = self.states()
            last[:] = [seen]
            every = all(seen[s] >= 1 for s in ("Succeeded", "Failed", "Cancelled"))
            return seen if every and seen["Executing"] >= 3 and seen["Waiting"] >= 3 else None
        try:
            return wait_for(mixed, timeout=timeout, interval=0.5, what=f"{self.prefix}: jobs in every state")
        except AssertionError as e:
            raise AssertionError(f"{e}; states: {last}") from None

    def wait_progress(self, before: Counter[str], timeout: float = 150) -> Counter[str]:
        """Until a short job succeeded after the fault (or none is left to)."""
        short = [n for n in self.expected if "-ok-" in n]

        def moved() -> Counter[str] | None:
            now = self.states()
            done = all(q.job_status(self.env.api, self.env.ns, n).get("state") in q.FINAL for n in short)
            return now if now["Succeeded"] > before["Succeeded"] or done else None
        return wait_for(moved, timeout=timeout, interval=0.5, what=f"{self.prefix}: a job succeeding after the fault")

    def stop(self) -> None:
        """After the test, passed or not: nothing of it runs on."""
        for name in self.expected:
            with contextlib.suppress(ApiException):
                self.cancel(name)

    def finish(self) -> None:
        self.cancel_some(len(self.late_cancels))
        for name in self.long_running:
            if self.expected[name] == "Cancelled":
                self.cancel(name)

    def check(self, timeout: float = 180) -> None:
        """Every job final in its expected state, exactly once, with nothing lost and nothing left over."""
        e = self.env
        deadline = time.monotonic() + timeout
        final: dict[str, dict[str, Any]] = {}
        for name in self.expected:
            final[name] = q.wait_state(e.api, e.ns, name, q.FINAL, timeout=max(5.0, deadline - time.monotonic()))
        wrong = {n: (s["state"], (s.get("errorData") or {}).get("code")) for n, s in final.items()
                 if s["state"] != self.expected[n]}
        assert not wrong, f"jobs in the wrong final state: {wrong}"

        ids = {name: status["id"] for name, status in final.items()}
        assert len(set(ids.values())) == len(ids), "one id per job"

        def secrets_left() -> list[str]:
            secrets = e.core.list_namespaced_secret(e.ns, label_selector=CHILDREN).items
            return sorted(str(s.metadata.name) for s in secrets
                          if s.metadata and (s.metadata.labels or {}).get(CHILDREN) in set(ids.values()))
        with contextlib.suppress(AssertionError):
            wait_for(lambda: not secrets_left(), timeout=60, what="every SAS Secret deleted")
        left = {n: final[n]["state"] for n, i in ids.items() if f"kuantum-{i}-sas" in secrets_left()}
        assert not left, f"SAS Secrets left for final jobs: {left}"

        batch_jobs = Counter(j.metadata.labels[CHILDREN]
                             for j in e.batch.list_namespaced_job(e.ns, label_selector=CHILDREN).items)
        live_pods = Counter(p.metadata.labels[CHILDREN]
                            for p in e.core.list_namespaced_pod(e.ns, label_selector=CHILDREN).items)
        starts = e.fc.container_starts("solver")
        for name, job_id in ids.items():
            started = sum(n for pod, n in starts.items() if pod.startswith(f"{e.ns}/kuantum-{job_id}-"))
            ran = self.runs[name]
            if ran is None:  # cancelled while waiting, or (late) while executing
                assert batch_jobs[job_id] <= 1 and started <= 1, (name, batch_jobs[job_id], started)
                continue
            want = 1 if ran else 0
            # Stopping an executing job (cancel, timeout) may delete its batch Job: then at most the one. The
            # runtime's count of solver containers started is the exactly-once check either way.
            jobs_left = {want} if self.expected[name] == "Succeeded" else {0, want}
            assert batch_jobs[job_id] in jobs_left, f"{name}: {batch_jobs[job_id]} batch Jobs, expected {want}"
            assert started == want, f"{name}: containerd started {started} solver containers, expected {want}"
            assert live_pods[job_id] <= want, f"{name}: {live_pods[job_id]} pods"

        def final_events() -> dict[str, list[str]]:
            return {n: [r for _, r, _ in q.events_for(e.core, e.ns, n) if r in FINAL_REASONS] for n in ids}
        # Recorded right after the status write; by the next process when one was killed in between.
        with contextlib.suppress(AssertionError):
            wait_for(lambda: all(final_events().values()), timeout=60, what="a final Event on every job")
        finals = final_events()
        wrong = {n: v for n, v in finals.items() if v != [self.expected[n]]}
        assert not wrong, f"jobs without exactly one final Event of their state: {wrong}"

        for name, status in final.items():
            if status["state"] == "Succeeded":
                assert status.get("outputDataUri"), name
                output = e.blobs.get_blob_client(f"job-{status['id']}", "outputData").download_blob().readall()
                assert json.loads(output), f"{name}: empty output"
        for name in ids:  # final is final: nothing changed while the others finished
            assert q.job_status(e.api, e.ns, name) == final[name], name


@pytest.fixture
def new_batch(env: Env) -> Iterator[Callable[[str], Batch]]:
    made: list[Batch] = []

    def make(prefix: str) -> Batch:
        made.append(Batch(env, prefix))
        return made[-1].start()
    yield make
    for batch in made:
        batch.stop()


def operator_alive(env: Env, exits_before: int) -> None:
    """The operator never exited on its own during the test (its Deployment would restart it, but a fault
    of another component is no reason to crash)."""
    assert env.operator.exits[exits_before:] == [], "the operator exited"


def pod_of(env: Env, job: str) -> client.V1Pod:
    job_id = q.job_status(env.api, env.ns, job)["id"]
    pods = wait_for(lambda: env.core.list_namespaced_pod(env.ns, label_selector=f"{CHILDREN}={job_id}").items,
                    timeout=60, what=f"the pod of {job}")
    return pods[0]


# ---------------------------------------------------------------------------------------------- faults
def test_kube_apiserver_etcd_and_operator_killed(env: Env, new_batch: Callable[[str], Batch]) -> None:
    """One batch through three faults in a row: the API server SIGKILLed and restarted, etcd SIGKILLed and
    restarted, then the operator SIGKILLed twice in a row (the second time while it resumes)."""
    exits_before = len(env.operator.exits)
    batch = new_batch("cp")
    seen = batch.wait_mixed()
    env.fc.kill("kube-apiserver")
    env.fc.start("kube-apiserver")
    batch.cancel_some(2)
    seen = batch.wait_progress(seen)

    env.fc.kill("etcd")
    env.fc.start("etcd")
    batch.cancel_some(2)
    seen = batch.wait_progress(seen)

    op = env.operator
    offset = len(op.log())
    op.kill_and_start()
    batch.cancel_some(1)
    # The second kill comes once the new process has connected (mid-resume, not before it ran at all).
    wait_for(lambda: "Initial authentication has finished" in op.log()[offset:], timeout=60,
             what="the restarted operator connecting")
    op.kill_and_start()
    batch.cancel_some(1)
    batch.wait_progress(seen)
    batch.finish()
    batch.check()
    operator_alive(env, exits_before)


def test_azurite_kubelet_containerd_and_solver_container_killed(env: Env, new_batch: Callable[[str], Batch]) -> None:
    exits_before = len(env.operator.exits)
    batch = new_batch("sn")
    seen = batch.wait_mixed()
    # SIGTERM, not SIGKILL: Azurite keeps blob metadata in memory and saves it every 5 s, so a SIGKILL loses
    # writes it acknowledged (an emulator artefact; Azure Storage does not). Any stop is an outage to Kuantum.
    env.fc.stop("azurite")
    during = [batch.add(f"sn-during-{i}", "Succeeded", True, priority="High") for i in range(2)]

    def waiting_for_storage() -> list[dict[str, Any]] | None:
        conds = [q.condition(q.job_status(env.api, env.ns, n), "Queued") or {} for n in during]
        ok = all(c.get("status") == "False" and c.get("reason") in ("StorageUnavailable", "WorkspaceNotReady")
                 for c in conds)
        return conds if ok else None
    conds = wait_for(waiting_for_storage, timeout=90, interval=0.5, what="new jobs waiting for storage")
    for name in during:
        assert q.job_status(env.api, env.ns, name)["state"] == "Waiting", name
    env.fc.start("azurite")
    seen = batch.wait_progress(seen)
    for name in during:
        assert q.wait_state(env.api, env.ns, name, ("Executing", *q.FINAL), timeout=120)["state"] != "Failed", conds

    # The kubelet SIGKILLed: containers run on under containerd, and one that ends meanwhile is reported by the
    # restarted kubelet (its exit code is the runtime's).
    running = env.fc.running_containers()
    env.fc.kill("kubelet")
    batch.cancel_some()
    wait_for(lambda: running - env.fc.running_containers(), timeout=120, interval=0.5,
             what="a solver container ending while the kubelet is down")
    env.fc.start("kubelet")
    seen = batch.wait_progress(seen)

    # containerd SIGKILLed: the containers' shims keep them running; the restarted containerd finds them again.
    env.fc.kill("containerd")
    batch.cancel_some()
    env.fc.start("containerd")
    seen = batch.wait_progress(seen)

    # A solver container is killed: its job fails (the solver's pod never restarts: backoffLimit 0).
    victim = batch.long_running[0]
    pod = pod_of(env, victim)

    def container_id() -> str | None:
        statuses = env.core.read_namespaced_pod(pod.metadata.name, env.ns).status.container_statuses or []
        return next((s.container_id.split("://", 1)[1] for s in statuses if s.state.running and s.container_id),
                    None)
    env.fc.kill_container(wait_for(container_id, timeout=60, what=f"the solver container of {victim}"))
    batch.expected[victim] = "Failed"
    assert q.wait_state(env.api, env.ns, victim, q.FINAL, timeout=90)["state"] == "Failed"
    batch.finish()
    batch.check()
    operator_alive(env, exits_before)


def test_watch_410_gone_relists_without_losing_changes(env: Env) -> None:
    """An API server restart loses its watch cache: a watch resumed from an older resourceVersion gets
    410 Gone, and Kopf relists. The operator is frozen (SIGSTOP) across the restart, so that its watches
    resume only once the new API server serves everything (see the 404 test below), from resourceVersions
    older than anything it has cached: 410 for certain. Jobs created, cancelled and deleted meanwhile are
    all seen after the relist."""
    e = env
    exits_before = len(e.operator.exits)
    custom = q.custom(e.api)
    q.workspace(e.api, e.ns, "ws-w")  # its microsoft-qio Provider comes with it (no plan limits)
    q.sa_job(e.api, e.ns, "w-done", sweeps=50, workspace="ws-w")
    q.long_job(e.api, e.ns, "w-long", workspace="ws-w")
    try:
        q.wait_state(e.api, e.ns, "w-done", "Succeeded", timeout=120)
        q.wait_state(e.api, e.ns, "w-long", "Executing", timeout=120)
        listed: dict[str, Any] = custom.list_namespaced_custom_object(q.GROUP, q.VERSION, e.ns, "quantumjobs")
        rv = str(listed["metadata"]["resourceVersion"])
        # One write after it, so the restarted API server's watch cache starts past rv (it starts at etcd's
        # revision then: with nothing written in between, a watch from rv would be served, not 410).
        e.core.create_namespaced_config_map(e.ns, {"metadata": {"generateName": "revision-bump-"}})

        assert e.operator.proc is not None
        offset = len(e.operator.log())
        e.operator.proc.send_signal(signal.SIGSTOP)
        try:
            e.fc.kill("kube-apiserver")
            e.fc.start("kube-apiserver")
            wait_for(lambda: custom.list_namespaced_custom_object(q.GROUP, q.VERSION, e.ns, "quantumjobs"),
                     timeout=60, what="quantumjobs served again")
            # What the operator's watches have not seen: a job created, one cancelled, one deleted (its
            # finalizer waits for the operator).
            q.sa_job(e.api, e.ns, "w-new", sweeps=50, workspace="ws-w")
            q.patch(e.api, e.ns, "quantumjobs", "w-long", {"spec": {"cancel": True}})
            custom.delete_namespaced_custom_object(q.GROUP, q.VERSION, e.ns, "quantumjobs", "w-done")
            # The API server answers a watch from a resourceVersion of before its restart with 410 Gone.
            assert _watch_status(custom, e.ns, rv) == 410
        finally:
            e.operator.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: any("Restarting the watch-stream" in line and "quantumjobs" in line
                             for line in e.operator.log()[offset:].splitlines()), timeout=90,
                 what="the operator's quantumjobs watch restarting after 410 Gone")
        assert q.wait_state(e.api, e.ns, "w-new", q.FINAL, timeout=120)["state"] == "Succeeded"
        assert q.wait_state(e.api, e.ns, "w-long", q.FINAL, timeout=90)["state"] == "Cancelled"
        wait_for(lambda: q.get(e.api, e.ns, "quantumjobs", "w-done") is None, timeout=90, what="w-done deleted")
        for name, reason in (("w-new", "Succeeded"), ("w-long", "Cancelled")):
            finals = [r for _, r, _ in q.events_for(e.core, e.ns, name) if r in FINAL_REASONS]
            assert finals == [reason], (name, finals)
        operator_alive(env, exits_before)
    finally:
        with contextlib.suppress(ApiException):
            q.patch(e.api, e.ns, "quantumjobs", "w-long", {"spec": {"cancel": True}})


def _watch_status(custom: client.CustomObjectsApi, ns: str, rv: str) -> int:
    """The status a watch of quantumjobs from resourceVersion rv ends with (200: events streamed normally)."""
    try:
        for event in watch.Watch().stream(custom.list_namespaced_custom_object, q.GROUP, q.VERSION, ns,
                                          "quantumjobs", resource_version=rv, timeout_seconds=5):
            if event["type"] == "ERROR":
                return int(event["raw_object"].get("code", 0))
    except ApiException as err:
        return int(err.status or 0)
    return 200
