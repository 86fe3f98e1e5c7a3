"""The unmodified azure-quantum SDK against kuantum-gateway on the dev cluster.

The gateway runs as its own process on 127.0.0.1 (a free port), stopped by its PID; the SDK connects
over plain http with an API key (reference section 2: `_quantum_endpoint`, `_from_connection_string`).
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError
from azure.quantum import Workspace
from azure.quantum.target import Target
from kubernetes import client

from tests.support import devcluster, prewarmed
from tests.support import quantum as q
from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess, free_port

pytestmark = pytest.mark.integration

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
KEY, OTHER_KEY = "key-" + uuid.uuid4().hex, "key-" + uuid.uuid4().hex
BELL = {"qubits": 2, "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]}
ISING = {"cost_function": {"version": "1.0", "type": "ising", "terms": [
    {"c": -1, "ids": [0, 1]}, {"c": 1, "ids": [1, 2]}, {"c": -2, "ids": [0]}, {"c": 0.5, "ids": [1, 2, 3]},
    {"c": 1.5, "ids": [2, 3]}, {"c": -0.5, "ids": [3]}]}}
SA = "microsoft.simulatedannealing.cpu"


def brute_force(problem: dict[str, Any]) -> float:
    terms = problem["cost_function"]["terms"]
    n = 1 + max(i for t in terms for i in t["ids"])
    best = float("inf")
    for spins in itertools.product((-1, 1), repeat=n):
        cost = 0.0
        for t in terms:
            value = t["c"]
            for i in t["ids"]:
                value *= spins[i]
            cost += value
        best = min(best, cost)
    return best


class Gateway:
    """`kuantum-gateway` as a child process, its log in a file."""

    def __init__(self, kubeconfig: str, namespace: str, log_dir: Path) -> None:
        self.kubeconfig, self.namespace, self.log_path = kubeconfig, namespace, log_dir / "gateway.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | prewarmed.ForkedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> Gateway:
        return self.launch().wait_ready()

    def launch(self) -> Gateway:
        """Starts the process without waiting: a fixture waits for the operator's work meanwhile."""
        self.proc = prewarmed.start_python(
            ["-c", "from kuantum.gateway.app import main; main()", "--listen", f"127.0.0.1:{self.port}",
             "--kubeconfig", self.kubeconfig, "-n", self.namespace], dict(os.environ), str(self.log_path))
        return self

    def wait_ready(self) -> Gateway:
        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{self.url}readyz", timeout=2) as resp:
                    return bool(resp.status == 200)
            except OSError:
                return False
        wait_for(ready, timeout=60, interval=0.2, what="gateway ready")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _ready(api_client: client.ApiClient, namespace: str, plural: str, name: str) -> bool:
    obj = q.get(api_client, namespace, plural, name) or {}
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


@pytest.fixture
def setup(cluster: devcluster.Cluster, api_client: client.ApiClient, core: client.CoreV1Api, namespace: str,
          azurite_connection_string: str, operator: OperatorProcess, tmp_path: Path) -> Iterator[Gateway]:
    """Workspaces `ws` (key KEY) and `ws2` (key OTHER_KEY) with the kuantum provider, and a gateway."""
    q.storage_secret(core, namespace, azurite_connection_string)
    for name, key in (("ws", KEY), ("ws2", OTHER_KEY)):
        core.create_namespaced_secret(namespace, {"metadata": {"name": f"{name}-api"},  # type: ignore[arg-type]
                                                  "stringData": {"key": key}})
        q.create(api_client, namespace, "quantumworkspaces", {
            "kind": "QuantumWorkspace", "metadata": {"name": name},
            "spec": {"storage": {"connectionStringSecretRef": {"name": "storage", "key": "connectionString"}},
                     "gateway": {"apiKeySecretRef": {"name": f"{name}-api", "key": "key"}}}})
    q.provider(api_client, namespace, "kuantum", "kuantum", limits={"maxJobsPerMonth": 1000})
    gateway = Gateway(cluster.kubeconfig, namespace, tmp_path).launch()  # starts while the operator works
    try:
        wait_for(lambda: _ready(api_client, namespace, "quantumworkspaces", "ws"), timeout=60, what="ws Ready")
        wait_for(lambda: _ready(api_client, namespace, "providers", "kuantum"), timeout=60, what="provider Ready")
        yield gateway.wait_ready()
    finally:
        gateway.stop()
        log = gateway.log()
        assert KEY not in log and OTHER_KEY not in log and "AccountKey" not in log
        assert "Traceback" not in log, log[-3000:]


