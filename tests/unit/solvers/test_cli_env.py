"""SAS URLs reach kuantum-solve through environment variables, never argv (issue 12, item 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kuantum_solvers import cli

from .conftest import random_problem

SA = "microsoft.simulatedannealing.cpu"
PARAMS = json.dumps({"params": {"sweeps": 20, "seed": 1}})


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    inp, out, log = tmp_path / "input.json", tmp_path / "output.json", tmp_path / "termination-log"
    inp.write_text(json.dumps(random_problem("ising", 6, seed=2)))
    monkeypatch.setenv("KUANTUM_TERMINATION_LOG", str(log))
    monkeypatch.setenv("KUANTUM_PARAMS", PARAMS)
    return inp, out, log


def _last_error(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    result: dict[str, str] = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    return result


def test_locations_from_named_environment_variables(files: tuple[Path, Path, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    inp, out, _ = files
    monkeypatch.setenv("KUANTUM_INPUT_URL", str(inp))
    monkeypatch.setenv("KUANTUM_OUTPUT_URL", str(out))
    assert cli.main(["--target", SA, "--input-url-env", "KUANTUM_INPUT_URL",
                     "--output-url-env", "KUANTUM_OUTPUT_URL"]) == 0
    assert json.loads(out.read_text())["solutions"]


def test_plain_flags_still_work_for_manual_use(files: tuple[Path, Path, Path]) -> None:
    inp, out, _ = files
    assert cli.main(["--target", SA, "--input", str(inp), "--output", str(out)]) == 0
    assert out.exists()


def test_flags_can_be_mixed(files: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    inp, out, _ = files
    monkeypatch.setenv("OUT", str(out))
    assert cli.main(["--target", SA, "--input", str(inp), "--output-url-env", "OUT"]) == 0
    assert out.exists()


@pytest.mark.parametrize("value", [None, "", "  "])
def test_unset_variable_is_an_internal_error_before_solving(files: tuple[Path, Path, Path],
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str],
                                                             value: str | None) -> None:
    inp, out, log = files
    if value is None:
        monkeypatch.delenv("KUANTUM_OUTPUT_URL", raising=False)
    else:
        monkeypatch.setenv("KUANTUM_OUTPUT_URL", value)
    rc = cli.main(["--target", SA, "--input", str(inp), "--output-url-env", "KUANTUM_OUTPUT_URL"])
    assert rc == 1  # the pod was built wrong: not the job's fault
    error = _last_error(capsys)
    assert error == {"code": "InternalError",
                     "message": "environment variable KUANTUM_OUTPUT_URL (--output-url-env) is not set"}
    assert json.loads(log.read_text()) == error
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["--input", "a", "--input-url-env", "X", "--output", "b"],
        ["--output", "b"],
        ["--input", "a"],
        ["--input", "a", "--output", "b", "--output-url-env", "Y"],
    ],
)
def test_exactly_one_source_and_one_destination(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--target", SA, *argv]) == 2
    assert _last_error(capsys)["code"] == "InvalidParameters"


def test_sas_token_is_never_echoed(files: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # A URL the blob client rejects at once (no container/blob), so no network is involved.
    monkeypatch.setenv("IN", "https://acct.blob.example/?sv=2024&sig=SECRET")
    rc = cli.main(["--target", SA, "--input-url-env", "IN", "--output", str(tmp_path / "o")])
    assert rc == 1
    err = capsys.readouterr().err
    assert "StorageError" in err and "https://acct.blob.example/" in err
    assert "SECRET" not in err and "sig=" not in err
