"""`helm upgrade` from chart 0.1.0 (taken from git history) to this chart, on the dev cluster.

What is exercised:
- The CRDs' upgrade path the README documents: chart 0.1.0 installs its CRDs from its `crds/` folder (Helm
  creates them once, without an owner); `helm upgrade --install kuantum-crds --take-ownership` adopts and
  updates them in place: the new schema is served, existing objects keep their uid, resourceVersion and spec,
  and `helm uninstall` of kuantum-crds keeps the CRDs (`helm.sh/resource-policy: keep`). The dev cluster is
  shared and its `kuantum.dev` CRDs are in use, so this part runs on a copy of 0.1.0's and of today's CRDs
  under a private API group (`<test namespace>.kuantum.test`, without short names or categories), which the
  test deletes at the end (it created them).
- The operator release: chart 0.1.0 installed (namespaced mode, --skip-crds: the real CRDs exist already),
  then `helm upgrade` to this chart with replicas=2: the Deployment, ServiceAccount, Roles and bindings are
  updated in place (same uids), the strategy becomes RollingUpdate, the Lease Role appears, QuantumJobs are
  untouched.
- Running jobs across the upgrade, with the real `kuantum.dev` CRDs: an operator process (as
  tests/support/operator.py runs it, standing in for the 0.1.0 pod) executes a long job and finishes a short
  one; after the upgrade it is stopped (as the rollout stops the old pod) and a new operator process starts
  as the new pod would: the chart's ServiceAccount token (so the new RBAC alone), --leader-elect with the
  chart's Lease name. The long job is still Executing on the same solver Job (nothing rerun or duplicated),
  the finished job is never written again, a job submitted after the upgrade succeeds, and the long job
  can still be cancelled.

What is not: the chart's Deployment pods run nothing here. The releases keep the chart's default image (a
registry the dev node cannot reach), so their pods stay Pending, and the operator runs as local processes
instead; the old side is today's operator code (not 0.1.0's image) with the cluster admin's credentials. The
chart's operator running its own image on the node is tests/e2e/test_helm_release.py.
"""

from __future__ import annotations

import contextlib
import copy
import io
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support import devcluster
from tests.support import quantum as q
from tests.support.helm import CHART, CRDS_CHART, ROOT, helm, service_account_kubeconfig
from tests.support.kube import kubectl, wait_for
from tests.support.operator import OperatorProcess

pytestmark = [pytest.mark.integration, pytest.mark.exclusive]
PLURALS = ("quantumjobs", "providers", "quantumworkspaces")


# ----------------------------------------------------------------------------------------------- chart 0.1.0
def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True,
                          timeout=60).stdout


def previous_chart_commit() -> str:
    """The last commit whose helm/kuantum/Chart.yaml says version 0.1.0 and whose crds/ holds Kuantum's CRDs:
    chart 0.1.0 as users installed it (CRDs in crds/, before they moved to the kuantum-crds chart)."""
    try:
        commits = _git("log", "--format=%H", "--", "helm/kuantum").split()
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"no git history to take chart 0.1.0 from: {e}")
    for commit in commits:
        try:
            chart = yaml.safe_load(_git("show", f"{commit}:helm/kuantum/Chart.yaml"))
            _git("cat-file", "-e", f"{commit}:helm/kuantum/crds/kuantum.dev_quantumjobs.yaml")
        except subprocess.CalledProcessError:
            continue
        if chart.get("version") == "0.1.0":
            return commit
    pytest.skip("chart 0.1.0 with its crds/ is not in this clone's history (shallow clone?)")


def extract(commit: str, path: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, path],
                             capture_output=True, check=True, timeout=60).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / path


def private_crd(crd: dict[str, Any], group: str) -> dict[str, Any]:
    """The same CRD under another API group, without the short names and categories the real one uses."""
    crd = copy.deepcopy(crd)
    crd["spec"]["group"] = group
    crd["metadata"]["name"] = f"{crd['spec']['names']['plural']}.{group}"
    crd["spec"]["names"].pop("shortNames", None)
    crd["spec"]["names"].pop("categories", None)
    return crd


