"""The Helm charts (kuantum and kuantum-crds) installed on the real API server: install/uninstall, the packaged CRD
chart, least-privilege RBAC, server-side dry runs (renders without a cluster are test_helm_render.py).

The RBAC test runs the operator as a local process with the chart's ServiceAccount token (so that only the
chart's RBAC lets it act) and drives a QuantumJob to Succeeded with it; the chart's operator running its own
image on the node is tests/e2e/test_helm_release.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from kuantum import crdgen
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support import devcluster
from tests.support.helm import (
    CHART,
    ROOT,
    helm,
    package_crds_chart,
    read_member,
    release_name,
    service_account_kubeconfig,
)
from tests.support.kube import kubectl, wait_for
from tests.support.operator import free_port

pytestmark = [pytest.mark.integration, pytest.mark.exclusive]

EXAMPLES = ROOT / "examples"
OPERATOR = Path(sys.executable).parent / "kuantum-operator"
GROUP, VERSION = "kuantum.dev", "v1alpha1"
FORBIDDEN = re.compile(r"forbidden|not enough permissions|\(403\)|'code': 403|\"code\":\s*403", re.IGNORECASE)


def can_i(kubeconfig: str, sa: str, *args: str) -> bool:
    result = kubectl(kubeconfig, "auth", "can-i", *args, f"--as={sa}", check=False)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), f"kubectl auth can-i {args}: {result.stdout} {result.stderr}"
    return answer == "yes"


def test_packaged_crds_chart_installs_and_keeps_its_crds(cluster: devcluster.Cluster, namespace: str,
                                                          tmp_path: Path) -> None:
    """`helm install` of the packaged kuantum-crds chart creates its CRDs, served and owned by the release, and
    `helm uninstall` keeps them. The dev cluster is shared and its kuantum.dev CRDs are in use, so the archive's
    CRDs are moved to a private API group (`<test namespace>.kuantum.test`, without short names or categories;
    nothing else in the archive changes), and the test deletes them at the end."""
    kubeconfig, group, release = cluster.kubeconfig, f"{namespace}.kuantum.test", release_name()
    archive = package_crds_chart(tmp_path / "package")
    private = tmp_path / archive.name
    with tarfile.open(archive) as src, tarfile.open(private, "w:gz") as dst:
        for member in src.getmembers():
            data = read_member(src, member)
            if member.name.startswith("kuantum-crds/templates/"):
                crd = yaml.safe_load(data)
                crd["spec"]["group"] = group
                crd["metadata"]["name"] = f"{crd['spec']['names']['plural']}.{group}"
                crd["spec"]["names"].pop("shortNames")
                crd["spec"]["names"].pop("categories")
                data = yaml.safe_dump(crd, sort_keys=False).encode()
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    names = [f"{yaml.safe_load(text)['spec']['names']['plural']}.{group}" for text in crdgen.all_crds().values()]
    try:
        result = helm("install", release, str(private), "--namespace", namespace, kubeconfig=kubeconfig)
        assert "STATUS: deployed" in result.stdout
        kubectl(kubeconfig, "wait", "--for", "condition=established", "--timeout=60s", *[f"crd/{n}" for n in names])
        for name in names:
            crd = yaml.safe_load(kubectl(kubeconfig, "get", "crd", name, "-o", "yaml").stdout)
            assert crd["metadata"]["annotations"]["meta.helm.sh/release-name"] == release
            assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        helm("uninstall", release, "--namespace", namespace, "--timeout", "60s", kubeconfig=kubeconfig)
        for name in names:
            kubectl(kubeconfig, "get", "crd", name)  # kept
    finally:
        helm("uninstall", release, "--namespace", namespace, kubeconfig=kubeconfig, check=False)
        kubectl(kubeconfig, "delete", "crd", *names, "--ignore-not-found", "--wait=false", check=False)


def test_install_and_uninstall(cluster: devcluster.Cluster, namespace: str) -> None:
    kubeconfig = cluster.kubeconfig
    first, second = release_name(), release_name()
    cluster_names = [f"{namespace}-{first}-kuantum", f"{namespace}-{second}-kuantum"]
    try:
        result = helm("install", first, str(CHART), "--namespace", namespace, "--skip-crds", kubeconfig=kubeconfig)
        assert "STATUS: deployed" in result.stdout
        # A second release beside it (namespaced mode) must not clash on cluster-scoped objects.
        helm("install", second, str(CHART), "--namespace", namespace, "--skip-crds",
             "--set", f"watchNamespaces={{{namespace}}}", "--set", "replicas=0", kubeconfig=kubeconfig)
        listed = helm("list", "--namespace", namespace, "-q", kubeconfig=kubeconfig).stdout.split()
        assert sorted(listed) == sorted([first, second])
        for name in cluster_names:
            kubectl(kubeconfig, "get", "clusterrole", name)
            kubectl(kubeconfig, "get", "clusterrolebinding", name)
        kubectl(kubeconfig, "-n", namespace, "get", f"deployment/{first}-kuantum", f"serviceaccount/{first}-kuantum",
                f"service/{first}-kuantum-metrics")
        kubectl(kubeconfig, "-n", namespace, "get", f"role/{cluster_names[1]}", f"rolebinding/{cluster_names[1]}")
        deployment = yaml.safe_load(kubectl(kubeconfig, "-n", namespace, "get", f"deployment/{first}-kuantum",
                                            "-o", "yaml").stdout)
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
    finally:
        for release in (first, second):
            helm("uninstall", release, "--namespace", namespace, "--timeout", "60s", kubeconfig=kubeconfig,
                 check=False)
    for name in cluster_names:
        for kind in ("clusterrole", "clusterrolebinding"):
            gone = kubectl(kubeconfig, "get", kind, name, "--ignore-not-found", "-o", "name").stdout.strip()
            assert not gone, f"{kind} {name} left behind"
    assert not kubectl(kubeconfig, "-n", namespace, "get", "deployment,serviceaccount,service,role,rolebinding",
                       "-l", "app.kubernetes.io/part-of=kuantum", "-o", "name").stdout.strip()
    assert not helm("list", "--namespace", namespace, "-q", kubeconfig=kubeconfig).stdout.strip()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _other_operators(own_pid: int) -> list[str]:
    result = subprocess.run(["pgrep", "-af", "kuantum-operator"], capture_output=True, text=True, check=False)
    return [line for line in result.stdout.splitlines()
            if line.split()[0] != str(own_pid) and "pgrep" not in line and "python" in line]


def test_operator_runs_with_chart_rbac_only(cluster: devcluster.Cluster, namespace: str, core: client.CoreV1Api,
                                            api_client: client.ApiClient, azurite_connection_string: str,
                                            tmp_path: Path) -> None:
    kubeconfig = cluster.kubeconfig
    release = release_name()
    sa_name = f"{release}-kuantum"
    sa = f"system:serviceaccount:{namespace}:{sa_name}"
    custom = client.CustomObjectsApi(api_client)
    log_path = tmp_path / "operator.log"
    proc: subprocess.Popen[bytes] | None = None
    helm("install", release, str(CHART), "--namespace", namespace, "--skip-crds", "--set", "replicas=0",
         "--set", f"watchNamespaces={{{namespace}}}", kubeconfig=kubeconfig)
    try:
        # Least privilege, as the API server's authorizer answers it.
        assert can_i(kubeconfig, sa, "create", "jobs.batch", "-n", namespace)
        assert can_i(kubeconfig, sa, "patch", "quantumjobs.kuantum.dev", "--subresource=status", "-n", namespace)
        assert can_i(kubeconfig, sa, "patch", "quantumsessions.kuantum.dev", "--subresource=status", "-n", namespace)
        assert can_i(kubeconfig, sa, "watch", "quantumsessions.kuantum.dev", "-n", namespace)
        assert can_i(kubeconfig, sa, "get", "secrets", "-n", namespace)
        assert can_i(kubeconfig, sa, "create", "pods", "-n", namespace)  # the solver pool's workers (size 2)
        assert can_i(kubeconfig, sa, "watch", "customresourcedefinitions.apiextensions.k8s.io")
        for denied in (("delete", "nodes"), ("get", "secrets", "-n", "kube-system"),
                       ("list", "secrets", "-n", namespace), ("create", "pods", "-n", "default"),
                       ("create", "jobs.batch", "-n", "default"),
                       ("delete", "quantumworkspaces.kuantum.dev", "-n", namespace),
                       ("update", "quantumjobs.kuantum.dev", "-n", namespace),
                       ("create", "quantumsessions.kuantum.dev", "-n", namespace),
                       ("patch", "quantumsessions.kuantum.dev", "-n", namespace),
                       ("create", "clusterrolebindings.rbac.authorization.k8s.io"),
                       ("create", "serviceaccounts", "--subresource=token", "-n", namespace),
                       ("delete", "customresourcedefinitions.apiextensions.k8s.io")):
            assert not can_i(kubeconfig, sa, *denied), f"{sa} may {' '.join(denied)}"

        sa_kubeconfig = service_account_kubeconfig(kubeconfig, core, namespace, sa_name,
                                                   tmp_path / "operator.kubeconfig")
        liveness_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
        # Also in the environment: Kopf's own login reads kubernetes' default kubeconfig location, which the
        # client library fixes from $KUBECONFIG at import time, before --kubeconfig is parsed (see report).
        env["KUBECONFIG"] = str(sa_kubeconfig)
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(
                [str(OPERATOR), "-n", namespace, "--kubeconfig", str(sa_kubeconfig),
                 "--metrics-port", str(free_port()), "--metrics-addr", "127.0.0.1",
                 "--liveness", f"http://127.0.0.1:{liveness_port}/healthz"],
                stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)

        def healthy() -> bool:
            assert proc is not None and proc.poll() is None, log_path.read_text()
            url = f"http://127.0.0.1:{liveness_port}/healthz"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
            return False

        wait_for(healthy, timeout=60, interval=0.5, what="the operator's liveness endpoint")

        core.create_namespaced_secret(namespace, {"metadata": {"name": "demo-storage"},
                                                  "stringData": {"connectionString": azurite_connection_string}})
        workspace = yaml.safe_load((EXAMPLES / "00-workspace.yaml").read_text())
        job = yaml.safe_load((EXAMPLES / "20-job-simulated-annealing.yaml").read_text())
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "quantumworkspaces", workspace)
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "quantumjobs", job)
        job_name = job["metadata"]["name"]

        def final_state() -> str | None:
            assert proc is not None and proc.poll() is None, log_path.read_text()
            obj = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "quantumjobs", job_name)
            state = (obj.get("status") or {}).get("state")
            return state if state in ("Succeeded", "Failed", "Cancelled") else None

        state = wait_for(final_state, timeout=120, interval=1, what=f"QuantumJob {job_name} to finish")
        obj = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "quantumjobs", job_name)
        assert state == "Succeeded", obj.get("status")
        assert obj["status"]["outputDataUri"]

        # Deleting the job goes through the operator's finalizer (patch), proving that path too; it also
        # lets the namespace go away once the operator is stopped.
        custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, "quantumjobs", job_name)

        def job_gone() -> bool:
            try:
                custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "quantumjobs", job_name)
            except ApiException as e:
                return e.status == 404
            return False

        wait_for(job_gone, timeout=60, interval=0.5, what=f"QuantumJob {job_name} to be deleted")

        others = _other_operators(proc.pid)
        log = log_path.read_text()
        assert not FORBIDDEN.search(log), f"the operator hit a permission error:\n{log}"
        started = f"job {namespace}/{job_name} ("  # the operator's transition lines (Waiting -> Executing, ...)
        if not others:
            assert started in log, f"this operator did not run the job:\n{log}"
        else:
            # Another (cluster-wide) operator shares the cluster and may have won the race for this job.
            assert started in log or namespace in log, f"this operator never reconciled the job:\n{log}"
    finally:
        if proc is not None:
            _stop(proc)
        helm("uninstall", release, "--namespace", namespace, "--timeout", "60s", kubeconfig=kubeconfig, check=False)
    assert not FORBIDDEN.search(log_path.read_text()), log_path.read_text()
MINIMAL_SERVICE_MONITOR_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com",
                 "labels": {"kuantum.dev/test": "minimal-servicemonitor-crd"}},
    "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
             "names": {"plural": "servicemonitors", "singular": "servicemonitor", "kind": "ServiceMonitor",
                       "listKind": "ServiceMonitorList"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]},
}


@contextlib.contextmanager
def _service_monitor_crd(kubeconfig: str) -> Any:
    """The Prometheus Operator's ServiceMonitor CRD: a minimal one when the cluster has none, deleted again
    afterwards; one that exists already (someone else's) is used and never touched."""
    name = MINIMAL_SERVICE_MONITOR_CRD["metadata"]["name"]  # type: ignore[index]
    existing = kubectl(kubeconfig, "get", "crd", name, "--ignore-not-found", "-o", "name").stdout.strip()
    created = False
    if not existing:
        result = kubectl(kubeconfig, "create", "-f", "-", input=json.dumps(MINIMAL_SERVICE_MONITOR_CRD), check=False)
        created = result.returncode == 0
        assert created or "AlreadyExists" in result.stderr, result.stderr  # a concurrent creator: theirs
        kubectl(kubeconfig, "wait", "--for", "condition=established", "--timeout=60s", f"crd/{name}")
    try:
        yield
    finally:
        if created:
            kubectl(kubeconfig, "delete", "crd", name, "--ignore-not-found", "--wait=false", check=False)


@pytest.mark.parametrize("values", [
    [],
    ["--set", "replicas=2", "--set", "webhook.enabled=true", "--set", "metrics.serviceMonitor.enabled=true",
     "--set", "gateway.enabled=true"],
    ["--set", "replicas=2", "--set", "webhook.enabled=true", "--set", "watchNamespaces={NS}"],
], ids=["defaults", "ha-webhook-servicemonitor", "ha-webhook-namespaced"])
def test_rendered_chart_passes_server_side_dry_run(cluster: devcluster.Cluster, namespace: str,
                                                   values: list[str]) -> None:
    """`helm template | kubectl apply --dry-run=server`: every object (CRD-backed ones included) is valid
    for the real API server's schemas and admission; nothing is created. Without the `helm test` hooks: their
    Pod names a ServiceAccount that a dry run does not create, which the ServiceAccount admission refuses."""
    kubeconfig = cluster.kubeconfig
    values = [v.replace("NS", namespace) for v in values]
    # Rendered for the cluster's version, as `helm install` would (e.g. the PodDisruptionBudget's API version).
    server = json.loads(kubectl(kubeconfig, "version", "-o", "json").stdout)["serverVersion"]["gitVersion"]
    out = helm("template", release_name(), str(CHART), "--namespace", namespace, "--skip-tests",
               "--kube-version", server, *values).stdout
    kinds = {d["kind"] for d in yaml.safe_load_all(out) if d}
    with contextlib.ExitStack() as stack:
        if "ServiceMonitor" in kinds:
            stack.enter_context(_service_monitor_crd(kubeconfig))
        result = kubectl(kubeconfig, "apply", "--dry-run=server", "-n", namespace, "-f", "-", input=out, check=False)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "Warning" not in result.stderr, result.stderr
    applied = result.stdout.strip().splitlines()
    assert len(applied) == sum(1 for d in yaml.safe_load_all(out) if d), result.stdout
    assert all(line.endswith("(server dry run)") for line in applied), result.stdout
