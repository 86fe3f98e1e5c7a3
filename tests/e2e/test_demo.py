"""`make demo` (hack/demo.sh) as a user runs it, in a namespace and release of its own: both charts installed with
Helm from the built images, the examples run (one fails on purpose, one is cancelled), `helm test` passes, and the
azure-quantum snippet it prints runs as printed against the gateway's Service."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kubernetes import client

from tests.support import devcluster
from tests.support.kube import KUBECTL_BIN, kubectl

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900), pytest.mark.exclusive]
ROOT = Path(__file__).resolve().parents[2]


def test_make_demo_runs_the_examples_and_prints_a_working_sdk_snippet(
    cluster: devcluster.Cluster, core: client.CoreV1Api, tmp_path: Path
) -> None:
    if cluster.state_dir is None:
        pytest.skip("make demo runs on the dev cluster")
    suffix = uuid.uuid4().hex[:6]
    namespace, release_namespace, release = f"e2e-demo-{suffix}", f"e2e-system-{suffix}", f"demo-{suffix}"
    snippet = tmp_path / "demo-sdk.py"
    env = {**os.environ, "KUANTUM_DEMO_NAMESPACE": namespace, "KUANTUM_DEMO_RELEASE_NAMESPACE": release_namespace,
           "KUANTUM_DEMO_RELEASE": release, "KUANTUM_DEMO_WATCH": namespace, "KUANTUM_DEMO_SDK_FILE": str(snippet)}
    try:
        demo = subprocess.run(["bash", str(ROOT / "hack" / "demo.sh")], env=env, capture_output=True, text=True,
                              timeout=600)
        assert demo.returncode == 0, demo.stderr[-3000:]
        out = demo.stdout
        for name, state in (("ising-sa", "Succeeded"), ("ising-bad-params", "Failed"), ("ising-cancelled", "Cancelled"),
                            ("bell", "Succeeded"), ("qsharp-bell", "Succeeded"), ("qsharp-bell-ionq", "Succeeded")):
            assert any(line.split()[:2] == [f"quantumjob.kuantum.dev/{name}", state] for line in out.splitlines()), \
                (name, out)
        assert "InvalidParameters: parameter 'sweeps'=0 is out of range" in out
        assert '"configuration"' in out  # the output of ising-sa
        assert "Phase:          Succeeded" in out  # helm test
        printed = snippet.read_text()
        assert printed in "\n".join(line[6:] for line in demo.stderr.splitlines()) + "\n", "the snippet is printed"
        run = subprocess.run([sys.executable, str(snippet)], capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        assert "'histogram'" in run.stdout and "'3'" in run.stdout
        listed = run.stdout.splitlines()[0]  # every target of the workspace, kuantum's and QIO's too
        assert "'kuantum.simulator'" in listed and "'microsoft.simulatedannealing.cpu'" in listed, listed
    finally:
        subprocess.run([str(KUBECTL_BIN / "helm"), "--kubeconfig", cluster.kubeconfig, "-n", release_namespace,
                        "uninstall", release, "--wait", "--timeout", "120s"], capture_output=True, timeout=180)
        for name in kubectl(cluster.kubeconfig, "-n", namespace, "get", "qjob,qws,qprovider", "-o", "name",
                            check=False).stdout.split():
            kubectl(cluster.kubeconfig, "-n", namespace, "patch", name, "--type=merge", "-p",
                    '{"metadata":{"finalizers":null}}', check=False)
        for ns in (namespace, release_namespace):
            kubectl(cluster.kubeconfig, "delete", "namespace", ns, "--wait=false", check=False)
