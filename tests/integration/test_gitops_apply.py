"""Git as the source of truth: applying examples/gitops again never reruns a finished job and never fights
the operator (`kubectl apply` says unchanged, `kubectl diff` shows nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import client

from tests.support import devcluster
from tests.support import quantum as q
from tests.support.kube import kubectl
from tests.support.operator import OperatorProcess

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gitops"


def test_reapplying_the_gitops_example_changes_nothing(
        cluster: devcluster.Cluster, api_client: client.ApiClient, core: client.CoreV1Api, namespace: str,
        azurite_connection_string: str, operator: OperatorProcess, tmp_path: Path) -> None:
    ns = namespace
    rendered = kubectl(cluster.kubeconfig, "kustomize", str(EXAMPLE)).stdout
    objects = [o for o in yaml.safe_load_all(rendered) if o and o["kind"] != "Namespace"]
    for obj in objects:
        obj["metadata"]["namespace"] = ns  # the example's namespace, moved into this test's own
    manifest = tmp_path / "gitops.yaml"
    manifest.write_text(yaml.safe_dump_all(objects))
    q.storage_secret(core, ns, azurite_connection_string, name="demo-storage")
    kubectl(cluster.kubeconfig, "apply", "-f", str(manifest))
    jobs = [o["metadata"]["name"] for o in objects if o["kind"] == "QuantumJob"]
    finished = {name: q.wait_state(api_client, ns, name, q.FINAL, timeout=180) for name in jobs}
    again = kubectl(cluster.kubeconfig, "apply", "-f", str(manifest)).stdout
    assert all(line.endswith("unchanged") for line in again.strip().splitlines()), again
    diff = kubectl(cluster.kubeconfig, "diff", "-f", str(manifest), check=False)
    assert diff.returncode == 0 and not diff.stdout.strip(), diff.stdout + diff.stderr
    for name, status in finished.items():  # never run again: the same id and the same end
        now = q.job_status(api_client, ns, name)
        assert (now["id"], now["state"], now.get("endExecutionTime"), now.get("cancellationTime")) == \
            (status["id"], status["state"], status.get("endExecutionTime"), status.get("cancellationTime")), name
