"""Argo CD health checks and the QuantumJob cancel action, run on Lua 5.1 (lupa) exactly as their
health_test.yaml and action_test.yaml list them, in Argo CD's sandbox (tests/support/argocd_lua.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kuantum.models import QuantumJobStatus, QuantumSessionStatus

from tests.support import argocd_lua

ROOT = argocd_lua.CUSTOMIZATIONS / "kuantum.dev"
KINDS = ["QuantumJob", "Provider", "QuantumWorkspace", "QuantumSession"]


def _load(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), path
    return loaded


def _health_cases() -> list[tuple[str, dict[str, Any]]]:
    return [(kind, test) for kind in KINDS for test in _load(ROOT / kind / "health_test.yaml")["tests"]]


@pytest.mark.parametrize(("kind", "test"), _health_cases(), ids=lambda v: v if isinstance(v, str) else v["inputPath"])
def test_health(kind: str, test: dict[str, Any]) -> None:
    obj = _load(ROOT / kind / test["inputPath"])
    assert obj["kind"] == kind
    script = (ROOT / kind / "health.lua").read_text()
    assert argocd_lua.health(script, obj) == test["healthStatus"]


@pytest.mark.parametrize("kind", KINDS)
def test_layout_and_every_testdata_file_is_tested(kind: str) -> None:
    folder = ROOT / kind
    assert (folder / "health.lua").is_file() and (folder / "health_test.yaml").is_file()
    listed = {t["inputPath"] for t in _load(folder / "health_test.yaml")["tests"]}
    present = {f"testdata/{p.name}" for p in (folder / "testdata").glob("*.yaml")}
    assert listed == present


def test_every_job_state_is_covered_and_the_verdicts_are_the_documented_ones() -> None:
    verdicts: dict[str | None, set[str]] = {}
    for test in _load(ROOT / "QuantumJob" / "health_test.yaml")["tests"]:
        obj = _load(ROOT / "QuantumJob" / test["inputPath"])
        state = (obj.get("status") or {}).get("state")
        verdicts.setdefault(state, set()).add(test["healthStatus"]["status"])
    assert verdicts == {None: {"Progressing"}, "Waiting": {"Progressing"}, "Executing": {"Progressing"},
                        "Succeeded": {"Healthy"}, "Failed": {"Degraded"}, "Cancelled": {"Suspended"}}


def test_job_testdata_is_a_valid_status() -> None:
    """The sample objects stay what the operator writes: their status validates against the model."""
    for folder in (ROOT / "QuantumJob" / "testdata", ROOT / "QuantumJob" / "actions" / "testdata"):
        for path in folder.glob("*.yaml"):
            status = _load(path).get("status")
            if status is not None:
                QuantumJobStatus.model_validate(status)


def test_every_session_state_is_covered_and_the_verdicts_match_kstatus() -> None:
    """Open sessions (Waiting, Executing, Failure(s)) are InProgress in kstatus and Progressing here; Succeeded is
    Current and Healthy; Failed is Failed (Stalled) and Degraded; TimedOut, Current like a cancelled job, is
    Suspended like one."""
    verdicts: dict[str | None, set[str]] = {}
    for test in _load(ROOT / "QuantumSession" / "health_test.yaml")["tests"]:
        obj = _load(ROOT / "QuantumSession" / test["inputPath"])
        status = obj.get("status") or {}
        if status:
            QuantumSessionStatus.model_validate(status)  # the samples stay what the operator writes
        verdicts.setdefault(status.get("state"), set()).add(test["healthStatus"]["status"])
    assert verdicts == {None: {"Progressing", "Degraded"}, "Waiting": {"Progressing"}, "Executing": {"Progressing"},
                        "Failure(s)": {"Progressing"}, "Succeeded": {"Healthy"}, "Failed": {"Degraded"},
                        "TimedOut": {"Suspended"}}


@pytest.mark.parametrize("kind", ["Provider", "QuantumWorkspace"])
def test_not_ready_is_degraded_with_the_condition_message(kind: str) -> None:
    script = (ROOT / kind / "health.lua").read_text()
    for test in _load(ROOT / kind / "health_test.yaml")["tests"]:
        obj = _load(ROOT / kind / test["inputPath"])
        ready = next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"), None)
        stale = (obj.get("status") or {}).get("observedGeneration", 0) < obj["metadata"]["generation"]
        if ready is not None and ready["status"] == "False" and not stale:
            result = argocd_lua.health(script, obj)
            assert result == {"status": "Degraded", "message": f"{ready['reason']}: {ready['message']}"}


# ------------------------------------------------------------------------------ actions
ACTIONS = ROOT / "QuantumJob" / "actions"
ACTION_TESTS = _load(ACTIONS / "action_test.yaml")


@pytest.mark.parametrize("test", ACTION_TESTS["discoveryTests"], ids=lambda t: t["inputPath"])
def test_discovery(test: dict[str, Any]) -> None:
    obj = _load(ACTIONS / test["inputPath"])
    offered = argocd_lua.discover((ACTIONS / "discovery.lua").read_text(), obj)
    assert offered == sorted(test["result"], key=lambda a: a["name"])


@pytest.mark.parametrize("test", ACTION_TESTS["actionTests"], ids=lambda t: f"{t['action']}-{t['inputPath']}")
def test_action(test: dict[str, Any]) -> None:
    obj = _load(ACTIONS / test["inputPath"])
    script = (ACTIONS / test["action"] / "action.lua").read_text()
    assert argocd_lua.run(script, obj, "action.lua") == _load(ACTIONS / test["expectedOutputPath"])


def test_cancel_only_sets_spec_cancel() -> None:
    for test in ACTION_TESTS["actionTests"]:
        before = _load(ACTIONS / test["inputPath"])
        after = _load(ACTIONS / test["expectedOutputPath"])
        state = (before.get("status") or {}).get("state")
        expected = before if state in ("Succeeded", "Failed", "Cancelled") else {
            **before, "spec": {**before["spec"], "cancel": True}}
        assert after == expected, test


def test_argocd_cm_patch_is_in_sync_with_the_scripts() -> None:
    assert argocd_lua.ARGOCD_CM_PATCH.read_text() == argocd_lua.argocd_cm_patch(), (
        "gitops/argocd/argocd-cm-patch.yaml is stale: run `.venv/bin/python -m tests.support.argocd_lua`")
    data = yaml.safe_load(argocd_lua.ARGOCD_CM_PATCH.read_text())["data"]
    assert set(data) == {*(f"resource.customizations.health.kuantum.dev_{k}" for k in KINDS),
                         "resource.customizations.actions.kuantum.dev_QuantumJob"}
    actions = yaml.safe_load(data["resource.customizations.actions.kuantum.dev_QuantumJob"])
    assert [d["name"] for d in actions["definitions"]] == ["cancel"]
    assert actions["discovery.lua"] == (ACTIONS / "discovery.lua").read_text()


def test_the_sandbox_is_argo_cds() -> None:
    """No string or math library in Argo CD's sandbox for argocd-cm scripts: the harness must refuse them too."""
    for source in ('return string.len("x")', 'return ("x"):upper()', "return math.floor(1.5)"):
        with pytest.raises(Exception, match=r"string|math|index"):
            argocd_lua.run(source, {})
