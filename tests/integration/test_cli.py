"""`kuantum` against the dev cluster: submit (inline and uploaded), wait, get, output, cancel, error lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support import devcluster
from tests.support.kube import wait_for
from tests.support.processes import stop

pytestmark = pytest.mark.integration

GROUP, VERSION = "kuantum.dev", "v1alpha1"
SA_TARGET = "microsoft.simulatedannealing.cpu"
PARAMS = '{"params": {"sweeps": 50, "seed": 1}}'
ISING = {"cost_function": {"version": "1.0", "type": "ising", "terms": [
    {"c": -1, "ids": [0, 1]}, {"c": 1, "ids": [1, 2]}, {"c": -2, "ids": [0]}, {"c": 0.5, "ids": [1, 2, 3]}]}}


def _state(custom: client.CustomObjectsApi, namespace: str, name: str) -> str | None:
    job = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "quantumjobs", name)
    return (job.get("status") or {}).get("state")


def _cleanup(custom: client.CustomObjectsApi, namespace: str) -> None:
    """Deletes our custom objects while the operator still runs, so its finalizers never block the namespace."""
    for plural in ("quantumjobs", "providers", "quantumworkspaces"):
        for item in custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)["items"]:
            try:
                custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, plural, item["metadata"]["name"])
            except ApiException as e:
                if e.status != 404:
                    raise

    def gone() -> bool:
        return not any(custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)["items"]
                       for plural in ("quantumjobs", "providers", "quantumworkspaces"))

    wait_for(gone, timeout=60, what="kuantum objects deleted")


@pytest.fixture
def custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


@pytest.fixture
def cli_operator(cluster: devcluster.Cluster, custom: client.CustomObjectsApi, namespace: str,
             tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A kuantum-operator watching only this test's namespace, stopped by its PID."""
    log = (tmp_path / "operator.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from kuantum.main import run; run()", "-n", namespace, "--metrics-port", "0",
         "--liveness", ""],
        env={**os.environ, "KUBECONFIG": cluster.kubeconfig}, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
        _cleanup(custom, namespace)
    finally:
        stop(proc, grace=20)
        log.close()


@pytest.fixture
def workspace(core: client.CoreV1Api, custom: client.CustomObjectsApi, namespace: str,
              azurite_connection_string: str, cli_operator: subprocess.Popen[bytes]) -> str:
    """A Ready QuantumWorkspace `demo` on Azurite (as examples/00-workspace.yaml)."""
    core.create_namespaced_secret(namespace, {"metadata": {"name": "demo-storage"},
                                              "stringData": {"connectionString": azurite_connection_string}})
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "quantumworkspaces", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "QuantumWorkspace", "metadata": {"name": "demo"},
        "spec": {"storage": {"connectionStringSecretRef": {"name": "demo-storage", "key": "connectionString"}}}})

    def ready() -> bool:
        ws = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "quantumworkspaces", "demo")
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (ws.get("status") or {}).get("conditions") or [])

    wait_for(ready, timeout=60, what="workspace Ready")
    return "demo"


@pytest.fixture
def kuantum(cluster: devcluster.Cluster, namespace: str) -> Any:
    def run(*args: str, input: bytes | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "kuantum.cli.main", *args, "--kubeconfig", cluster.kubeconfig,
                               "-n", namespace], input=input, capture_output=True, timeout=timeout)
        return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    return run


def _write(path: Path, problem: dict[str, Any]) -> Path:
    path.write_text(json.dumps(problem))
    return path


