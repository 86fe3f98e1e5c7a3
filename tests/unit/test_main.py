"""kuantum.main.run: Kopf runs standalone and cluster-wide for its own part (the webhook, the probes; it watches
nothing of ours, the informers do), and an error that ends Kopf ends the operator: nothing starts the process
again from inside it (its Deployment restarts a pod that exits). Outliving an API server restart, CRDs answered
404 included, is the informers' (tests/unit/runtime/test_informer.py)."""

from __future__ import annotations

from typing import Any

import pytest
from kuantum import main


def _run_with(monkeypatch: pytest.MonkeyPatch, kopf_run: Any) -> list[list[str]]:
    execs: list[list[str]] = []
    monkeypatch.setattr(main.kopf, "run", kopf_run)
    monkeypatch.setattr(main.os, "execv", lambda path, argv: execs.append(list(argv)))
    monkeypatch.setattr(main.logconfig, "configure", lambda *_: None)
    monkeypatch.setattr(main, "_state", {})
    main.run(["-n", "somewhere", "--metrics-port", "0", "--liveness", "http://127.0.0.1:8081/healthz"])
    return execs


def test_kopf_runs_standalone_without_namespaces_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    execs = _run_with(monkeypatch, lambda **kwargs: calls.append(kwargs))
    assert calls == [{"standalone": True, "clusterwide": True, "liveness_endpoint": "http://127.0.0.1:8081/healthz"}]
    assert main._namespaces() == ["somewhere"], "the informers serve the -n values"
    assert execs == []


def test_an_error_that_ends_kopf_ends_the_operator_and_nothing_execs_it_again(monkeypatch: pytest.MonkeyPatch) -> None:
    execs: list[list[str]] = []

    def failing(**_: Any) -> None:
        raise RuntimeError("Kopf stopped")
    with pytest.raises(RuntimeError, match="Kopf stopped"):
        execs = _run_with(monkeypatch, failing)
    assert execs == []


def test_kopfs_own_command_line_takes_the_namespace_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`kopf run -m kuantum.main` never calls run(): the namespace comes from $KUANTUM_NAMESPACE, else all."""
    monkeypatch.setattr(main, "_state", {})
    monkeypatch.setenv(main.NAMESPACE_ENV, "team-a")
    assert main._namespaces() == ["team-a"]
    monkeypatch.delenv(main.NAMESPACE_ENV)
    assert main._namespaces() == []


def test_the_liveness_probe_reports_the_watches_and_never_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(main, "_state", {})
    assert main.watches() == {}

    class Informers:
        @staticmethod
        def state() -> dict[str, Any]:
            return {"quantumjobs in ns": {"synced": True, "failures": 3, "error": "API server answered 404"}}
    monkeypatch.setattr(main, "_state", {"controller": type("C", (), {"informers": Informers()})()})
    assert main.watches() == {"quantumjobs in ns": {"synced": True, "failures": 3, "error": "API server answered 404"}}


@pytest.mark.parametrize(("args", "name"), [
    ([], "kuantum-cluster.kuantum.dev"),
    (["-n", "team-a", "-n", "team-b"], "kuantum-team-a-team-b.kuantum.dev"),
    (["-n", "!t-*,!bench-*", "--webhook-config-name", "kuantum-cluster.kuantum.dev"], "kuantum-cluster.kuantum.dev"),
])
def test_the_webhook_configuration_is_the_one_named_else_one_per_scope(
    monkeypatch: pytest.MonkeyPatch, args: list[str], name: str
) -> None:
    """The chart names the configurations it made and lets the operator patch; an operator with a pattern (the
    chart's excludeNamespaces) managed one of its own name before, which its RBAC forbade: it exited and restarted."""
    monkeypatch.setattr(main.kopf, "run", lambda **_: None)
    monkeypatch.setattr(main.logconfig, "configure", lambda *_: None)
    monkeypatch.setattr(main, "_state", {})
    monkeypatch.setattr(main.kopf.on, "validate", lambda *a, **k: (lambda fn: fn))
    main.run([*args, "--webhook-port", "9443", "--metrics-port", "0", "--liveness", ""])
    assert main._state["webhook_name"] == name
    assert main.webhook_config_name(["!t-*,!bench-*"]).startswith("kuantum-ns-")
