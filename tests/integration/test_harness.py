"""Proves the dev cluster is real: CRDs with status, batch Jobs run by a kubelet on containerd from the images
`make images` built, memory limits and security contexts enforced by the kernel, Services through kube-proxy,
Azurite reachable from pods and from the host, containers that outlive a kubelet restart."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support import devcluster
from tests.support.kube import kubectl, wait_for

pytestmark = pytest.mark.integration

CRD_NAME = "harnesswidgets.test.kuantum.dev"


@pytest.fixture(scope="module")
def image(cluster: devcluster.Cluster) -> str:
    """Any image the node has: the solver's (Debian, python3, sh; USER 10001)."""
    ref = devcluster.images().get("KUANTUM_SOLVER_IMAGE")
    if not ref:
        pytest.skip("no solver image: run `make images` (or set KUANTUM_SOLVER_IMAGE for an external cluster)")
    return ref


@pytest.fixture(scope="module")
def node(cluster: devcluster.Cluster) -> devcluster.Node:
    if cluster.state_dir is None:
        pytest.skip("needs the dev cluster's own node")
    return devcluster.node(cluster)


def test_node_is_a_ready_kubelet_on_containerd(core: client.CoreV1Api) -> None:
    nodes = core.list_node(label_selector="kuantum.dev/dev-node").items
    assert nodes, "no dev node registered"
    node = nodes[0]
    ready = {c.type: c.status for c in node.status.conditions}["Ready"]
    assert ready == "True"
    assert node.status.node_info.container_runtime_version.startswith("containerd://")
    assert node.status.node_info.kubelet_version.startswith("v1.")
    assert int(node.status.capacity["cpu"]) == os.cpu_count()
    assert not [t for t in node.spec.taints or [] if t.key == "node.kubernetes.io/not-ready"]


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


def _job(name: str, image: str, script: str, **pod_spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": image, "command": ["sh", "-c", script],
                 "terminationMessagePolicy": "FallbackToLogsOnError"}
    container.update(pod_spec.pop("container", {}))
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never", "containers": [container], "terminationGracePeriodSeconds": 2, **pod_spec}}},
    }


def _job_pod(core: client.CoreV1Api, ns: str, job: str) -> client.V1Pod | None:
    pods = core.list_namespaced_pod(ns, label_selector=f"job-name={job}").items
    return pods[0] if pods else None


def _finished_pod(core: client.CoreV1Api, ns: str, job: str, timeout: float = 90) -> client.V1Pod:
    def probe() -> client.V1Pod | None:
        pod = _job_pod(core, ns, job)
        return pod if pod and pod.status.phase in ("Succeeded", "Failed") else None

    return wait_for(probe, timeout=timeout, what=f"pod of job {job} to finish")


def _running_pod(core: client.CoreV1Api, ns: str, job: str) -> client.V1Pod:
    return wait_for(lambda: (p := _job_pod(core, ns, job)) and p.status.phase == "Running" and p,
                    timeout=90, what=f"pod of job {job} running")


def _terminated(pod: client.V1Pod) -> client.V1ContainerStateTerminated:
    return pod.status.container_statuses[0].state.terminated


