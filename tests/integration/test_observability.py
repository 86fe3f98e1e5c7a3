"""Observability, for real: the chart's Grafana dashboard and PrometheusRule (rendered with helm, off by default),
promtool's checks and unit tests of the alerts (tests/prometheus/alerts.test.yaml), and a Prometheus (Debian's
package, on 127.0.0.1, stopped by its PID) scraping an operator and a gateway during a small run of jobs: every
panel's query, every variable's and every alert's expression is valid, and every panel returns data (a failing job
fills the failure panel).

One SDK submission, one trace: the gateway's request, the operator's reconciles and the solver pod's phases, sent
to an OTLP/HTTP receiver in this process (on the dev node's address, where the solver pod reaches it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.support import devcluster
from tests.support import quantum as q
from tests.support.helm import CHART, by_kind, render
from tests.support.kube import wait_for
from tests.support.operator import OperatorProcess, free_port
from tests.support.otlp import Receiver
from tests.support.processes import stop

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ALERT_TESTS = ROOT / "tests" / "prometheus" / "alerts.test.yaml"
SA = "microsoft.simulatedannealing.cpu"
KEY = "key-" + uuid.uuid4().hex
# The chart's defaults for release "kuantum": the scrape jobs its rules name (the Services a ServiceMonitor scrapes).
OPERATOR_JOB, GATEWAY_JOB = "kuantum-metrics", "kuantum-gateway-metrics"
ALERTS = {"KuantumOperatorDown", "KuantumNoLeader", "KuantumReconcileErrors", "KuantumQueueStalled",
          "KuantumJobFailureRateHigh", "KuantumProviderTargetUnavailable", "KuantumProviderCredentialsRejected",
          "KuantumJobsStuckExecuting", "KuantumGatewayDown", "KuantumGatewayErrors"}


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: bash hack/install-tools.sh installs it (apt prometheus)")
    return found


def enabled() -> list[dict[str, Any]]:
    return render("--set", "metrics.dashboard.enabled=true", "--set", "metrics.prometheusRule.enabled=true",
                  "--set", "gateway.enabled=true", "--set", "metrics.serviceMonitor.enabled=true",
                  "--set", "tracing.otlpEndpoint=http://otel-collector.monitoring:4318")


def dashboard(docs: list[dict[str, Any]]) -> dict[str, Any]:
    [config_map] = [d for d in by_kind(docs, "ConfigMap") if "kuantum.json" in d.get("data", {})]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    found: dict[str, Any] = json.loads(config_map["data"]["kuantum.json"])
    return found


def rule_groups(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    [rule] = by_kind(docs, "PrometheusRule")
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def panels(dash: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dash["panels"] if p["type"] != "row"]


# ----------------------------------------------------------------------------------------------- rendering
def test_dashboard_rules_and_tracing_render_only_when_asked() -> None:
    plain = render("--set", "gateway.enabled=true")
    assert not by_kind(plain, "PrometheusRule")
    assert not [d for d in by_kind(plain, "ConfigMap") if "grafana_dashboard" in d["metadata"].get("labels", {})]
    assert all(e["name"] != "OTEL_EXPORTER_OTLP_ENDPOINT" for d in by_kind(plain, "Deployment")
               for c in d["spec"]["template"]["spec"]["containers"] for e in c.get("env") or [])

    docs = enabled()
    dash = dashboard(docs)
    assert [v["name"] for v in dash["templating"]["list"]] == ["datasource", "namespace", "workspace", "provider",
                                                              "target"]
    titles = " | ".join(p["title"] for p in panels(dash))
    for wanted in ("Jobs by state", "Jobs by target", "Queue depth", "Queue wait p50 / p99", "Execution time",
                   "Failures by error code", "Throughput", "Reconcile latency", "Reconcile errors",
                   "Work-queue depth", "API writes", "Operator memory", "Operator CPU", "Leader",
                   "Gateway requests", "Gateway latency", "Gateway errors", "Provider request errors",
                   "Provider request retries"):
        assert wanted in titles, wanted
    assert {r["alert"] for g in rule_groups(docs) for r in g["rules"]} == ALERTS
    # The gateway's metrics: their own port and Service, scraped by a ServiceMonitor of their own; the operator's
    # ServiceMonitor keeps the metrics' own namespace label.
    monitors = {m["metadata"]["name"]: m for m in by_kind(docs, "ServiceMonitor")}
    assert monitors["kuantum"]["spec"]["endpoints"][0]["honorLabels"] is True
    services = {s["metadata"]["name"]: s for s in by_kind(docs, "Service")}
    assert services["kuantum-gateway-metrics"]["spec"]["ports"][0]["port"] == 9480
    selector = monitors["kuantum-gateway"]["spec"]["selector"]["matchLabels"]
    assert all(services["kuantum-gateway-metrics"]["metadata"]["labels"].get(k) == v for k, v in selector.items())
    for deployment in by_kind(docs, "Deployment"):
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container.get("env") or []}
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.monitoring:4318", deployment["metadata"]
    # The sidecar's label and namespace are values; unknown keys are refused by the schema.
    moved = render("--set", "metrics.dashboard.enabled=true", "--set", "metrics.dashboard.namespace=grafana",
                   "--set", "metrics.dashboard.labels.grafana_dashboard=kuantum")
    [config_map] = [d for d in by_kind(moved, "ConfigMap") if "kuantum.json" in d.get("data", {})]
    assert config_map["metadata"]["namespace"] == "grafana"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "kuantum"
    from tests.support.helm import helm

    refused = helm("template", "x", str(CHART), "--set", "metrics.prometheusRule.jobFailureRatio=2", check=False)
    assert refused.returncode != 0 and "jobFailureRatio" in refused.stderr


def write_rules(directory: Path) -> Path:
    path = directory / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule_groups(enabled())}, sort_keys=False))
    return path


def test_promtool_checks_and_unit_tests_the_alert_rules(tmp_path: Path) -> None:
    promtool = _tool("promtool")
    rules = write_rules(tmp_path)
    checked = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and f"SUCCESS: {len(ALERTS)} rules found" in checked.stdout, checked
    shutil.copy(ALERT_TESTS, tmp_path / ALERT_TESTS.name)
    tested = subprocess.run([promtool, "test", "rules", ALERT_TESTS.name], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr
    # Every alert of the chart has a test that fires it.
    cases = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    fired = {t["alertname"] for case in cases for t in case["alert_rule_test"] if t["exp_alerts"]}
    assert fired == ALERTS


# ----------------------------------------------------------------------------------------------- processes
class GatewayProcess:
    """kuantum-gateway with its metrics on a port of their own, stopped by its PID."""

    def __init__(self, kubeconfig: str, namespace: str, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port, self.metrics_port = free_port(), free_port()
        self.log_path = log_dir / "gateway.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from kuantum.gateway.app import main; main()", "--listen",
                 f"127.0.0.1:{self.port}", "--metrics-listen", f"127.0.0.1:{self.metrics_port}",
                 "--kubeconfig", kubeconfig, "-n", namespace],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        wait_for(lambda: _get(f"{self.url}readyz") is not None, timeout=60, interval=0.2, what="gateway ready")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        stop(self.proc, grace=15)


class Prometheus:
    """Debian's Prometheus on 127.0.0.1, scraping the given targets every second, with the chart's rules."""

    def __init__(self, workdir: Path, operator: int, gateway: int, rules: Path) -> None:
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [
                {"job_name": OPERATOR_JOB, "honor_labels": True,
                 "static_configs": [{"targets": [f"127.0.0.1:{operator}"]}]},
                {"job_name": GATEWAY_JOB, "static_configs": [{"targets": [f"127.0.0.1:{gateway}"]}]}],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log_path = workdir / "prometheus.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [_tool("prometheus"), f"--config.file={workdir / 'prometheus.yml'}",
                 f"--storage.tsdb.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                 "--web.enable-lifecycle"], stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: _get(f"{self.url}/-/ready") is not None, timeout=60, interval=0.25, what="prometheus ready")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str, **params: Any) -> dict[str, Any]:
        query = urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=30) as resp:
            answer: dict[str, Any] = json.loads(resp.read())
        return answer

    def query(self, expr: str, **params: Any) -> dict[str, Any]:
        """POST, so that a bad expression's 400 comes back as Prometheus' error, not an exception."""
        data = urllib.parse.urlencode({"query": expr, **params}).encode()
        path = "query_range" if "start" in params else "query"
        request = urllib.request.Request(f"{self.url}/api/v1/{path}", data=data, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                answer: dict[str, Any] = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            answer = json.loads(e.read() or b"{}") or {"status": "error", "error": str(e)}
        return answer

    def stop(self) -> None:
        stop(self.proc, grace=15)


def _get(url: str, headers: dict[str, str] | None = None) -> bytes | None:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as resp:
            return bytes(resp.read())
    except OSError:
        return None


def _workspace(api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, storage: str) -> None:
    q.storage_secret(core, namespace, storage)
    core.create_namespaced_secret(namespace, {"metadata": {"name": "ws-api"},  # type: ignore[arg-type]
                                              "stringData": {"key": KEY}})
    q.create(api_client, namespace, "quantumworkspaces", {
        "kind": "QuantumWorkspace", "metadata": {"name": "ws"},
        "spec": {"storage": {"connectionStringSecretRef": {"name": "storage", "key": "connectionString"}},
                 "gateway": {"apiKeySecretRef": {"name": "ws-api", "key": "key"}}}})

    def ready() -> bool:
        obj = q.get(api_client, namespace, "quantumworkspaces", "ws") or {}
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (obj.get("status") or {}).get("conditions") or [])
    wait_for(ready, timeout=90, what="workspace ws Ready")


def substitute(expr: str, rate_interval: str = "30s") -> str:
    """A dashboard query as Grafana sends it with every variable at All."""
    for variable in ("namespace", "workspace", "provider", "target"):
        expr = expr.replace(f"${variable}", ".*")
    return expr.replace("$__rate_interval", rate_interval).replace("$__range", "10m")


def variable_query(definition: str) -> str:
    """Grafana's label_values(METRIC{SELECTOR}, LABEL) as the PromQL that answers it."""
    match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", definition)
    assert match, definition
    return f"count by ({match[2]}) ({substitute(match[1])})"