def test_submit_wait_output_and_get(kuantum: Any, workspace: str, tmp_path: Path,
                                    custom: client.CustomObjectsApi, namespace: str) -> None:
    problem = _write(tmp_path / "Small_Ising.json", ISING)
    submitted = kuantum("submit", str(problem), "--workspace", workspace, "--provider", "microsoft-qio",
                        "--target", SA_TARGET, "--params", PARAMS, "--tag", "cli", "--wait", "--wait-timeout", "120")
    assert submitted.returncode == 0, submitted.stderr
    name, state = submitted.stdout.split()
    assert name.startswith("small-ising-") and state == "Succeeded"
    job = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "quantumjobs", name)
    assert job["spec"]["input"] == {"inline": ISING}
    assert job["spec"]["inputParams"] == json.loads(PARAMS) and job["spec"]["tags"] == ["cli"]

    output = kuantum("output", name)
    assert output.returncode == 0, output.stderr
    result = json.loads(output.stdout)
    assert "configuration" in result and "cost" in result

    saved = tmp_path / "out.json"
    assert kuantum("output", name, "-o", str(saved)).returncode == 0
    assert json.loads(saved.read_text()) == result

    listed = kuantum("get")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["NAME", "STATE", "PROVIDER", "TARGET", "ID", "AGE"]
    row = next(r.split() for r in rows if r.split()[0] == name)
    assert row[1:4] == ["Succeeded", "microsoft-qio", SA_TARGET]
    assert row[4] == job["status"]["id"]

    summary = kuantum("get", name)
    assert "Succeeded" in summary.stdout and job["status"]["outputDataUri"] in summary.stdout
    assert json.loads(kuantum("get", name, "-o", "json").stdout)["metadata"]["name"] == name
    assert kuantum("get", "--workspace", "other").stdout == ""

    again = kuantum("cancel", name)
    assert again.returncode == 0 and "already Succeeded" in again.stdout


def test_large_input_is_uploaded_and_referenced_by_blob_uri(
        kuantum: Any, workspace: str, tmp_path: Path, custom: client.CustomObjectsApi, namespace: str) -> None:
    terms = [{"c": (-1) ** i, "ids": [i % 400, (7 * i + 1) % 400]} for i in range(10_000)]
    problem = _write(tmp_path / "big.json", {"cost_function": {"version": "1.0", "type": "ising", "terms": terms}})
    assert problem.stat().st_size > 256 * 1024
    submitted = kuantum("submit", str(problem), "--workspace", workspace, "--provider", "microsoft-qio",
                        "--target", SA_TARGET, "--params", '{"params": {"sweeps": 5, "seed": 1}}', "--name", "big",
                        "--input-format", "microsoft.qio.v2", "--wait", "--wait-timeout", "150")
    assert submitted.returncode == 0, submitted.stderr
    assert submitted.stdout.split() == ["big", "Succeeded"]
    job = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "quantumjobs", "big")
    blob_uri = job["spec"]["input"]["blobUri"]
    assert "/kuantum-uploads/" in blob_uri and blob_uri.endswith("/inputData") and "?" not in blob_uri
    output = kuantum("output", "big")
    assert output.returncode == 0, output.stderr
    assert len(json.loads(output.stdout)["configuration"]) == 400


def test_failed_job_exits_1_with_its_error(kuantum: Any, workspace: str, tmp_path: Path) -> None:
    problem = _write(tmp_path / "bad.json", ISING)
    submitted = kuantum("submit", str(problem), "--workspace", workspace, "--provider", "microsoft-qio",
                        "--target", SA_TARGET, "--params", '{"params": {"sweeps": 0}}', "--name", "bad",
                        "--wait", "--wait-timeout", "60")
    assert submitted.returncode == 1
    assert submitted.stdout.split() == ["bad", "Failed"]
    assert submitted.stderr.startswith("kuantum: error: job bad Failed: ")
    output = kuantum("output", "bad")
    assert output.returncode == 1
    assert output.stderr.startswith("kuantum: error: job bad Failed: ") and output.stderr.count("\n") == 1