def test_job_pod_runs_to_succeeded_with_env_from_secret_and_configmap(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, image: str
) -> None:
    core.create_namespaced_secret(namespace, {"metadata": {"name": "creds"}, "stringData": {"token": "s3cret"}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "cfg"}, "data": {"greeting": "hello"}})
    script = 'test "$TOKEN" = s3cret && test "$GREETING" = hello && echo "$(WHO) ok $POD" > /tmp/x && cat /tmp/x'
    job = _job("ok", image, script, container={"env": [
        {"name": "WHO", "value": "me"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]})
    client.BatchV1Api(api_client).create_namespaced_job(namespace, job)
    pod = _finished_pod(core, namespace, "ok")
    state = _terminated(pod)
    assert pod.status.phase == "Succeeded", state
    assert state.exit_code == 0 and state.reason == "Completed"
    assert pod.status.pod_ip and pod.status.pod_ip.startswith("10.")
    assert core.read_namespaced_pod_log(pod.metadata.name, namespace).strip() == f"me ok {pod.metadata.name}"
    batch = client.BatchV1Api(api_client)
    wait_for(lambda: batch.read_namespaced_job("ok", namespace).status.succeeded == 1, what="Job succeeded")


def test_failing_job_pod_reports_exit_code_and_message(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, image: str
) -> None:
    client.BatchV1Api(api_client).create_namespaced_job(
        namespace, _job("bad", image, "echo something went wrong >&2; exit 3"))
    pod = _finished_pod(core, namespace, "bad")
    assert pod.status.phase == "Failed"
    term = _terminated(pod)
    assert (term.exit_code, term.reason) == (3, "Error")
    assert "something went wrong" in term.message  # FallbackToLogsOnError


def test_termination_log_is_the_message(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, image: str
) -> None:
    script = 'echo noise; echo \'{"code": "InvalidInputData", "message": "bad"}\' > /dev/termination-log; exit 2'
    client.BatchV1Api(api_client).create_namespaced_job(namespace, _job("tl", image, script))
    term = _terminated(_finished_pod(core, namespace, "tl"))
    assert term.exit_code == 2
    assert term.message.strip() == '{"code": "InvalidInputData", "message": "bad"}'


def test_missing_executable_fails_the_pod(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, image: str
) -> None:
    job = _job("nox", image, "", container={"command": ["no-such-binary-kuantum"]})
    client.BatchV1Api(api_client).create_namespaced_job(namespace, job)
    term = _terminated(_finished_pod(core, namespace, "nox"))
    assert term.reason == "StartError"
    assert "no-such-binary-kuantum" in term.message


def test_active_deadline_kills_the_pod(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, image: str
) -> None:
    job = _job("slow", image, "sleep 300", activeDeadlineSeconds=2)
    client.BatchV1Api(api_client).create_namespaced_job(namespace, job)
    pod = _finished_pod(core, namespace, "slow", timeout=60)
    assert pod.status.phase == "Failed"
    assert pod.status.reason == "DeadlineExceeded"


def test_a_container_over_its_memory_limit_is_oom_killed(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, image: str
) -> None:
    script = "exec python3 -c 'b = bytearray(400 * 1024 * 1024); print(len(b))'"
    job = _job("hog", image, script, container={"resources": {"limits": {"memory": "128Mi"}}})
    client.BatchV1Api(api_client).create_namespaced_job(namespace, job)
    term = _terminated(_finished_pod(core, namespace, "hog"))
    assert (term.reason, term.exit_code) == ("OOMKilled", 137)


def test_security_context_is_enforced_by_the_kernel(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, image: str
) -> None:
    """As solver pods run: non-root, read-only root filesystem, no capabilities, no service-account token."""
    probe = ("import json, os, pathlib\n"
             "def writes(path):\n"
             "    try:\n"
             "        pathlib.Path(path).write_text('x'); return True\n"
             "    except OSError:\n"
             "        return False\n"
             "caps = next(l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff'))\n"
             "print(json.dumps({'uid': os.getuid(), 'caps': caps, 'root_writable': writes('/x'),\n"
             "                  'tmp_writable': writes('/tmp/x'),\n"
             "                  'token': os.path.exists('/var/run/secrets/kubernetes.io/serviceaccount/token'),\n"
             "                  'memory_limit': open('/sys/fs/cgroup/memory/memory.limit_in_bytes').read().strip()\n"
             "                  if os.path.exists('/sys/fs/cgroup/memory/memory.limit_in_bytes')\n"
             "                  else open('/sys/fs/cgroup/memory.max').read().strip()}))\n")
    job = _job("locked", image, "", automountServiceAccountToken=False,
               securityContext={"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
               volumes=[{"name": "tmp", "emptyDir": {}}],
               container={"command": ["python3", "-c", probe],
                          "resources": {"limits": {"memory": "256Mi"}},
                          "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                          "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                              "capabilities": {"drop": ["ALL"]}}})
    client.BatchV1Api(api_client).create_namespaced_job(namespace, job)
    pod = _finished_pod(core, namespace, "locked")
    assert pod.status.phase == "Succeeded", _terminated(pod)
    seen = json.loads(core.read_namespaced_pod_log(pod.metadata.name, namespace))
    assert seen == {"uid": 10001, "caps": "0000000000000000", "root_writable": False, "tmp_writable": True,
                    "token": False, "memory_limit": str(256 * 1024 * 1024)}


def test_a_service_reaches_its_pod_through_kube_proxy(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, image: str
) -> None:
    """The API server calls webhooks and the SDK calls the gateway through Services: a ClusterIP from the host,
    and the `kubernetes` Service from a pod."""
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": image, "command": ["python3", "-m", "http.server", "8000"],
                                 "workingDir": "/etc", "ports": [{"containerPort": 8000}],
                                 "readinessProbe": {"tcpSocket": {"port": 8000}, "periodSeconds": 1}}],
                 "terminationGracePeriodSeconds": 1}})
    service = core.create_namespaced_service(namespace, {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8000}]}})
    ip = service.spec.cluster_ip

    def served() -> bytes | None:
        try:
            with urllib.request.urlopen(f"http://{ip}/hostname", timeout=2) as response:
                return bytes(response.read())
        except OSError:
            return None

    assert wait_for(served, timeout=90, what="the Service answering from the host").strip()
    probe = ("import os, ssl, urllib.request\n"
             "sa = '/var/run/secrets/kubernetes.io/serviceaccount/'\n"
             "ctx = ssl.create_default_context(cafile=sa + 'ca.crt')\n"
             "request = urllib.request.Request('https://' + os.environ['KUBERNETES_SERVICE_HOST'] + '/version',\n"
             "                                 headers={'Authorization': 'Bearer ' + open(sa + 'token').read()})\n"
             "print(urllib.request.urlopen(request, context=ctx).read().decode())\n")
    client.BatchV1Api(api_client).create_namespaced_job(
        namespace, _job("in-cluster", image, "", container={"command": ["python3", "-c", probe]}))
    pod = _finished_pod(core, namespace, "in-cluster")
    assert pod.status.phase == "Succeeded", _terminated(pod)
    assert json.loads(core.read_namespaced_pod_log(pod.metadata.name, namespace))["gitVersion"].startswith("v1.")