def workspace(gateway: Gateway, namespace: str, name: str = "ws", key: str = KEY) -> Workspace:
    return Workspace(subscription_id=SUBSCRIPTION, resource_group=namespace, name=name, location="eastus",
                     credential=AzureKeyCredential(key), _quantum_endpoint=gateway.url, _from_connection_string=True)


def qio_target(ws: Workspace) -> Target:
    """QIO through the generic Target (the SDK's QIO classes are gone): gzip is the caller's job."""
    return Target(ws, SA, input_data_format="microsoft.qio.v2", output_data_format="microsoft.qio-results.v2",
                  provider_id="microsoft-qio", encoding="gzip")


def kuantum_cli(cluster: devcluster.Cluster, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kuantum.cli.main", *args, "-n", namespace, "--kubeconfig",
                           cluster.kubeconfig], capture_output=True, text=True, timeout=120)


def test_circuit_qio_failure_listing_and_kubectl_jobs(setup: Gateway, api_client: client.ApiClient,
                                                      namespace: str, cluster: devcluster.Cluster) -> None:
    ws = workspace(setup, namespace)
    simulator = ws.get_targets(name="kuantum.simulator")
    assert isinstance(simulator, Target) and simulator.provider_id == "kuantum"

    circuit = simulator.submit(json.dumps(BELL).encode(), name="bell", shots=100,
                               input_data_format="ionq.circuit.v1", output_data_format="ionq.quantum-results.v1")
    qio = qio_target(ws).submit(gzip.compress(json.dumps(ISING).encode()), name="ising-gzip",
                                input_params={"params": {"sweeps": 200, "seed": 3}})
    bad = qio_target(ws).submit(gzip.compress(json.dumps(ISING).encode()), name="ising-bad",
                                input_params={"params": {"sweeps": 0}})

    # One source of truth: the SDK's job is a QuantumJob named by its id, reading its blob in place.
    obj = q.get(api_client, namespace, "quantumjobs", qio.id)
    assert obj is not None and obj["spec"]["id"] == qio.id and obj["spec"]["input"]["blobUri"].endswith(
        f"/job-{qio.id}/inputData")

    histogram = circuit.get_results(timeout_secs=180)["histogram"]
    assert set(histogram) == {"0", "3"} and abs(sum(histogram.values()) - 1) < 1e-9
    result = qio.get_results(timeout_secs=180)
    assert result["cost"] == pytest.approx(brute_force(ISING))
    bad.wait_until_completed(timeout_secs=120)
    assert bad.details.status == "Failed" and bad.details.error_data.code == "InvalidParameters"
    with pytest.raises(RuntimeError, match=r"InvalidParameters.*sweeps"):
        bad.get_results()
    status = q.job_status(api_client, namespace, qio.id)
    assert status["state"] == "Succeeded" and status["inputDataUri"] == obj["spec"]["input"]["blobUri"]
    # ...and the kuantum CLI (on the shared kubeclient) reads the same job and output.
    out = kuantum_cli(cluster, namespace, "output", qio.id)
    assert out.returncode == 0 and json.loads(out.stdout) == result, out.stderr

    # A job made with kubectl is the SDK's job too.
    q.sa_job(api_client, namespace, "from-kubectl", sweeps=20)
    made = q.wait_state(api_client, namespace, "from-kubectl", "Succeeded")
    seen = ws.get_job(made["id"])
    assert seen.details.name == "from-kubectl" and seen.details.status == "Succeeded"
    assert seen.get_results()["cost"] <= 0

    # Listing: everything, filters, and pages of two that the SDK follows through nextLink.
    all_ids = {circuit.id, qio.id, bad.id, made["id"]}
    assert {j.id for j in ws.list_jobs()} == all_ids
    assert {j.id for j in ws.list_jobs(name_match="ising")} == {qio.id, bad.id}
    assert {j.id for j in ws.list_jobs(status=["Failed"])} == {bad.id}
    assert {j.id for j in ws.list_jobs(provider=["kuantum"], target=["kuantum.simulator"])} == {circuit.id}
    paged = list(ws.list_jobs_paginated(top=2, orderby_property="Name", is_asc=True))
    assert [j.name for j in paged] == ["bell", "from-kubectl", "ising-bad", "ising-gzip"]
    assert {j.id for j in ws.list_top_level_items()} == all_ids
    quotas = ws.get_quotas()  # one per billing-plan limit
    assert [(x["dimension"], x["limit"], x["period"]) for x in quotas] == [("jobs", 1000.0, "Monthly")]


def test_cancel_keys_and_gateway_restart_mid_poll(setup: Gateway, api_client: client.ApiClient,
                                                  namespace: str) -> None:
    ws = workspace(setup, namespace)
    busy = qio_target(ws).submit(gzip.compress(json.dumps(ISING).encode()), name="busy",
                                 input_params={"params": {"sweeps": 1_000_000_000}})
    wait_for(lambda: ws.get_job(busy.id).details.status == "Executing", timeout=120, what="busy Executing")
    ws.cancel_job(busy)
    q.wait_state(api_client, namespace, busy.id, "Cancelled", timeout=60)
    busy.refresh()
    assert busy.details.status == "Cancelled" and busy.details.cancellation_time is not None

    # An unknown target: the job exists and ends Failed, as on Azure.
    nowhere = Target(ws, "kuantum.nosuchtarget", provider_id="kuantum").submit(json.dumps(BELL).encode(),
                                                                              name="nowhere")
    nowhere.wait_until_completed(timeout_secs=60)
    assert nowhere.details.status == "Failed" and nowhere.details.error_data.code == "InvalidTarget"

    # Keys: wrong, and another workspace's, open nothing.
    for name, key in (("ws", "wrong"), ("ws", OTHER_KEY), ("ws2", KEY)):
        with pytest.raises(HttpResponseError) as e:
            workspace(setup, namespace, name, key).get_job(busy.id)
        assert e.value.status_code == 401 and "Unauthorized" in str(e.value)
    with pytest.raises(HttpResponseError) as e:
        workspace(setup, namespace, "ws2", OTHER_KEY).get_job(busy.id)  # right key, not its job
    assert e.value.status_code == 404

    # The gateway restarts while the SDK polls: nothing is lost, the poll carries on.
    job = qio_target(ws).submit(gzip.compress(json.dumps(ISING).encode()), name="through-restart",
                                input_params={"params": {"sweeps": 20_000, "seed": 1}})
    outcome: dict[str, Any] = {}
    poller = threading.Thread(target=lambda: outcome.update(result=job.get_results(timeout_secs=180)))
    poller.start()
    time.sleep(1.0)
    assert q.job_status(api_client, namespace, job.id).get("state") not in q.FINAL, "finished before the restart"
    setup.stop(signal.SIGKILL)
    time.sleep(0.5)
    setup.start()
    poller.join(timeout=200)
    assert outcome.get("result", {}).get("cost") == pytest.approx(brute_force(ISING))
    # Deleting through the SDK's REST call removes the QuantumJob (its blobs stay).
    ws._get_jobs_client().delete(ws.subscription_id, ws.resource_group, ws.name, job.id)
    wait_for(lambda: q.get(api_client, namespace, "quantumjobs", job.id) is None, timeout=60, what="job deleted")


def test_connection_string(setup: Gateway, cluster: devcluster.Cluster, namespace: str) -> None:
    out = kuantum_cli(cluster, namespace, "connection-string", "ws", "--endpoint",
                      "https://eastus-v2-quantum-azure-com")
    assert out.returncode == 0 and not out.stderr, out.stderr
    ws = Workspace.from_connection_string(out.stdout.strip())
    assert (ws.resource_group, ws.name, ws.subscription_id) == (namespace, "ws", SUBSCRIPTION)
    assert ws._connection_params.workspace_kind.value == "V2"  # get_targets() lists every target


def test_a_qsharp_program_submitted_through_the_sdk_runs_on_the_simulator(setup: Gateway, namespace: str) -> None:
    """The SDK's QIR path unchanged: `Target.submit(qsharp.compile(...))` sends qir.v1 bitcode with an entry
    point, and `get_results()` post-processes microsoft.quantum-results.v2."""
    from qdk import qsharp

    qsharp.init(target_profile=qsharp.TargetProfile.Base)
    qsharp.eval("operation Bell() : (Result, Result) { use (a, b) = (Qubit(), Qubit()); H(a); CNOT(a, b); "
                "(MResetZ(a), MResetZ(b)) }")
    target = workspace(setup, namespace).get_targets(name="kuantum.simulator")
    assert isinstance(target, Target)
    job = target.submit(qsharp.compile("Bell()"), name="qsharp-bell", shots=200)
    results = job.get_results(timeout_secs=180)
    assert set(results) <= {"(0, 0)", "(1, 1)"} and set(results), results
    assert sum(results.values()) == pytest.approx(1.0)
