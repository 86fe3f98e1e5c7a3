"""The pod contract end to end, one module on both sides (kuantum_solvers.formats.contract): the solver reads the
pod the operator builds (arguments, and the environment its Secret fills), and the operator reads back the
termination message the solver leaves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kuantum.catalog import targets_of
from kuantum.execution.pod import backend, builders
from kuantum_solvers import cli
from kuantum_solvers.formats import contract

JOB_ID = "0b0c6f6e-7d55-5d1e-9c55-2f5d2c3f6a01"
SA = "microsoft.simulatedannealing.cpu"
QJOB: dict[str, Any] = {
    "apiVersion": "kuantum.dev/v1alpha1", "kind": "QuantumJob",
    "metadata": {"name": "my-job", "namespace": "team-a", "uid": "5f1c3c9e-0000-4000-8000-000000000001"},
    "spec": {"workspace": "ws", "provider": "microsoft-qio", "target": SA, "input": {"inline": {}}},
}
PROBLEM = {"cost_function": {"version": "1.0", "type": "ising",
                             "terms": [{"c": 1, "ids": [0, 1]}, {"c": -1, "ids": [1, 2]}]}}


def _run_pod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problem: Any) -> tuple[int, Path, Path]:
    """kuantum-solve as the operator's pod runs it: its args, and its environment resolved from its Secret."""
    inp, out, log = tmp_path / "input.json", tmp_path / "output.json", tmp_path / "termination-log"
    inp.write_text(json.dumps(problem))
    params = {"params": {"sweeps": 10, "seed": 3}}
    job = builders.solver_job(QJOB, JOB_ID, targets_of("microsoft-qio")[SA], "img", "microsoft.qio.v2",
                              "microsoft.qio-results.v2", None, "1", "1Gi")
    secret = builders.sas_secret(QJOB, JOB_ID, str(inp), str(out), params)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    for env in container["env"]:
        ref = env["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"]
        monkeypatch.setenv(env["name"], secret["stringData"][ref["key"]])
    monkeypatch.setenv("KUANTUM_TERMINATION_LOG", str(log))
    assert container["args"] == contract.solver_args(SA, "microsoft.qio.v2", "microsoft.qio-results.v2")
    assert {e["name"] for e in container["env"]} == {contract.INPUT_URL_ENV, contract.OUTPUT_URL_ENV,
                                                     contract.PARAMS_ENV}
    return cli.main(container["args"]), out, log


def test_the_solver_runs_the_pod_the_operator_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, log = _run_pod(tmp_path, monkeypatch, PROBLEM)
    assert code == 0 and not log.exists()
    assert json.loads(out.read_text())["solutions"]


def test_the_operator_reads_the_solvers_termination_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, log = _run_pod(tmp_path, monkeypatch, {"cost_function": {"type": "ising"}})
    assert code == 2 and not out.exists()
    parsed = backend.parse_termination_message(log.read_text())
    assert parsed is not None and parsed[0] == "InvalidInputData"
    # The same line ends stderr, where terminationMessagePolicy: FallbackToLogsOnError finds it.
    assert backend.parse_termination_message(capsys.readouterr().err) == parsed


def test_a_long_message_is_cut_to_what_kubernetes_keeps() -> None:
    line = contract.termination_message("InvalidInputData", "x" * 10_000)
    assert len(line.encode()) < 4096
    parsed = contract.parse_termination_message(f"log line\n{line}")
    assert parsed is not None and parsed[0] == "InvalidInputData"
    assert parsed[1].endswith("…") and set(parsed[1][:-1]) == {"x"} and len(parsed[1]) > 3900