def test_blob_round_trip_through_azurite_from_the_host_and_a_pod(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, image: str,
    azurite_connection_string: str
) -> None:
    service = BlobServiceClient.from_connection_string(azurite_connection_string)
    container = service.get_container_client(f"harness-{uuid.uuid4().hex[:8]}")
    container.create_container()
    try:
        container.upload_blob("inputData", b'{"hello": "quantum"}')
        assert container.download_blob("inputData").readall() == b'{"hello": "quantum"}'
        # The same connection string from inside a pod (the solver image carries the storage SDK).
        script = ("import os\nfrom azure.storage.blob import BlobServiceClient\n"
                  "c = BlobServiceClient.from_connection_string(os.environ['CONN'])"
                  f".get_container_client('{container.container_name}')\n"
                  "print(c.download_blob('inputData').readall().decode())\n")
        job = _job("blob", image, "", container={"command": ["/opt/kuantum/bin/python", "-c", script],
                                                 "env": [{"name": "CONN", "value": azurite_connection_string}]})
        client.BatchV1Api(api_client).create_namespaced_job(namespace, job)
        pod = _finished_pod(core, namespace, "blob")
        assert pod.status.phase == "Succeeded", _terminated(pod)
        assert core.read_namespaced_pod_log(pod.metadata.name, namespace).strip() == '{"hello": "quantum"}'
    finally:
        container.delete_container()