def test_logs_follow_a_running_job_and_outlive_its_pod(kuantum: Any, workspace: str, tmp_path: Path,
                                                        custom: client.CustomObjectsApi, core: client.CoreV1Api,
                                                        namespace: str) -> None:
    """`kuantum logs` follows the solver while the job runs; once final, the log kept in the job's container
    (status.logsUri) is shown, after the pod is gone too; a failed solver's error points to it."""
    problem = _write(tmp_path / "ising.json", ISING)
    submitted = kuantum("submit", str(problem), "--workspace", workspace, "--provider", "microsoft-qio",
                        "--target", SA_TARGET, "--params", PARAMS, "--name", "logged")
    assert submitted.returncode == 0, submitted.stderr
    followed = kuantum("logs", "logged", "--wait-timeout", "150")  # waits for the pod, follows it to its end
    assert followed.returncode == 0 and f"{SA_TARGET}: done in" in followed.stdout, followed.stderr
    wait_for(lambda: _state(custom, namespace, "logged") == "Succeeded", timeout=120, what="logged Succeeded")
    status = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "quantumjobs", "logged")["status"]
    assert status["logsUri"].endswith(f"/job-{status['id']}/logs")
    client.BatchV1Api(core.api_client).delete_namespaced_job(f"kuantum-{status['id']}", namespace,
                                                            propagation_policy="Foreground")
    wait_for(lambda: not core.list_namespaced_pod(namespace, label_selector=f"kuantum.dev/job-id={status['id']}")
             .items, timeout=120, what="the solver pod gone")
    kept = kuantum("logs", "logged")
    assert kept.returncode == 0 and f"{SA_TARGET}: done in" in kept.stdout, kept.stderr

    empty = _write(tmp_path / "empty.json", {"cost_function": {"version": "1.0", "type": "ising", "terms": []}})
    failed = kuantum("submit", str(empty), "--workspace", workspace, "--provider", "microsoft-qio",
                     "--target", SA_TARGET, "--params", PARAMS, "--name", "no-terms", "--wait", "--wait-timeout", "120")
    assert failed.stdout.split() == ["no-terms", "Failed"], failed.stderr
    status = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "quantumjobs", "no-terms")["status"]
    assert status["logsUri"] in status["errorData"]["message"], status["errorData"]
    shown = kuantum("logs", "no-terms", "--no-follow")
    assert shown.returncode == 0 and f'"code": "{status["errorData"]["code"]}"' in shown.stdout, shown


def test_cancel_a_waiting_job(kuantum: Any, cli_operator: subprocess.Popen[bytes], custom: client.CustomObjectsApi,
                              namespace: str, tmp_path: Path) -> None:
    problem = _write(tmp_path / "waits.json", ISING)
    submitted = kuantum("submit", str(problem), "--workspace", "not-yet", "--provider", "microsoft-qio",
                        "--target", SA_TARGET, "--name", "waits")
    assert submitted.returncode == 0, submitted.stderr
    assert "QuantumWorkspace 'not-yet' does not exist" in submitted.stderr
    wait_for(lambda: _state(custom, namespace, "waits") == "Waiting", timeout=30, what="job Waiting")
    cancelled = kuantum("cancel", "waits")
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancelled" in cancelled.stdout
    wait_for(lambda: _state(custom, namespace, "waits") == "Cancelled", timeout=30, what="job Cancelled")
    output = kuantum("output", "waits")
    assert (output.returncode, output.stderr) == (1, "kuantum: error: job waits was Cancelled; it has no output\n")


def test_missing_objects_are_one_error_line(kuantum: Any, core: client.CoreV1Api, custom: client.CustomObjectsApi,
                                            namespace: str, tmp_path: Path) -> None:
    for args in (("output", "nope"), ("get", "nope"), ("cancel", "nope")):
        result = kuantum(*args)
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr == f"kuantum: error: QuantumJob 'nope' not found in namespace '{namespace}'\n"

    big = tmp_path / "big.txt"
    big.write_text("x" * (300 * 1024))
    result = kuantum("submit", str(big), "-w", "nows", "-p", "microsoft-qio", "-t", SA_TARGET)
    assert (result.returncode, result.stderr) == (
        1, f"kuantum: error: QuantumWorkspace 'nows' not found in namespace '{namespace}'\n")

    # A workspace whose Secret is missing, then one whose storage does not answer: no traceback, one line.
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "quantumworkspaces", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "QuantumWorkspace", "metadata": {"name": "nosecret"},
        "spec": {"storage": {"connectionStringSecretRef": {"name": "missing", "key": "connectionString"}}}})
    result = kuantum("submit", str(big), "-w", "nosecret", "-p", "microsoft-qio", "-t", SA_TARGET)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "Secret missing" in result.stderr and "does not exist" in result.stderr

    dead = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
            "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;")
    core.create_namespaced_secret(namespace, {"metadata": {"name": "missing"},
                                              "stringData": {"other": "x", "connectionString": dead}})
    result = kuantum("submit", str(big), "-w", "nosecret", "-p", "microsoft-qio", "-t", SA_TARGET, timeout=120)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("kuantum: error: uploading the input to storage account devstoreaccount1 failed")
    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, "quantumworkspaces", "nosecret")