# ----------------------------------------------------------------------------------------------- Prometheus
@pytest.fixture
def scraped(cluster: devcluster.Cluster, api_client: client.ApiClient, core: client.CoreV1Api, namespace: str,
            azurite_connection_string: str, operator: OperatorProcess, tmp_path: Path
            ) -> Iterator[tuple[Prometheus, GatewayProcess]]:
    _workspace(api_client, core, namespace, azurite_connection_string)
    gateway = GatewayProcess(cluster.kubeconfig, namespace, tmp_path)
    prometheus = None
    try:
        prometheus = Prometheus(tmp_path, operator.metrics_port, gateway.metrics_port, write_rules(tmp_path))
        yield prometheus, gateway
    finally:
        if prometheus is not None:
            prometheus.stop()
        gateway.stop()


def test_prometheus_scrapes_operator_and_gateway_and_every_panel_and_alert_evaluates(
        scraped: tuple[Prometheus, GatewayProcess], api_client: client.ApiClient, namespace: str) -> None:
    prometheus, gateway = scraped
    start = time.time()

    def targets_up() -> bool:
        active = prometheus.api("targets")["data"]["activeTargets"]
        return len(active) == 2 and all(t["health"] == "up" for t in active)
    wait_for(targets_up, timeout=60, interval=0.5, what="both targets scraped")

    # A small run: three jobs that succeed, one that fails (sweeps 0: InvalidParameters), and the gateway's API
    # answering a listing, a job and a job it does not know.
    for i in range(3):
        q.sa_job(api_client, namespace, f"ok-{i}", sweeps=20)
    q.sa_job(api_client, namespace, "bad", sweeps=0)
    base = f"{gateway.url}subscriptions/x/resourceGroups/{namespace}/providers/Microsoft.Quantum/workspaces/ws"
    headers = {"x-ms-quantum-api-key": KEY}
    for i in range(3):
        q.wait_state(api_client, namespace, f"ok-{i}", "Succeeded")
    q.wait_state(api_client, namespace, "bad", "Failed")
    assert _get(f"{base}/jobs?api-version=2024-03-01-preview", headers) is not None
    assert _get(f"{base}/jobs/{uuid.uuid4()}?api-version=2024-03-01-preview", headers) is None  # 404

    def failure_scraped() -> bool:
        found = prometheus.query('kuantum_job_failures_total{code="InvalidParameters"}')
        return bool(found["data"]["result"])
    wait_for(failure_scraped, timeout=60, interval=0.5, what="the failure scraped")
    wait_for(lambda: prometheus.query("kuantum_gateway_requests_total{code=\"404\"}")["data"]["result"],
             timeout=30, interval=0.5, what="the gateway's answers scraped")
    time.sleep(3)  # a few more scrapes: every rate has two samples after the last change

    dash = dashboard(enabled())
    window = {"start": f"{start:.3f}", "end": f"{time.time():.3f}", "step": "2"}
    empty, invalid = [], []
    for panel in panels(dash):
        results = []
        for target in panel["targets"]:
            answer = prometheus.query(substitute(target["expr"]), **window)
            if answer.get("status") != "success":
                invalid.append(f"{panel['title']}: {target['expr']}: {answer.get('error')}")
                continue
            results.append(answer["data"]["result"])
        if not any(results):
            empty.append(panel["title"])
        if panel["title"] == "Failures by error code":
            codes = {series["metric"].get("code") for series in results[0]}
            assert codes == {"InvalidParameters"}, results[0]
    assert not invalid, "\n".join(invalid)
    assert not empty, f"panels without data: {empty}"

    for variable in dash["templating"]["list"][1:]:
        answer = prometheus.query(variable_query(variable["definition"]))
        assert answer["status"] == "success" and answer["data"]["result"], variable
        values = {series["metric"][variable["name"]] for series in answer["data"]["result"]}
        expected = {"namespace": namespace, "workspace": "ws", "provider": "microsoft-qio", "target": SA}
        assert expected[variable["name"]] in values, (variable["name"], values)

    # Every alert expression is valid PromQL and Prometheus evaluates each rule without an error.
    groups = rule_groups(enabled())
    for rule in (r for g in groups for r in g["rules"]):
        answer = prometheus.query(rule["expr"])
        assert answer["status"] == "success", (rule["alert"], answer.get("error"))

    def evaluated() -> list[dict[str, Any]] | None:
        rules = [r for g in prometheus.api("rules")["data"]["groups"] for r in g["rules"]]
        return rules if len(rules) == len(ALERTS) and all(r.get("lastEvaluation", "").startswith("20")
                                                          for r in rules) else None
    rules = wait_for(evaluated, timeout=30, interval=0.5, what="every rule evaluated")
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]
    # Nothing pages on a healthy run (the failing job alone stays under the failure alert's minimum).
    firing = [a for a in prometheus.api("alerts")["data"]["alerts"] if a["state"] == "firing"]
    assert not firing, firing