def test_a_pods_cgroup_weighs_its_request_under_the_nodes_cgroup(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, image: str, node: devcluster.Node
) -> None:
    """The kubelet's pod cgroup (cgroupsPerQOS) weighs its CPU request and goes with the pod; the node's cgroup
    weighs the least a cgroup can (the control plane shares this machine and goes first)."""
    cpu_root = Path("/sys/fs/cgroup/cpu")
    if not (cpu_root / "cpu.shares").exists():
        pytest.skip("no cgroup v1 cpu controller")
    client.BatchV1Api(api_client).create_namespaced_job(
        namespace, _job("weighed", image, "sleep 60", container={"resources": {"requests": {"cpu": "250m"}}}))
    pod = _running_pod(core, namespace, "weighed")
    node_cgroup = cpu_root / node.cgroup
    pod_cgroup = node_cgroup / "kubepods" / "burstable" / f"pod{pod.metadata.uid}"
    assert (node_cgroup / "cpu.shares").read_text().strip() == "2"
    assert wait_for(lambda: pod_cgroup.exists(), what="the pod's cgroup")
    assert (pod_cgroup / "cpu.shares").read_text().strip() == "256"  # 250m, as the kubelet converts it
    core.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)
    wait_for(lambda: not pod_cgroup.exists(), timeout=60, what="the pod's cgroup removed")


def test_deleting_a_running_pod_stops_its_container(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, image: str, node: devcluster.Node
) -> None:
    client.BatchV1Api(api_client).create_namespaced_job(
        namespace, _job("long", image, "trap 'exit 0' TERM; while true; do sleep 0.1; done"))
    pod = _running_pod(core, namespace, "long")
    container_id = pod.status.container_statuses[0].container_id.split("://", 1)[1]
    assert container_id in node.running_containers()
    core.delete_namespaced_pod(pod.metadata.name, namespace)
    wait_for(lambda: container_id not in node.running_containers(), timeout=30, what="container stopped")

    def pod_gone() -> bool:
        try:
            core.read_namespaced_pod(pod.metadata.name, namespace)
            return False
        except ApiException as e:
            return e.status == 404

    wait_for(pod_gone, timeout=30, what="pod object deleted")


def test_kubectl_sees_the_node_ready(cluster: Any) -> None:
    out = kubectl(cluster.kubeconfig, "get", "nodes", "-o", "wide").stdout
    assert " Ready " in out and "containerd://" in out


@pytest.mark.exclusive  # the node's kubelet is killed: every other test's pods would see it
def test_a_container_outlives_a_kubelet_restart(
    cluster: devcluster.Cluster, api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, image: str,
    node: devcluster.Node
) -> None:
    """As on any node: the kubelet restarts, containerd keeps the container running, and the restarted
    kubelet reports its end."""
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "gate"}, "data": {}})
    script = 'while [ ! -s /gate/go ]; do sleep 0.2; done; echo done; exit 7'
    job = _job("survivor", image, script, volumes=[{"name": "gate", "configMap": {"name": "gate"}}],
               container={"volumeMounts": [{"name": "gate", "mountPath": "/gate"}]})
    client.BatchV1Api(api_client).create_namespaced_job(namespace, job)
    pod = _running_pod(core, namespace, "survivor")
    container_id = pod.status.container_statuses[0].container_id.split("://", 1)[1]
    node.component("kill", "kubelet")
    assert container_id in node.running_containers(), "the container must outlive the kubelet"
    subprocess.run(["bash", str(devcluster.HACK / "cluster-up.sh")], check=True, capture_output=True, timeout=300)
    core.patch_namespaced_config_map("gate", namespace, {"data": {"go": "yes"}})
    term = _terminated(_finished_pod(core, namespace, "survivor", timeout=180))
    assert term.exit_code == 7
    assert term.container_id.endswith(container_id), "the same container ran to its end"