def spec_properties(crd: dict[str, Any]) -> set[str]:
    [version] = [v for v in crd["spec"]["versions"] if v.get("storage")]
    return set(version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"])


# ----------------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def private_group(cluster: devcluster.Cluster, namespace: str) -> Iterator[str]:
    """A private API group for the CRD part; its CRDs (created by the test through Helm) deleted at the end: all of
    them, today's chart's QuantumSession CRD too (0.1.0 had none)."""
    group = f"{namespace}.kuantum.test"
    try:
        yield group
    finally:
        listed = kubectl(cluster.kubeconfig, "get", "crd", "-o", "name", check=False).stdout.split()
        ours = [name for name in listed if name.endswith(f".{group}")]
        if ours:
            kubectl(cluster.kubeconfig, "delete", *ours, "--ignore-not-found", "--wait=false", check=False)


def uid(kind: str, name: str, kubeconfig: str, namespace: str | None = None) -> str:
    args = ["-n", namespace] if namespace else []
    return str(kubectl(kubeconfig, *args, "get", kind, name, "-o", "jsonpath={.metadata.uid}").stdout)


# ----------------------------------------------------------------------------------------------- the test
def test_upgrade_from_0_1_0_updates_crds_in_place_and_keeps_jobs_running(
        cluster: devcluster.Cluster, namespace: str, private_group: str, api_client: client.ApiClient,
        core: client.CoreV1Api, azurite_connection_string: str, tmp_path: Path) -> None:
    kubeconfig, ns, group = cluster.kubeconfig, namespace, private_group
    commit = previous_chart_commit()
    old_chart = extract(commit, "helm/kuantum", tmp_path / "old")
    assert yaml.safe_load((old_chart / "Chart.yaml").read_text())["version"] == "0.1.0"
    assert yaml.safe_load((CHART / "Chart.yaml").read_text())["version"] != "0.1.0"
    custom = client.CustomObjectsApi(api_client)

    # --- CRDs, on a private group: 0.1.0's crds/ ... ------------------------------------------------------
    old_crds = {}
    for path in sorted((old_chart / "crds").glob("kuantum.dev_*.yaml")):
        crd = private_crd(yaml.safe_load(path.read_text()), group)
        old_crds[crd["spec"]["names"]["plural"]] = crd
        path.write_text(yaml.safe_dump(crd))
    assert set(old_crds) == set(PLURALS)
    new_crds_chart = tmp_path / "kuantum-crds"
    # -L: the chart's templates/ is a link to crds/; the copy gets files, which this test rewrites.
    subprocess.run(["cp", "-rL", str(CRDS_CHART), str(new_crds_chart)], check=True)
    new_crds = {}
    for path in sorted((new_crds_chart / "templates").glob("kuantum.dev_*.yaml")):
        crd = private_crd(yaml.safe_load(path.read_text()), group)
        new_crds[crd["spec"]["names"]["plural"]] = crd
        path.write_text(yaml.safe_dump(crd))
    added = spec_properties(new_crds["quantumjobs"]) - spec_properties(old_crds["quantumjobs"])
    assert added, "the schemas changed since 0.1.0 (else this test proves nothing about updating them)"

    crds_release, release = "kuantum-crds", "kuantum"
    try:
        # --- chart 0.1.0: Helm creates the (private) CRDs from crds/ ------------------------------------------
        helm("install", release, str(old_chart), "--namespace", ns, "--set", f"watchNamespaces={{{ns}}}",
             kubeconfig=kubeconfig)
        jobs_crd = f"quantumjobs.{group}"
        kubectl(kubeconfig, "wait", "--for", "condition=established", "--timeout=60s",
                *[f"crd/{plural}.{group}" for plural in PLURALS])
        installed = yaml.safe_load(kubectl(kubeconfig, "get", "crd", jobs_crd, "-o", "yaml").stdout)
        assert "meta.helm.sh/release-name" not in (installed["metadata"].get("annotations") or {}), \
            "crds/ are installed without an owner"
        assert not added & spec_properties(installed)
        crd_uids = {plural: uid("crd", f"{plural}.{group}", kubeconfig) for plural in PLURALS}
        old_object = custom.create_namespaced_custom_object(group, "v1alpha1", ns, "quantumjobs", {
            "apiVersion": f"{group}/v1alpha1", "kind": "QuantumJob", "metadata": {"name": "kept"},
            "spec": {"workspace": "ws", "provider": "microsoft-qio", "target": "microsoft.simulatedannealing.cpu",
                     "input": {"inline": q.ISING}}})

        # --- ... adopted and updated in place by the kuantum-crds chart ----------------------------------------
        refused = helm("upgrade", "--install", crds_release, str(new_crds_chart), "--namespace", ns,
                       kubeconfig=kubeconfig, check=False)
        assert refused.returncode != 0, "Helm adopts unowned CRDs only when told to"
        helm("upgrade", "--install", crds_release, str(new_crds_chart), "--namespace", ns, "--take-ownership",
             kubeconfig=kubeconfig)
        for plural in PLURALS:
            assert uid("crd", f"{plural}.{group}", kubeconfig) == crd_uids[plural], "updated in place"
        upgraded = yaml.safe_load(kubectl(kubeconfig, "get", "crd", jobs_crd, "-o", "yaml").stdout)
        assert spec_properties(upgraded) == spec_properties(new_crds["quantumjobs"])
        assert upgraded["metadata"]["annotations"]["meta.helm.sh/release-name"] == crds_release
        assert upgraded["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        kept = custom.get_namespaced_custom_object(group, "v1alpha1", ns, "quantumjobs", "kept")
        assert kept["metadata"]["uid"] == old_object["metadata"]["uid"]
        assert kept["metadata"]["resourceVersion"] == old_object["metadata"]["resourceVersion"]
        assert kept["spec"] == old_object["spec"]
        # The new schema is served: a field 0.1.0's schema pruned is kept now.
        if "id" in added:
            job_id = str(uuid.uuid4())  # containers outlive jobs: never reuse an id
            created = custom.create_namespaced_custom_object(group, "v1alpha1", ns, "quantumjobs", {
                "apiVersion": f"{group}/v1alpha1", "kind": "QuantumJob", "metadata": {"name": "with-id"},
                "spec": {**old_object["spec"], "id": job_id}})
            assert created["spec"]["id"] == job_id

        # --- the operator release, 0.1.0 -> this chart, with jobs running -------------------------------------
        _jobs_across_the_operator_upgrade(kubeconfig, ns, release, api_client, core, azurite_connection_string,
                                          tmp_path)

        # --- helm uninstall kuantum-crds keeps the CRDs and every object -------------------------------------
        helm("uninstall", crds_release, "--namespace", ns, "--timeout", "60s", kubeconfig=kubeconfig)
        for plural in PLURALS:
            assert uid("crd", f"{plural}.{group}", kubeconfig) == crd_uids[plural], "kept on uninstall"
        custom.get_namespaced_custom_object(group, "v1alpha1", ns, "quantumjobs", "kept")
    finally:
        for name in (release, crds_release):
            helm("uninstall", name, "--namespace", ns, "--timeout", "60s", kubeconfig=kubeconfig, check=False)


def _jobs_across_the_operator_upgrade(kubeconfig: str, ns: str, release: str, api_client: client.ApiClient,
                                      core: client.CoreV1Api, connection_string: str, tmp_path: Path) -> None:
    batch = client.BatchV1Api(api_client)
    fullname = f"{release}" if "kuantum" in release else f"{release}-kuantum"
    before_uids = {kind: uid(kind, name, kubeconfig, ns) for kind, name in (
        ("deployment", fullname), ("serviceaccount", fullname), ("role", f"{ns}-{fullname}"),
        ("rolebinding", f"{ns}-{fullname}"))}
    old_deployment = yaml.safe_load(kubectl(kubeconfig, "-n", ns, "get", "deployment", fullname, "-o", "yaml").stdout)
    assert old_deployment["spec"]["strategy"]["type"] == "Recreate"

    old = OperatorProcess(kubeconfig, ns, tmp_path, name="before-upgrade").start()
    new: OperatorProcess | None = None
    try:
        q.storage_secret(core, ns, connection_string)
        q.workspace(api_client, ns)
        q.long_job(api_client, ns, "running")
        q.sa_job(api_client, ns, "done")
        running = q.wait_state(api_client, ns, "running", "Executing", timeout=120)
        q.wait_state(api_client, ns, "done", "Succeeded", timeout=120)
        done_before = q.get(api_client, ns, "quantumjobs", "done")
        assert done_before is not None
        solver_jobs = batch.list_namespaced_job(ns, label_selector=f"kuantum.dev/job-id={running['id']}").items
        assert len(solver_jobs) == 1

        result = helm("upgrade", release, str(CHART), "--namespace", ns, "--set", f"watchNamespaces={{{ns}}}",
                      "--set", "replicas=2", kubeconfig=kubeconfig)
        assert "STATUS: deployed" in result.stdout
        history = helm("history", release, "--namespace", ns, "-o", "yaml", kubeconfig=kubeconfig).stdout
        assert [(h["revision"], h["chart"]) for h in yaml.safe_load(history)] == [(1, "kuantum-0.1.0"),
                                                                                  (2, "kuantum-0.2.0")]
        for kind, name in (("deployment", fullname), ("serviceaccount", fullname), ("role", f"{ns}-{fullname}"),
                           ("rolebinding", f"{ns}-{fullname}")):
            assert uid(kind, name, kubeconfig, ns) == before_uids[kind], f"{kind} {name} updated in place"
        deployment = yaml.safe_load(kubectl(kubeconfig, "-n", ns, "get", "deployment", fullname, "-o", "yaml").stdout)
        assert deployment["spec"]["strategy"]["type"] == "RollingUpdate" and deployment["spec"]["replicas"] == 2
        kubectl(kubeconfig, "-n", ns, "get", f"role/{fullname}-leader-election",
                f"rolebinding/{fullname}-leader-election")

        # The rollout replaces the old pod: stop it; the new one runs with the chart's RBAC only and elects itself.
        old.stop()
        sa_kubeconfig = service_account_kubeconfig(kubeconfig, core, ns, fullname, tmp_path / "sa.kubeconfig")
        new = OperatorProcess(str(sa_kubeconfig), ns, tmp_path, name="after-upgrade",
                              args=["--leader-elect", "--leader-elect-namespace", ns,
                                    "--leader-elect-name", fullname]).start()
        coordination = client.CoordinationV1Api(api_client)
        wait_for(lambda: _lease_holder(coordination, fullname, ns), timeout=60, what="the new operator to lead")

        q.sa_job(api_client, ns, "after")
        assert q.wait_state(api_client, ns, "after", q.FINAL, timeout=120)["state"] == "Succeeded", new.log()
        status = q.job_status(api_client, ns, "running")
        assert status["state"] == "Executing" and status["id"] == running["id"], status
        solver_jobs_after = batch.list_namespaced_job(ns, label_selector=f"kuantum.dev/job-id={running['id']}").items
        assert [j.metadata.uid for j in solver_jobs_after] == [solver_jobs[0].metadata.uid], "never rerun"
        done_after = q.get(api_client, ns, "quantumjobs", "done")
        assert done_after is not None
        assert done_after["metadata"]["resourceVersion"] == done_before["metadata"]["resourceVersion"], \
            "a finished job is never written again"

        q.patch(api_client, ns, "quantumjobs", "running", {"spec": {"cancel": True}})
        assert q.wait_state(api_client, ns, "running", q.FINAL, timeout=90)["state"] == "Cancelled"
        assert "forbidden" not in new.log().lower(), new.log()
        q.delete_all_jobs(api_client, ns)
    finally:
        if (new and new.proc and new.proc.poll() is None) or (old.proc and old.proc.poll() is None):
            with contextlib.suppress(ApiException, AssertionError):
                q.delete_all_jobs(api_client, ns)
        old.stop()
        if new is not None:
            new.stop()


def _lease_holder(api: client.CoordinationV1Api, name: str, namespace: str) -> str | None:
    try:
        lease = api.read_namespaced_lease(name, namespace)
    except ApiException as e:
        if e.status == 404:
            return None
        raise
    return (lease.spec and lease.spec.holder_identity) or None
