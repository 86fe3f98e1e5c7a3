"""The Helm charts rendered and linted, no cluster: schema, least-privilege RBAC, HA, the webhook, the ServiceMonitor,
the `helm test` hook and the kuantum-crds chart as packaged.

Installing them on the real API server is test_helm.py; the chart's operator running its image, tests/e2e."""

from __future__ import annotations

import base64
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from kuantum import crdgen

from tests.support.helm import (
    CHART,
    CRDS_CHART,
    ROOT,
    by_kind,
    helm,
    operator_roles,
    package_crds_chart,
    read_member,
    render,
    rules_of,
)

pytestmark = pytest.mark.integration


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


def test_packaged_crds_chart_holds_the_crds_themselves(tmp_path: Path) -> None:
    """The chart's templates/ is a link to crds/; Helm follows it when it packages the chart, so the .tgz that
    users install holds the generated files themselves (no link, nothing missing)."""
    assert (CRDS_CHART / "templates").is_symlink()
    assert (CRDS_CHART / "templates").resolve() == (ROOT / "crds").resolve()
    with tarfile.open(package_crds_chart(tmp_path)) as tar:
        members = tar.getmembers()
        assert all(m.isfile() for m in members), [m.name for m in members if not m.isfile()]
        templates = {m.name.removeprefix("kuantum-crds/templates/"): read_member(tar, m) for m in members
                     if m.name.startswith("kuantum-crds/templates/")}
    assert templates == {name: text.encode() for name, text in crdgen.all_crds().items()}
    assert templates == {p.name: p.read_bytes() for p in (ROOT / "crds").glob("*.yaml")}
