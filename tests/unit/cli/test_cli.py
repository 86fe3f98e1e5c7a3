"""The `kuantum` CLI without a cluster: parsing, naming, inline vs upload, formats, error lines."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kuantum.cli import main as cli
from kuantum.cli import session as cli_kube
from kuantum.cli.format import age, job_summary, jobs_table
from kuantum.cli.input import INLINE_LIMIT, CliError, inline_value, is_gzip, job_body, name_base, sanitize_name
from kubernetes.client.rest import ApiException

SUBMIT = ["submit", "p.json", "-w", "demo", "-p", "microsoft-qio", "-t", "microsoft.simulatedannealing.cpu"]


# ----------------------------------------------------------------------------- parsing
def test_submit_parses_every_option() -> None:
    args = cli.build_parser().parse_args([
        *SUBMIT, "--params", '{"params": {"sweeps": 50}}', "--name", "n1", "--input-format", "microsoft.qio.v2",
        "--priority", "High", "--timeout", "30", "--tag", "a", "--tag", "b", "--wait", "--wait-timeout", "9",
        "-n", "ns", "--kubeconfig", "/k"])
    assert args.params == {"params": {"sweeps": 50}}
    assert (args.name, args.input_format, args.priority, args.timeout) == ("n1", "microsoft.qio.v2", "High", 30)
    assert args.tags == ["a", "b"] and args.wait and args.wait_timeout == 9
    assert (args.namespace, args.kubeconfig) == ("ns", "/k")


def test_global_options_before_the_command_are_kept() -> None:
    args = cli.build_parser().parse_args(["-n", "ns", "--kubeconfig", "/k", "get"])
    assert (args.namespace, args.kubeconfig, args.name) == ("ns", "/k", None)
    args = cli.build_parser().parse_args(["-n", "ns", "get", "-n", "other", "job1"])
    assert (args.namespace, args.name) == ("other", "job1")


@pytest.mark.parametrize("argv", [
    [*SUBMIT, "--params", "[1, 2]"],
    [*SUBMIT, "--params", "{not json"],
    [*SUBMIT, "--priority", "Low"],
    [*SUBMIT, "--timeout", "0"],
    ["submit", "p.json", "-p", "x", "-t", "y"],  # no --workspace
    ["get", "-o", "table"],
    ["output"],
    ["frobnicate"],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


# ----------------------------------------------------------------------------- naming
@pytest.mark.parametrize(("text", "expected"), [
    ("Ising_Problem 01", "ising-problem-01"),
    ("--weird..name--", "weird-name"),
    ("ÜBER", "ber"),
    ("___", "job"),
    ("a" * 80, "a" * 40),
])
def test_sanitize_name_gives_dns1123_labels(text: str, expected: str) -> None:
    assert sanitize_name(text) == expected


@pytest.mark.parametrize(("path", "expected"), [
    ("/tmp/problem.json", "problem"),
    ("dir/My Problem.json.gz", "my-problem"),
    ("bell.qasm", "bell"),
    ("data.v2.bin", "data-v2-bin"),
    ("-", "job"),
    (".json", "json"),
])
def test_name_base_from_file(path: str, expected: str) -> None:
    assert name_base(path) == expected


# ----------------------------------------------------------------------------- inline vs upload
def test_small_json_object_is_inlined_as_an_object() -> None:
    problem = {"cost_function": {"type": "ising", "terms": [{"c": 1, "ids": [0, 1]}]}}
    assert inline_value(json.dumps(problem).encode()) == problem


def test_text_and_non_object_json_are_inlined_as_text() -> None:
    qasm = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0];\n'
    assert inline_value(qasm.encode()) == qasm
    assert inline_value(b"[1, 2, 3]") == "[1, 2, 3]"
    assert inline_value(b'"just a string"') == '"just a string"'


def test_large_gzip_or_binary_inputs_are_uploaded() -> None:
    assert inline_value(b"x" * INLINE_LIMIT) == "x" * INLINE_LIMIT
    assert inline_value(b"x" * (INLINE_LIMIT + 1)) is None
    assert inline_value(gzip.compress(b'{"a": 1}')) is None
    assert inline_value(b"\xff\xfe\x00binary") is None


def test_gzip_detection() -> None:
    assert is_gzip(gzip.compress(b"hello"))
    assert not is_gzip(b'{"a": 1}')
    assert not is_gzip(b"")


def test_job_body_with_name_or_generate_name() -> None:
    body = job_body(name=None, base="ising", workspace="w", provider="p", target="t",
                    job_input={"inline": {"a": 1}}, params={"params": {"sweeps": 1}}, priority="High", tags=["x"])
    assert body["apiVersion"] == "kuantum.dev/v1alpha1" and body["kind"] == "QuantumJob"
    assert body["metadata"] == {"generateName": "ising-"}
    assert body["spec"] == {"workspace": "w", "provider": "p", "target": "t", "input": {"inline": {"a": 1}},
                            "inputParams": {"params": {"sweeps": 1}}, "priority": "High", "tags": ["x"]}
    named = job_body(name="mine", base="ising", workspace="w", provider="p", target="t",
                     job_input={"blobUri": "http://x/c/b"}, timeout=60, input_format="microsoft.qio.v2")
    assert named["metadata"] == {"name": "mine"}
    assert named["spec"]["timeoutSeconds"] == 60 and named["spec"]["inputDataFormat"] == "microsoft.qio.v2"
    assert "inputParams" not in named["spec"] and "priority" not in named["spec"]


# ----------------------------------------------------------------------------- formatting
def test_age_like_kubectl() -> None:
    now = datetime(2024, 1, 10, 12, 0, 0, tzinfo=UTC)
    assert age("2024-01-10T11:59:15Z", now) == "45s"
    assert age("2024-01-10T11:55:30Z", now) == "4m30s"
    assert age("2024-01-10T11:30:00Z", now) == "30m"
    assert age("2024-01-10T07:00:00Z", now) == "5h"
    assert age("2024-01-09T00:00:00Z", now) == "36h"
    assert age("2024-01-07T10:00:00Z", now) == "3d2h"
    assert age(None, now) == "<unknown>"


def _job(name: str, state: str | None = None, workspace: str = "demo", **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "creationTimestamp": "2024-01-10T11:59:00Z"},
            "spec": {"workspace": workspace, "provider": "microsoft-qio", "target": "microsoft.qmc.cpu"},
            "status": {"state": state, "id": "id-" + name, **status} if state else {}}


def test_jobs_table() -> None:
    now = datetime(2024, 1, 10, 12, 0, 0, tzinfo=UTC)
    text = jobs_table([_job("b", "Succeeded"), _job("a"), _job("c", "Failed", workspace="other")], "demo", now)
    lines = text.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "PROVIDER", "TARGET", "ID", "AGE"]
    assert lines[1].split() == ["a", "<pending>", "microsoft-qio", "microsoft.qmc.cpu", "60s"]
    assert lines[2].split() == ["b", "Succeeded", "microsoft-qio", "microsoft.qmc.cpu", "id-b", "60s"]
    assert len(lines) == 3


def test_job_summary_shows_error_and_conditions() -> None:
    job = _job("j", "Failed", errorData={"code": "InvalidInputData", "message": "bad terms"},
               inputDataUri="http://s/job-1/inputData",
               conditions=[{"type": "Ready", "status": "False", "reason": "Failed", "message": "the job failed"}])
    text = job_summary(job)
    assert "State:" in text and "Failed" in text
    assert "Error:" in text and "InvalidInputData: bad terms" in text
    assert "http://s/job-1/inputData" in text
    assert "Conditions:" in text and "the job failed" in text
    assert "Output data" not in text


def test_output_refusal_names_the_state() -> None:
    failed = _job("j", "Failed", errorData={"code": "Timeout", "message": "ran too long"})
    assert cli.not_succeeded_message(failed) == "job j Failed: Timeout: ran too long; it has no output"
    assert "Cancelled" in cli.not_succeeded_message(_job("j", "Cancelled"))
    assert "is Executing" in cli.not_succeeded_message(_job("j", "Executing"))


def test_decompress_only_gzip() -> None:
    assert cli.decompress(gzip.compress(b'{"cost": 1}')) == b'{"cost": 1}'
    assert cli.decompress(b'{"cost": 1}') == b'{"cost": 1}'
    with pytest.raises(CliError):
        cli.decompress(b"\x1f\x8bnot really gzip")


# ----------------------------------------------------------------------------- errors
def test_api_exception_becomes_its_message() -> None:
    e = ApiException(status=422, reason="Unprocessable Entity")
    e.body = json.dumps({"kind": "Status", "message": 'QuantumJob.kuantum.dev "Bad" is invalid: metadata.name'})
    assert cli.error_message(e) == 'QuantumJob.kuantum.dev "Bad" is invalid: metadata.name'
    assert cli.error_message(ApiException(status=500, reason="Internal Server Error")) == "500 Internal Server Error"
    refused = urllib3.exceptions.MaxRetryError(None, "/api", reason=OSError("Connection refused"))  # type: ignore[arg-type]
    assert cli.error_message(refused) == "cannot reach the API server: Connection refused"
    assert cli.error_message(CliError("two\n  lines")) == "two lines"


def test_missing_kubeconfig_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["get", "--kubeconfig", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert err == f"kuantum: error: kubeconfig {tmp_path / 'nope'} does not exist\n"


def test_no_kubeconfig_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli.main(["get"]) == 1
    assert capsys.readouterr().err == "kuantum: error: no kubeconfig: pass --kubeconfig or set KUBECONFIG\n"


def test_namespace_defaults_to_the_context_s(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u", "namespace": "team-a"}},
                     {"name": "b", "context": {"cluster": "c", "user": "u"}}]}))
    assert cli_kube.connect(str(kubeconfig), None, None).namespace == "team-a"
    assert cli_kube.connect(str(kubeconfig), "b", None).namespace == "default"
    assert cli_kube.connect(str(kubeconfig), None, "mine").namespace == "mine"
    with pytest.raises(CliError, match="context 'zzz'"):
        cli_kube.connect(str(kubeconfig), "zzz", None)


def test_unreadable_input_file_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "connect", lambda *_: cli_kube.Session(None, "ns"))
    missing = tmp_path / "missing.json"
    assert cli.main(["submit", str(missing), "-w", "w", "-p", "p", "-t", "t"]) == 1
    assert capsys.readouterr().err == f"kuantum: error: cannot read {missing}: No such file or directory\n"


def test_wait_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeSession:
        def get(self, plural: str, name: str) -> dict[str, Any]:
            return _job(name, "Executing")

    ticks = iter(range(100))
    monkeypatch.setattr(cli.time, "sleep", lambda _s: None)
    with pytest.raises(CliError, match=r"timed out after 5s waiting for job j \(state: Executing\)"):
        cli.wait_final(FakeSession(), "j", 5, clock=lambda: float(next(ticks)))


def test_the_cli_loads_the_azure_storage_sdk_only_for_commands_that_use_storage() -> None:
    """`kuantum get` and friends start without the Azure SDK (about half a second of imports): `submit` with a
    file and `output` import it when they reach storage."""
    code = ("import sys, kuantum.cli.main; "
            "print(sorted(m for m in ('azure.storage.blob', 'aiohttp') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr
