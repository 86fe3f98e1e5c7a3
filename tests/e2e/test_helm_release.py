"""Kuantum as users run it: the `kuantum` chart installed with Helm from the images `make images` built, on the dev
cluster's real node. Two operator replicas (leader election) with the admission webhook and the gateway:
`helm test`, a QIO, a circuit and a Q# (QIR) job from examples/, a malformed spec refused by the API server
through the webhook's Service, the azure-quantum SDK through the gateway's Service, and the leader's pod deleted
while jobs run (every job ends exactly once: one final Event, one run on a warm worker or one solver container)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support import devcluster
from tests.support import quantum as q
from tests.support.kube import KUBECTL_BIN, kubectl, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900), pytest.mark.exclusive]

ROOT = Path(__file__).resolve().parents[2]
HELM = str(KUBECTL_BIN / "helm")
EXAMPLES = ROOT / "examples"
RELEASE = "kuantum"
API_KEY = uuid.uuid4().hex
FINAL_REASONS = {"Succeeded", "Failed", "Cancelled"}


@dataclass(frozen=True)
class Release:
    namespace: str
    kubeconfig: str

    def helm(self, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HELM, "--kubeconfig", self.kubeconfig, "-n", self.namespace, *args],
                              capture_output=True, text=True, timeout=timeout)

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return kubectl(self.kubeconfig, "-n", self.namespace, *args, check=check)


def _image_values(images: dict[str, str]) -> list[str]:
    values = []
    for key, prefix in (("KUANTUM_OPERATOR_IMAGE", "image"), ("KUANTUM_SOLVER_IMAGE", "solverImage")):
        repository, _, tag = images[key].rpartition(":")
        values += ["--set", f"{prefix}.repository={repository}", "--set", f"{prefix}.tag={tag}"]
    return values


@pytest.fixture(scope="module")
def release(cluster: devcluster.Cluster, core: client.CoreV1Api) -> Iterator[Release]:
    images = devcluster.images()
    if not {"KUANTUM_OPERATOR_IMAGE", "KUANTUM_SOLVER_IMAGE"} <= images.keys():
        pytest.skip("no images: run `make images` (or set KUANTUM_OPERATOR_IMAGE and KUANTUM_SOLVER_IMAGE)")
    if not cluster.azurite_connection_string:
        pytest.skip("needs a storage connection string (KUANTUM_TEST_STORAGE_CONNECTION_STRING)")
    namespace = f"e2e-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": namespace, "labels": {"kuantum.dev/test": "true"}}})
    rel = Release(namespace, cluster.kubeconfig)
    try:
        installed = rel.helm("install", RELEASE, str(ROOT / "helm" / "kuantum"), *_image_values(images),
                             "--set", "replicas=2", "--set", "webhook.enabled=true", "--set", "gateway.enabled=true",
                             "--set", f"watchNamespaces={{{namespace}}}", "--wait", "--timeout", "300s")
        assert installed.returncode == 0, installed.stderr
        rel.kubectl("create", "secret", "generic", "demo-storage",
                    f"--from-literal=connectionString={cluster.azurite_connection_string}")
        rel.kubectl("create", "secret", "generic", "demo-gateway-key", f"--from-literal=apiKey={API_KEY}")
        rel.kubectl("apply", "-f", str(EXAMPLES / "00-workspace.yaml"),
                    "-f", str(EXAMPLES / "10-provider-kuantum.yaml"))
        rel.kubectl("wait", "--for=condition=Ready", "qws/demo", "--timeout=120s")
        yield rel
    finally:
        rel.helm("uninstall", RELEASE, "--wait", "--timeout", "120s")
        # With the release gone nothing releases the objects' finalizers (as after any uninstall).
        _strip_finalizers(cluster.kubeconfig, namespace)
        core.delete_namespace(namespace)


def _strip_finalizers(kubeconfig: str, namespace: str) -> None:
    names = kubectl(kubeconfig, "-n", namespace, "get", "qjob,qws", "-o", "name", check=False).stdout.split()
    for name in names:
        kubectl(kubeconfig, "-n", namespace, "patch", name, "--type=merge", "-p", '{"metadata":{"finalizers":null}}',
                check=False)


def _final(api_client: client.ApiClient, namespace: str, name: str, timeout: float = 240) -> dict[str, object]:
    return q.wait_state(api_client, namespace, name, q.FINAL, timeout=timeout)


def test_helm_test_passes(release: Release) -> None:
    result = release.helm("test", RELEASE, "--timeout", "300s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Phase:          Succeeded" in result.stdout


def test_qio_circuit_and_qir_examples_succeed(release: Release, api_client: client.ApiClient) -> None:
    release.kubectl("apply", "-f", str(EXAMPLES / "20-job-simulated-annealing.yaml"),
                    "-f", str(EXAMPLES / "50-job-bell-circuit.yaml"),
                    "-f", str(EXAMPLES / "qsharp" / "job-kuantum-simulator.yaml"))
    ns = release.namespace
    for name in ("ising-sa", "bell", "qsharp-bell"):
        status = _final(api_client, ns, name)
        assert status["state"] == "Succeeded", (name, status)
        assert status["outputDataUri"], name
    output = subprocess.run([str(Path(sys.executable).parent / "kuantum"), "--kubeconfig", release.kubeconfig,
                             "-n", ns, "output", "bell"], capture_output=True, text=True, check=True, timeout=60)
    assert set(json.loads(output.stdout)["histogram"]) == {"0", "3"}  # a Bell pair: |00> and |11>


def test_the_webhook_refuses_a_malformed_job(release: Release) -> None:
    manifest = {"apiVersion": "kuantum.dev/v1alpha1", "kind": "QuantumJob", "metadata": {"name": "two-inputs"},
                "spec": {"workspace": "demo", "provider": "microsoft-qio", "target": "microsoft.simulatedannealing.cpu",
                         "input": {"inline": {"a": 1}, "blobUri": "https://example.invalid/c/b"}}}
    result = subprocess.run([str(KUBECTL_BIN / "kubectl"), "--kubeconfig", release.kubeconfig, "-n",
                             release.namespace, "apply", "-f", "-"], input=json.dumps(manifest),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "admission webhook" in result.stderr and "denied the request" in result.stderr
    assert "exactly one of inline, configMapKeyRef, secretKeyRef, blobUri" in result.stderr


def test_the_sdk_submits_through_the_gateways_service(release: Release, api_client: client.ApiClient) -> None:
    from azure.core.credentials import AzureKeyCredential
    from azure.quantum import Workspace

    service = json.loads(release.kubectl("get", "service", f"{RELEASE}-gateway", "-o", "json").stdout)
    endpoint = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}/"
    ws = Workspace(subscription_id="00000000-0000-0000-0000-000000000000", resource_group=release.namespace,
                   name="demo", location="eastus", credential=AzureKeyCredential(API_KEY),
                   _quantum_endpoint=endpoint, _from_connection_string=True)
    target = ws.get_targets(name="kuantum.simulator")
    job = target.submit(b'{"qubits": 2, "circuit": [{"gate": "h", "target": 0}, '
                        b'{"gate": "cnot", "control": 0, "target": 1}]}',
                        name="sdk-bell", shots=100, input_data_format="ionq.circuit.v1",
                        output_data_format="ionq.quantum-results.v1")
    results = job.get_results(timeout_secs=180)
    assert set(results["histogram"]) == {"0", "3"}
    assert q.job_status(api_client, release.namespace, job.id)["state"] == "Succeeded"


def _leader(release: Release) -> str | None:
    """The operator pod holding the Lease; None while the holder is a pod that is gone (deleted, not yet taken over)."""
    lease = json.loads(release.kubectl("get", "lease", RELEASE, "-o", "json").stdout)
    holder = lease["spec"].get("holderIdentity") or ""
    pods = json.loads(release.kubectl("get", "pods", "-l", "app.kubernetes.io/name=kuantum", "-o", "json").stdout)
    names = [p["metadata"]["name"] for p in pods["items"]
             if holder.startswith(p["metadata"]["name"] + "-") and not p["metadata"].get("deletionTimestamp")]
    return str(names[0]) if names else None


def _log(core: client.CoreV1Api, namespace: str, pod: str) -> str:
    """A worker's log; empty for one whose container is gone (a worker being deleted: the kubelet answers 400).
    A job that ran there then counts no run, and the exactly-once check below says so."""
    try:
        return str(core.read_namespaced_pod_log(pod, namespace) or "")
    except ApiException as e:
        if e.status != 400:
            raise
        return ""


def test_the_leaders_pod_deleted_every_job_ends_exactly_once(
    release: Release, cluster: devcluster.Cluster, api_client: client.ApiClient, core: client.CoreV1Api
) -> None:
    ns = release.namespace
    names = [f"ha-{i}" for i in range(8)]
    for name in names:
        q.sa_job(api_client, ns, name, sweeps=3000, workspace="demo")
    wait_for(lambda: any(q.job_status(api_client, ns, n).get("state") == "Executing" for n in names), timeout=120,
             what="a job executing")
    leader = wait_for(lambda: _leader(release), timeout=60, what="an operator pod holding the Lease")
    core.delete_namespaced_pod(leader, ns)
    wait_for(lambda: (new := _leader(release)) != leader and new, timeout=120, interval=1,
             what="another replica taking the Lease over")
    finals = {name: _final(api_client, ns, name, timeout=400) for name in names}
    assert {n: s["state"] for n, s in finals.items()} == dict.fromkeys(names, "Succeeded")
    wait_for(lambda: all([r for _, r, _ in q.events_for(core, ns, n) if r in FINAL_REASONS] for n in names),
             timeout=60, what="a final Event on every job")
    for name in names:
        reasons = [r for _, r, _ in q.events_for(core, ns, name) if r in FINAL_REASONS]
        assert reasons == ["Succeeded"], (name, reasons)
    # A job runs on a warm worker of a pool (the chart's default) or in a solver pod of its own: either way once.
    runs = "\n".join(_log(core, ns, pod.metadata.name)
                     for pod in core.list_namespaced_pod(ns, label_selector="kuantum.dev/pool").items)
    starts = devcluster.node(cluster).container_starts("solver") if cluster.state_dir is not None else {}
    for name, status in finals.items():
        on_workers = runs.count(f"run {status['id']} (")
        in_pods = sum(n for pod, n in starts.items() if pod.startswith(f"{ns}/kuantum-{status['id']}-"))
        assert on_workers + in_pods == 1, f"{name}: {on_workers} worker runs and {in_pods} solver containers"

