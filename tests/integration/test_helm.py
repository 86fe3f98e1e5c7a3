"""The Helm charts (kuantum and kuantum-crds): lint, schema, renders (HA, webhook, ServiceMonitor, helm test),
install/uninstall against the real API server, and least-privilege RBAC.

The RBAC test runs the operator as a local process with the chart's ServiceAccount token (so that only the
chart's RBAC lets it act) and drives a QuantumJob to Succeeded with it; the chart's operator running its own
image on the node is tests/e2e/test_helm_release.py.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from kuantum import crdgen
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support import devcluster
from tests.support.kube import KUBECTL_BIN, kubectl, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "kuantum"
CRDS_CHART = ROOT / "helm" / "kuantum-crds"
EXAMPLES = ROOT / "examples"
HELM = KUBECTL_BIN / "helm"
OPERATOR = Path(sys.executable).parent / "kuantum-operator"
GROUP, VERSION = "kuantum.dev", "v1alpha1"
FORBIDDEN = re.compile(r"forbidden|not enough permissions|\(403\)|'code': 403|\"code\":\s*403", re.IGNORECASE)

# Exactly what the operator may do in a namespace it watches (operator/kuantum/runtime/writer.py, controller.py,
# main.py); the chart must grant this and nothing more.
NAMESPACED_RULES = {
    ("kuantum.dev", "quantumjobs"): {"list", "watch", "patch", "delete"},
    ("kuantum.dev", "quantumworkspaces"): {"list", "watch", "patch"},  # its finalizer
    ("kuantum.dev", "providers"): {"list", "watch", "create"},
    ("kuantum.dev", "quantumsessions"): {"list", "watch"},
    ("kuantum.dev", "quantumsessions/status"): {"patch"},
    ("kuantum.dev", "quantumjobs/status"): {"patch"},
    ("kuantum.dev", "quantumworkspaces/status"): {"patch"},
    ("kuantum.dev", "providers/status"): {"patch"},
    ("kuantum.dev", "quantumjobs/finalizers"): {"update"},
    ("kuantum.dev", "quantumworkspaces/finalizers"): {"update"},
    ("batch", "jobs"): {"get", "list", "watch", "create", "delete"},
    ("", "pods"): {"list", "watch", "create", "delete"},  # a solver pool's workers are created (solverPool.size > 0)
    ("", "pods/log"): {"get"},
    ("", "secrets"): {"get", "create", "delete"},
    ("", "configmaps"): {"get"},
    ("", "events"): {"create", "list"},
}
# Cluster-scoped reads Kopf's discovery needs in every mode.
CLUSTER_RULES = {
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"},
    ("", "namespaces"): {"list", "watch"},
}


# ----------------------------------------------------------------------------------------------- helpers
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def release_name() -> str:
    return f"kq-{uuid.uuid4().hex[:8]}"


def can_i(kubeconfig: str, sa: str, *args: str) -> bool:
    result = kubectl(kubeconfig, "auth", "can-i", *args, f"--as={sa}", check=False)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), f"kubectl auth can-i {args}: {result.stdout} {result.stderr}"
    return answer == "yes"


# ----------------------------------------------------------------------------------------------- offline
def test_lint_passes_cluster_wide_and_namespaced() -> None:
    for extra in ([], ["--set", "watchNamespaces={team-a,team-b}"],
                  ["--set", "replicas=2", "--set", "webhook.enabled=true",
                   "--set", "metrics.serviceMonitor.enabled=true"],
                  ["--set", "replicas=3", "--set", "webhook.enabled=true", "--set", "watchNamespaces={team-a}"]):
        out = helm("lint", "--strict", str(CHART), *extra).stdout
        assert "1 chart(s) linted, 0 chart(s) failed" in out, out
    out = helm("lint", "--strict", str(CRDS_CHART)).stdout
    assert "1 chart(s) linted, 0 chart(s) failed" in out, out
    # lint really checks the values against the chart's schema: a value out of range fails it
    bad = helm("lint", "--strict", str(CHART), "--set", "targetConcurrency=0", check=False)
    assert bad.returncode != 0, bad.stdout
    assert "targetConcurrency" in bad.stdout + bad.stderr, bad.stdout + bad.stderr


def test_cluster_wide_render_is_least_privilege_and_hardened() -> None:
    docs = render()
    assert not by_kind(docs, "Role") and not by_kind(docs, "RoleBinding")
    [cluster_role] = operator_roles(docs)
    assert rules_of(cluster_role) == {**NAMESPACED_RULES, **CLUSTER_RULES}
    [without_pool] = operator_roles(render("--set", "solverPool.size=0"))
    assert rules_of(without_pool)[("", "pods")] == {"list", "watch", "delete"}, "no pool: no pod is created"
    [binding] = by_kind(docs, "ClusterRoleBinding")
    [sa] = by_kind(docs, "ServiceAccount")
    assert binding["roleRef"]["name"] == cluster_role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": "kuantum-system"}]
    assert not by_kind(docs, "CustomResourceDefinition"), "Kuantum's CRDs belong to the kuantum-crds chart"
    for kind in ("PodDisruptionBudget", "ValidatingWebhookConfiguration", "ServiceMonitor", "Secret"):
        assert not by_kind(docs, kind), f"{kind} rendered with default values"
    assert not any("peering" in d["kind"].lower() for d in docs), "Kopf peering is gone (Lease leader election)"

    [deployment] = by_kind(docs, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == sa["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = pod["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert container["image"] == "ghcr.io/kuantum-dev/kuantum-operator:0.1.0"
    assert "-n" not in container["args"] and "--leader-elect" not in container["args"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "liveness"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 8080, "liveness": 8081}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KUANTUM_SOLVER_IMAGE"] == "ghcr.io/kuantum-dev/kuantum-solver:0.1.0"
    assert env["KUANTUM_TARGET_CONCURRENCY"] == "4"
    [service] = by_kind(docs, "Service")
    assert service["spec"]["ports"][0]["port"] == 8080
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_namespaced_render_grants_roles_only_in_watched_namespaces() -> None:
    docs = render("--set", "watchNamespaces={team-a,team-b}", "--set", "solverImage.tag=9.9",
                  "--set", "targetConcurrency=7")
    roles = by_kind(docs, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    for role in roles:
        assert rules_of(role) == NAMESPACED_RULES
    bindings = by_kind(docs, "RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    assert {b["subjects"][0]["namespace"] for b in bindings} == {"kuantum-system"}
    [cluster_role] = operator_roles(docs)
    assert rules_of(cluster_role) == CLUSTER_RULES, "namespaced mode: only Kopf's cluster-scoped discovery reads"
    [deployment] = by_kind(docs, "Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"][:4] == ["-n", "team-a", "-n", "team-b"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KUANTUM_SOLVER_IMAGE"] == "ghcr.io/kuantum-dev/kuantum-solver:9.9"
    assert env["KUANTUM_TARGET_CONCURRENCY"] == "7"


def test_cluster_scoped_names_are_unique_per_release_and_namespace() -> None:
    names = set()
    for namespace, release in (("ns-a", "kuantum"), ("ns-b", "kuantum"), ("ns-a", "other")):
        docs = render("--set", "watchNamespaces={shared}", namespace=namespace, release=release)
        cluster_objects = by_kind(docs, "ClusterRole") + by_kind(docs, "ClusterRoleBinding")
        assert len(cluster_objects) == 4  # the operator's role and binding, the aggregated edit and view roles
        names.add(tuple(sorted(d["metadata"]["name"] for d in cluster_objects)))
        # Roles in a shared watched namespace must not collide either.
        names.add(tuple(sorted(d["metadata"]["name"] for d in by_kind(docs, "Role"))))
    assert len(names) == 6


@pytest.mark.parametrize("bad", [
    "replicas: two\n",
    "replicas: -1\n",
    "unknownKey: 1\n",
    "webhook:\n  enabled: true\n  failurePolicy: Maybe\n",
    "webhook:\n  enabeld: true\n",
    "metrics:\n  serviceMonitor:\n    interval: often\n",
    "leaderElection:\n  leaseName: Not_Valid\n",
    "peering:\n  name: kuantum\n",  # Kopf peering is gone: its old values are refused, not ignored
    "image:\n  repository: x\n  tga: latest\n",
    "watchNamespaces: [Not_A_Namespace]\n",
])
def test_schema_rejects_invalid_values(tmp_path: Path, bad: str) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(bad)
    result = helm("template", "x", str(CHART), "-f", str(values), check=False)
    assert result.returncode != 0, result.stdout
    assert "schema" in result.stderr, result.stderr
    lint = helm("lint", str(CHART), "-f", str(values), check=False)
    assert lint.returncode != 0


LEASE_RULES = [
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["kuantum"],
     "verbs": ["get", "update"]},
]


def _leader_election_rbac(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    [role] = [r for r in by_kind(docs, "Role") if r["metadata"]["name"].endswith("-leader-election")]
    [binding] = [b for b in by_kind(docs, "RoleBinding") if b["metadata"]["name"].endswith("-leader-election")]
    return role, binding


def test_high_availability_render_runs_leader_election_with_a_disruption_budget() -> None:
    docs = render("--set", "replicas=2")
    [deployment] = by_kind(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate",
                                              "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert "--leader-elect" in args and "--peering" not in args
    assert args[args.index("--leader-elect-namespace") + 1] == "kuantum-system"
    assert args[args.index("--leader-elect-name") + 1] == "kuantum"
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    [pdb] = by_kind(docs, "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    [old_pdb] = by_kind(render("--set", "replicas=2", "--kube-version", "v1.20.2"), "PodDisruptionBudget")
    assert old_pdb["apiVersion"] == "policy/v1beta1"  # Kubernetes 1.20 (the chart's minimum, the dev cluster)
    # The operator's roles are unchanged; the Lease has a Role of its own in the release's namespace:
    # create (which resourceNames cannot limit) on leases, get/update only on this release's Lease.
    [cluster_role] = operator_roles(docs)
    assert rules_of(cluster_role) == {**NAMESPACED_RULES, **CLUSTER_RULES}
    role, binding = _leader_election_rbac(docs)
    assert role["metadata"]["namespace"] == "kuantum-system" and role["rules"] == LEASE_RULES
    assert binding["metadata"]["namespace"] == "kuantum-system"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kuantum", "namespace": "kuantum-system"}]
    assert not (CHART / "crds").exists(), "no Kopf peering CRDs any more"
    # One replica: no election, no Lease RBAC, no PodDisruptionBudget.
    single = render()
    assert not [r for r in by_kind(single, "Role") if r["metadata"]["name"].endswith("-leader-election")]


def test_high_availability_namespaced_render_keeps_the_lease_in_the_release_namespace() -> None:
    docs = render("--set", "replicas=2", "--set", "watchNamespaces={team-a,team-b}",
                  "--set", "leaderElection.leaseName=team-lease")
    for role in operator_roles(docs, "Role"):
        assert rules_of(role) == NAMESPACED_RULES
    role, _ = _leader_election_rbac(docs)
    assert role["metadata"]["namespace"] == "kuantum-system"
    assert role["rules"][1]["resourceNames"] == ["team-lease"]
    [deployment] = by_kind(docs, "Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"][container["args"].index("--leader-elect-name") + 1] == "team-lease"
    # Two releases in one namespace get two Leases (each its own leader).
    other = render("--set", "replicas=2", release="other")
    assert _leader_election_rbac(other)[0]["rules"][1]["resourceNames"] == ["other-kuantum"]


def _webhook_parts(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    [deployment] = by_kind(docs, "Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    [service] = [s for s in by_kind(docs, "Service") if s["metadata"]["name"].endswith("-webhook")]
    return deployment, container["args"], service


def test_webhook_render_single_replica_lets_the_operator_make_its_certificate() -> None:
    docs = render("--set", "webhook.enabled=true", "--set", "webhook.failurePolicy=Fail")
    deployment, args, service = _webhook_parts(docs)
    assert args[args.index("--webhook-port") + 1] == "9443"
    assert args[args.index("--webhook-host") + 1] == "kuantum-webhook.kuantum-system.svc"  # the cert's name
    # The configuration names the Service: kube-apiserver resolves it itself (no cluster DNS needed there).
    assert args[args.index("--webhook-service") + 1] == "kuantum-system/kuantum-webhook"
    assert args[args.index("--webhook-failure-policy") + 1] == "Fail"
    # The operator manages the configurations the chart made (and may patch), whatever its -n patterns are.
    assert args[args.index("--webhook-config-name") + 1] == "kuantum.kuantum-system.kuantum.dev"
    assert "--webhook-cert" not in args and not by_kind(docs, "Secret")
    assert service["spec"]["ports"] == [{"name": "webhook", "port": 9443, "targetPort": "webhook", "protocol": "TCP"}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    # The name operator/kuantum/main.py gives Kopf's managed configurations (Kopf manages a mutating one beside the
    # validating one, and stops when it may not create it); left empty for the operator to fill.
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        [config] = by_kind(docs, kind)
        assert config["metadata"]["name"] == "kuantum.kuantum-system.kuantum.dev" and "webhooks" not in config
    [role] = [r for r in by_kind(docs, "ClusterRole") if r["metadata"]["name"].endswith("-webhook")]
    kinds = ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"]
    assert role["rules"] == [
        {"apiGroups": ["admissionregistration.k8s.io"], "resources": kinds, "verbs": ["create"]},
        {"apiGroups": ["admissionregistration.k8s.io"], "resources": kinds,
         "resourceNames": ["kuantum.kuantum-system.kuantum.dev"], "verbs": ["patch"]}]
    [binding] = [b for b in by_kind(docs, "ClusterRoleBinding") if b["metadata"]["name"].endswith("-webhook")]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    # Cluster-scoped, so named by the release: a second release (another namespace) never touches this one's.
    other = render("--set", "webhook.enabled=true", "--set", "watchNamespaces={team-a,team-b}",
                   release="kuantum", namespace="team-ops")
    [config] = by_kind(other, "ValidatingWebhookConfiguration")
    assert config["metadata"]["name"] == "kuantum.team-ops.kuantum.dev"


def test_webhook_render_several_replicas_share_one_certificate() -> None:
    docs = render("--set", "replicas=2", "--set", "webhook.enabled=true")
    deployment, args, _ = _webhook_parts(docs)
    [secret] = by_kind(docs, "Secret")
    assert secret["type"] == "kubernetes.io/tls"
    pem = base64.b64decode(secret["data"]["tls.crt"]).decode()
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    assert args[args.index("--webhook-cert") + 1] == "/etc/kuantum/webhook/tls.crt"
    assert args[args.index("--webhook-key") + 1] == "/etc/kuantum/webhook/tls.key"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["webhook-tls"]["secret"]["secretName"] == secret["metadata"]["name"]
    own = render("--set", "replicas=2", "--set", "webhook.enabled=true", "--set", "webhook.certSecret=my-tls")
    assert not by_kind(own, "Secret")
    volumes = {v["name"]: v for v in by_kind(own, "Deployment")[0]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["webhook-tls"]["secret"]["secretName"] == "my-tls"


def test_service_monitor_render() -> None:
    docs = render("--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.serviceMonitor.labels.release=prom")
    [monitor] = by_kind(docs, "ServiceMonitor")
    [service] = by_kind(docs, "Service")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert all(service["metadata"]["labels"].get(k) == v for k, v in selector.items())
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    refused = helm("template", "x", str(CHART), "--set", "metrics.serviceMonitor.enabled=true",
                   "--set", "metrics.service.enabled=false", check=False)
    assert refused.returncode != 0 and "metrics.service.enabled" in refused.stderr


def test_aggregated_user_roles() -> None:
    docs = render()
    roles = {r["metadata"]["name"]: r for r in by_kind(docs, "ClusterRole")}
    edit, view = roles["kuantum-system-kuantum-edit"], roles["kuantum-system-kuantum-view"]
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    kinds = {"quantumjobs", "quantumworkspaces", "providers", "quantumsessions"}
    assert {r for (g, r), verbs in rules_of(edit).items() if "create" in verbs and g == "kuantum.dev"} == kinds
    assert all(verbs <= {"get", "list", "watch"} for verbs in rules_of(view).values())
    assert {r for g, r in rules_of(view) if g == "kuantum.dev" and "/" not in r} == kinds
    assert not any(r["metadata"]["name"].endswith(("-edit", "-view"))
                   for r in by_kind(render("--set", "rbac.aggregateToDefaultRoles=false"), "ClusterRole"))


def test_gateway_rbac_reads_the_kinds_and_writes_jobs_and_sessions_only() -> None:
    docs = render("--set", "gateway.enabled=true")
    (role,) = [r for r in by_kind(docs, "ClusterRole") if r["metadata"]["name"].endswith("-gateway")]
    assert rules_of(role) == {
        ("kuantum.dev", "quantumjobs"): {"get", "list", "watch", "create", "patch", "delete"},
        ("kuantum.dev", "quantumsessions"): {"get", "list", "watch", "create", "patch"},  # open and close
        ("kuantum.dev", "providers"): {"get", "list", "watch"},
        ("kuantum.dev", "quantumworkspaces"): {"get", "list", "watch"},
        ("", "secrets"): {"get"},
    }


def test_helm_test_hook_submits_a_job_and_waits() -> None:
    docs = render("--set", "tests.namespace=team-a", "--set", "tests.workspace=ws", tests=True)
    [pod] = by_kind(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    [container] = pod["spec"]["containers"]
    assert container["image"] == "ghcr.io/kuantum-dev/kuantum-operator:0.1.0"
    assert container["command"] == ["kuantum"]
    args = container["args"]
    assert args[:2] == ["--namespace", "team-a"] and "--wait" in args
    assert args[args.index("--workspace") + 1] == "ws"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    [role] = [r for r in by_kind(docs, "Role") if r["metadata"]["annotations"].get("helm.sh/hook") == "test"]
    assert role["metadata"]["namespace"] == "team-a"
    assert rules_of(role) == {("kuantum.dev", "quantumjobs"): {"create", "get"},
                              ("kuantum.dev", "quantumworkspaces"): {"get"}}
    [config_map] = by_kind(docs, "ConfigMap")
    problem = json.loads(config_map["data"]["helm-test.json"])
    assert problem["cost_function"]["type"] == "ising"


def test_crds_chart_renders_the_generated_crds_kept_on_uninstall() -> None:
    docs = render(chart=CRDS_CHART)
    generated = {yaml.safe_load(text)["metadata"]["name"]: yaml.safe_load(text) for text in crdgen.all_crds().values()}
    assert {d["metadata"]["name"]: d for d in docs} == generated
    for doc in docs:
        assert doc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def package_crds_chart(into: Path) -> Path:
    helm("package", str(CRDS_CHART), "--destination", str(into))
    [archive] = into.glob("kuantum-crds-*.tgz")
    return archive


def test_packaged_crds_chart_holds_the_crds_themselves(tmp_path: Path) -> None:
    """The chart's templates/ is a link to crds/; Helm follows it when it packages the chart, so the .tgz that
    users install holds the generated files themselves (no link, nothing missing)."""
    assert (CRDS_CHART / "templates").is_symlink()
    assert (CRDS_CHART / "templates").resolve() == (ROOT / "crds").resolve()
    with tarfile.open(package_crds_chart(tmp_path)) as tar:
        members = tar.getmembers()
        assert all(m.isfile() for m in members), [m.name for m in members if not m.isfile()]
        templates = {m.name.removeprefix("kuantum-crds/templates/"): _read(tar, m) for m in members
                     if m.name.startswith("kuantum-crds/templates/")}
    assert templates == {name: text.encode() for name, text in crdgen.all_crds().items()}
    assert templates == {p.name: p.read_bytes() for p in (ROOT / "crds").glob("*.yaml")}


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    data = tar.extractfile(member)
    assert data is not None, member.name
    return data.read()


# ----------------------------------------------------------------------------------------------- cluster
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
            data = _read(src, member)
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


def _sa_kubeconfig(admin_kubeconfig: str, core: client.CoreV1Api, namespace: str, sa_name: str, path: Path) -> Path:
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

        sa_kubeconfig = _sa_kubeconfig(kubeconfig, core, namespace, sa_name, tmp_path / "operator.kubeconfig")
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