# ----------------------------------------------------------------------------------------------- traces
def test_one_sdk_submission_is_one_trace_through_gateway_operator_and_solver(
        cluster: devcluster.Cluster, api_client: client.ApiClient, core: client.CoreV1Api, namespace: str,
        azurite_connection_string: str, tmp_path: Path) -> None:
    """The azure-quantum SDK submits a QIO job through the gateway; its PUT's span, the operator's reconciles and
    the solver pod's phases are one trace (the job's annotation), from three services."""
    import gzip

    from azure.core.credentials import AzureKeyCredential
    from azure.quantum import Workspace
    from azure.quantum.target import Target

    host = devcluster._shell_value("NODE_IP")  # the solver pod reaches the receiver here; so do the processes
    with Receiver(host) as receiver:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        operator = OperatorProcess(cluster.kubeconfig, namespace, tmp_path, env=env).start()
        gateway = None
        try:
            _workspace(api_client, core, namespace, azurite_connection_string)
            gateway = GatewayProcess(cluster.kubeconfig, namespace, tmp_path, env=env)
            ws = Workspace(subscription_id="00000000-0000-0000-0000-000000000000", resource_group=namespace,
                           name="ws", location="eastus", credential=AzureKeyCredential(KEY),
                           _quantum_endpoint=gateway.url, _from_connection_string=True)
            target = Target(ws, SA, input_data_format="microsoft.qio.v2",
                            output_data_format="microsoft.qio-results.v2", provider_id="microsoft-qio",
                            encoding="gzip")
            job = target.submit(gzip.compress(json.dumps(q.ISING).encode()), name="traced",
                                input_params={"params": {"sweeps": 20, "seed": 1}})
            job.wait_until_completed(timeout_secs=180)
            assert job.details.status == "Succeeded"
            obj = q.get(api_client, namespace, "quantumjobs", job.id) or {}
            trace_id = obj["metadata"]["annotations"]["kuantum.dev/traceparent"].split("-")[1]

            def complete() -> bool:
                names = {(s.service, s.name) for s in receiver.of_trace(trace_id)}
                return {("kuantum-solver", p) for p in ("download", "solve", "upload")} <= names \
                    and any(s == "kuantum-operator" for s, _ in names)
            wait_for(complete, timeout=60, interval=0.5, what="the solver's and the operator's spans")
        finally:
            if gateway is not None:
                gateway.stop()  # flushes its spans
            q.delete_all_jobs(api_client, namespace)
            operator.stop()
        spans = receiver.of_trace(trace_id)
        services = {s.service for s in spans}
        assert services == {"kuantum-gateway", "kuantum-operator", "kuantum-solver"}, spans
        by_id = {s.span_id: s for s in spans}
        [put] = [s for s in spans if s.service == "kuantum-gateway"]
        assert put.name.startswith("PUT ") and put.parent_id == "", "the SDK sent no traceparent: the PUT is the root"
        reconciles = [s for s in spans if s.name == "reconcile QuantumJob"]
        assert reconciles and all(s.parent_id == put.span_id for s in reconciles)
        [solve] = [s for s in spans if s.name == "kuantum-solve"]
        assert by_id[solve.parent_id].name == "reconcile QuantumJob", "the pod continues the reconcile that launched it"
        assert all(not s.error for s in spans), [s for s in spans if s.error]
        assert not [s for s in receiver.spans if s.trace_id != trace_id and s.name == "reconcile QuantumJob"], \
            "every reconcile of the job is in its trace"
