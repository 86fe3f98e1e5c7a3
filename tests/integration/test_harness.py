"""Proves the dev cluster is real: CRDs with status, batch Jobs run by the node agent, Azurite."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from kubernetes import client
from kubernetes.client.rest import ApiException
from nodeagent.cgroups import CPU_ROOT as CPU_CGROUPS
from nodeagent.cgroups import parent_name

from tests.support import devcluster
from tests.support.kube import kubectl, wait_for

pytestmark = pytest.mark.integration

CRD_NAME = "harnesswidgets.test.kuantum.dev"


def test_node_is_ready_with_real_capacity(core: client.CoreV1Api) -> None:
    nodes = core.list_node(label_selector="kuantum.dev/node-agent=true").items
    assert nodes, "the node agent registered no node"
    node = nodes[0]
    ready = {c.type: c.status for c in node.status.conditions}["Ready"]
    assert ready == "True"
    assert not [t for t in node.spec.taints or [] if t.key == "node.kubernetes.io/not-ready"]
    assert int(node.status.capacity["cpu"]) == len(os.sched_getaffinity(0))


def test_crd_with_status_subresource_round_trips(api_client: client.ApiClient, cluster: Any) -> None:
    ext = client.ApiextensionsV1Api(api_client)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": "test.kuantum.dev",
            "scope": "Namespaced",
            "names": {"plural": "harnesswidgets", "singular": "harnesswidget", "kind": "HarnessWidget"},
            "versions": [{
                "name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                    "status": {"type": "object", "properties": {"state": {"type": "string"}}},
                }}},
            }],
        },
    }
    try:
        ext.create_custom_resource_definition(crd)
    except ApiException as e:
        assert e.status == 409
    custom = client.CustomObjectsApi(api_client)

    def established() -> bool:
        conditions = ext.read_custom_resource_definition(CRD_NAME).status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    wait_for(established, what="CRD established")
    ns = "default"
    name = f"w-{uuid.uuid4().hex[:8]}"
    body = {"apiVersion": "test.kuantum.dev/v1", "kind": "HarnessWidget",
            "metadata": {"name": name}, "spec": {"size": 3, "dropped": "pruned by the schema"}}
    wait_for(lambda: _create_ok(custom, ns, body), timeout=30, what="custom resource accepted")
    custom.patch_namespaced_custom_object_status(
        "test.kuantum.dev", "v1", ns, "harnesswidgets", name, {"status": {"state": "Ready"}})
    got = custom.get_namespaced_custom_object("test.kuantum.dev", "v1", ns, "harnesswidgets", name)
    assert got["spec"] == {"size": 3}
    assert got["status"] == {"state": "Ready"}
    # the status subresource ignores spec changes, the main resource ignores status changes
    custom.patch_namespaced_custom_object_status(
        "test.kuantum.dev", "v1", ns, "harnesswidgets", name, {"spec": {"size": 99}})
    assert custom.get_namespaced_custom_object(
        "test.kuantum.dev", "v1", ns, "harnesswidgets", name)["spec"]["size"] == 3
    custom.delete_namespaced_custom_object("test.kuantum.dev", "v1", ns, "harnesswidgets", name)


def _create_ok(custom: client.CustomObjectsApi, ns: str, body: dict[str, Any]) -> bool:
    try:
        custom.create_namespaced_custom_object("test.kuantum.dev", "v1", ns, "harnesswidgets", body)
        return True
    except ApiException as e:
        if e.status == 404:  # discovery not caught up yet
            return False
        raise


def _job(name: str, script: str, **pod_spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", script],
                 "terminationMessagePolicy": "FallbackToLogsOnError"}
    container.update(pod_spec.pop("container", {}))
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never", "containers": [container], **pod_spec}}},
    }


def _job_pod(core: client.CoreV1Api, ns: str, job: str) -> client.V1Pod | None:
    pods = core.list_namespaced_pod(ns, label_selector=f"job-name={job}").items
    return pods[0] if pods else None


def _finished_pod(core: client.CoreV1Api, ns: str, job: str, timeout: float = 90) -> client.V1Pod:
    def probe() -> client.V1Pod | None:
        pod = _job_pod(core, ns, job)
        return pod if pod and pod.status.phase in ("Succeeded", "Failed") else None

    return wait_for(probe, timeout=timeout, what=f"pod of job {job} to finish")


def test_job_pod_runs_to_succeeded_with_env_from_secret(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_secret(namespace, {"metadata": {"name": "creds"}, "stringData": {"token": "s3cret"}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "cfg"}, "data": {"greeting": "hello"}})
    script = ('test "$TOKEN" = s3cret && test "$GREETING" = hello'
              ' && echo "$(WHO) ok $POD" > "$TMPDIR/x" && cat "$TMPDIR/x"')
    job = _job("ok", script, container={"env": [
        {"name": "WHO", "value": "me"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]})
    client.BatchV1Api(api_client).create_namespaced_job(namespace, job)
    pod = _finished_pod(core, namespace, "ok")
    state = pod.status.container_statuses[0].state.terminated
    assert pod.status.phase == "Succeeded", state
    assert state.exit_code == 0 and state.reason == "Completed"
    assert state.started_at and state.finished_at
    batch = client.BatchV1Api(api_client)
    wait_for(lambda: batch.read_namespaced_job("ok", namespace).status.succeeded == 1, what="Job succeeded")


def test_failing_job_pod_reports_exit_code_and_message(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str
) -> None:
    client.BatchV1Api(api_client).create_namespaced_job(
        namespace, _job("bad", "echo something went wrong >&2; exit 3"))
    pod = _finished_pod(core, namespace, "bad")
    assert pod.status.phase == "Failed"
    term = pod.status.container_statuses[0].state.terminated
    assert term.exit_code == 3
    assert term.reason == "Error"
    assert "something went wrong" in term.message


def test_termination_log_is_the_message(api_client: client.ApiClient, core: client.CoreV1Api, namespace: str) -> None:
    script = 'echo noise; echo \'{"code": "InvalidInputData", "message": "bad"}\' > "$KUANTUM_TERMINATION_LOG"; exit 2'
    client.BatchV1Api(api_client).create_namespaced_job(namespace, _job("tl", script))
    term = _finished_pod(core, namespace, "tl").status.container_statuses[0].state.terminated
    assert term.exit_code == 2
    assert term.message == '{"code": "InvalidInputData", "message": "bad"}'


def test_missing_executable_fails_the_pod(api_client: client.ApiClient, core: client.CoreV1Api, namespace: str) -> None:
    job = _job("nox", "", container={"command": ["no-such-binary-kuantum"]})
    client.BatchV1Api(api_client).create_namespaced_job(namespace, job)
    term = _finished_pod(core, namespace, "nox").status.container_statuses[0].state.terminated
    assert term.exit_code == 127
    assert "no-such-binary-kuantum" in term.message


def test_active_deadline_kills_the_pod(api_client: client.ApiClient, core: client.CoreV1Api, namespace: str) -> None:
    job = _job("slow", "sleep 300", activeDeadlineSeconds=2, terminationGracePeriodSeconds=1)
    client.BatchV1Api(api_client).create_namespaced_job(namespace, job)
    pod = _finished_pod(core, namespace, "slow", timeout=60)
    assert pod.status.phase == "Failed"
    assert pod.status.reason == "DeadlineExceeded"


def _pid_of(cluster: Any, pod: client.V1Pod) -> int:
    pid_file = cluster.state_dir / "node" / "pods" / pod.metadata.uid / "main" / "pid"
    return int(wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), what="container pid"))


def test_deleting_a_running_pod_kills_its_process(
    cluster: Any, api_client: client.ApiClient, core: client.CoreV1Api, namespace: str
) -> None:
    if cluster.state_dir is None:
        pytest.skip("needs the dev cluster's node agent")
    client.BatchV1Api(api_client).create_namespaced_job(
        namespace, _job("long", "trap 'exit 0' TERM; while true; do sleep 0.1; done", terminationGracePeriodSeconds=5))
    pod = wait_for(lambda: (p := _job_pod(core, namespace, "long")) and p.status.phase == "Running" and p,
                   what="pod running")
    pid = _pid_of(cluster, pod)
    assert os.path.exists(f"/proc/{pid}")
    core.delete_namespaced_pod(pod.metadata.name, namespace)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or _zombie(pid), timeout=30, what="process gone")

    def pod_gone() -> bool:
        try:
            core.read_namespaced_pod(pod.metadata.name, namespace)
            return False
        except ApiException as e:
            return e.status == 404

    wait_for(pod_gone, timeout=30, what="pod object deleted")


def test_a_pods_processes_run_in_its_own_cgroup_under_the_pods_parent(
    cluster: Any, api_client: client.ApiClient, core: client.CoreV1Api, namespace: str
) -> None:
    """As the kubelet's cgroupsPerQOS: the pod's cgroup weighs its CPU request and goes with the pod; all pods
    together weigh the least a cgroup can (the control plane shares this machine and goes first)."""
    if cluster.state_dir is None:
        pytest.skip("needs the dev cluster's node agent")
    if not os.access(CPU_CGROUPS / "cpu.shares", os.W_OK):
        pytest.skip("no writable cgroup v1 cpu controller: pods run with their niceness only")
    client.BatchV1Api(api_client).create_namespaced_job(
        namespace, _job("weighed", "sleep 60", container={"resources": {"requests": {"cpu": "250m"}}}))
    pod = wait_for(lambda: (p := _job_pod(core, namespace, "weighed")) and p.status.phase == "Running" and p,
                   what="pod running")
    pid = _pid_of(cluster, pod)
    parent = CPU_CGROUPS / parent_name(cluster.state_dir / "node")
    pod_cgroup = parent / pod.metadata.uid
    cgroups = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    cpu_line = next(line for line in cgroups if line.split(":")[1] == "cpu")
    assert cpu_line.split(":", 2)[2] == f"/{parent.name}/{pod.metadata.uid}"
    assert (pod_cgroup / "cpu.shares").read_text().strip() == "256"  # 250m, as the kubelet converts it
    assert (parent / "cpu.shares").read_text().strip() == "2"
    core.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)
    wait_for(lambda: not pod_cgroup.exists(), timeout=30, what="the pod's cgroup removed")


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_kubectl_sees_the_node_ready(cluster: Any) -> None:
    out = kubectl(cluster.kubeconfig, "get", "nodes", "-o", "wide").stdout
    assert " Ready " in out


def test_blob_round_trip_through_azurite(azurite_connection_string: str) -> None:
    service = BlobServiceClient.from_connection_string(azurite_connection_string)
    container = service.get_container_client(f"harness-{uuid.uuid4().hex[:8]}")
    container.create_container()
    try:
        container.upload_blob("inputData", b'{"hello": "quantum"}')
        assert container.download_blob("inputData").readall() == b'{"hello": "quantum"}'
    finally:
        container.delete_container()


def test_node_agent_restart_keeps_track_of_running_pods(
    cluster: Any, api_client: client.ApiClient, core: client.CoreV1Api, namespace: str
) -> None:
    if cluster.state_dir is None:
        pytest.skip("needs the dev cluster's node agent")
    gate = cluster.state_dir / f"gate-{namespace}"
    script = f'while [ ! -e "{gate}" ]; do sleep 0.1; done; echo done; exit 7'
    client.BatchV1Api(api_client).create_namespaced_job(namespace, _job("survivor", script))
    pod = wait_for(lambda: (p := _job_pod(core, namespace, "survivor")) and p.status.phase == "Running" and p,
                   what="pod running")
    container_pid = _pid_of(cluster, pod)
    agent_pid = int((cluster.state_dir / "pids" / "node-agent.pid").read_text())
    os.kill(agent_pid, signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{agent_pid}") or _zombie(agent_pid), what="agent gone")
    assert os.path.exists(f"/proc/{container_pid}"), "the container must outlive the agent"
    subprocess.run(["bash", str(devcluster.HACK / "cluster-up.sh")], check=True, capture_output=True)
    gate.write_text("go")
    try:
        term = _finished_pod(core, namespace, "survivor").status.container_statuses[0].state.terminated
    finally:
        gate.unlink()
    assert term.exit_code == 7
