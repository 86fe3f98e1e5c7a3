"""The Helm charts as tests use them: `helm` with the dev cluster's binary, renders, the charts' RBAC read back, the
packaged kuantum-crds chart, and a kubeconfig for a ServiceAccount's token."""

from __future__ import annotations

import base64
import os
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from tests.support.kube import KUBECTL_BIN, wait_for

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "kuantum"
CRDS_CHART = ROOT / "helm" / "kuantum-crds"
HELM = KUBECTL_BIN / "helm"


def helm(*args: str, kubeconfig: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [str(HELM), *args]
    if kubeconfig:
        cmd += ["--kubeconfig", kubeconfig]
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env.setdefault("HELM_CACHE_HOME", str(Path.home() / ".cache" / "helm"))
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def render(*args: str, namespace: str = "kuantum-system", release: str = "kuantum", chart: Path = CHART,
           tests: bool = False) -> list[dict[str, Any]]:
    """helm template; without the `helm test` hooks unless tests."""
    extra = [] if tests else ["--skip-tests"]
    out = helm("template", release, str(chart), "--namespace", namespace, *extra, *args).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def operator_roles(docs: list[dict[str, Any]], kind: str = "ClusterRole", namespace: str = "kuantum-system",
                   release: str = "kuantum") -> list[dict[str, Any]]:
    """The operator's own (Cluster)Roles: not the webhook's, not the aggregated user roles."""
    fullname = release if "kuantum" in release else f"{release}-kuantum"
    return [d for d in by_kind(docs, kind) if d["metadata"]["name"] == f"{namespace}-{fullname}"]


def rules_of(doc: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in doc["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"], rule
        assert not rule.get("nonResourceURLs") and not rule.get("resourceNames"), rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    return granted


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def release_name() -> str:
    return f"kq-{uuid.uuid4().hex[:8]}"


def package_crds_chart(into: Path) -> Path:
    helm("package", str(CRDS_CHART), "--destination", str(into))
    [archive] = into.glob("kuantum-crds-*.tgz")
    return archive


def read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    data = tar.extractfile(member)
    assert data is not None, member.name
    return data.read()


def service_account_kubeconfig(admin_kubeconfig: str, core: client.CoreV1Api, namespace: str, sa_name: str,
                               path: Path) -> Path:
    """A kubeconfig that acts as the ServiceAccount (its token Secret's token), written to path."""
    def token_secret() -> str | None:
        sa = core.read_namespaced_service_account(sa_name, namespace)
        names = [s.name for s in sa.secrets or []]
        return names[0] if names else None

    secret_name = wait_for(token_secret, timeout=60, what=f"a token Secret for ServiceAccount {sa_name}")
    secret = wait_for(lambda: (s := core.read_namespaced_secret(secret_name, namespace)).data and s,
                      timeout=30, what="the token Secret's data")
    token = base64.b64decode(secret.data["token"]).decode()
    admin = yaml.safe_load(Path(admin_kubeconfig).read_text())
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])["context"]
    server = next(c for c in admin["clusters"] if c["name"] == context["cluster"])["cluster"]
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "operator",
        "clusters": [{"name": "cluster", "cluster": server}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "cluster", "user": "operator",
                                                      "namespace": namespace}}],
    }
    path.write_text(yaml.safe_dump(kubeconfig))
    path.chmod(0o600)
    return path
