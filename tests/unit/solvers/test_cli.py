"""`kuantum-solve` end to end as a subprocess, with local files (the contract the operator's pods use)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kuantum_solvers.qio.problem import parse_problem

from .conftest import brute_force, cost_of, random_problem

SA = "microsoft.simulatedannealing.cpu"


def _run(tmp_path: Path, target: str, data: bytes | None, *extra: str,
         env: dict[str, str] | None = None, input_name: str = "input") -> tuple[int, Path, list[str], Path]:
    inp = tmp_path / input_name
    if data is not None:
        inp.write_bytes(data)
    out = tmp_path / "output.json"
    log = tmp_path / "termination-log"
    full_env = {**os.environ, "KUANTUM_TERMINATION_LOG": str(log), **(env or {})}
    if env is None or "KUANTUM_PARAMS" not in env:
        full_env.pop("KUANTUM_PARAMS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "kuantum_solvers", "--target", target, "--input", str(inp), "--output", str(out),
         *extra],
        capture_output=True, text=True, env=full_env, timeout=300, check=False,
    )
    return proc.returncode, out, proc.stderr.strip().splitlines(), log


def _assert_error(result: tuple[int, Path, list[str], Path], code: str, exit_code: int, fragment: str) -> None:
    rc, out, stderr, log = result
    assert rc == exit_code, stderr
    assert not out.exists(), "no output may be written on error"
    last = json.loads(stderr[-1])
    assert last["code"] == code
    assert fragment in last["message"]
    assert json.loads(log.read_text()) == last


def _problem() -> bytes:
    return json.dumps(random_problem("ising", 8, seed=3)).encode()


def test_sa_gzip_input_succeeds(tmp_path: Path) -> None:
    rc, out, stderr, log = _run(tmp_path, SA, gzip.compress(_problem()),
                                "--params", json.dumps({"params": {"sweeps": 100, "seed": 1}}))
    assert rc == 0, stderr
    result = json.loads(out.read_text())
    assert result["version"] == "1.0" and result["parameters"]["sweeps"] == 100
    doc = json.loads(_problem())
    assert cost_of(doc, result["configuration"]) == pytest.approx(result["cost"], abs=1e-9)
    assert result["cost"] == pytest.approx(brute_force(parse_problem(doc)), abs=1e-9)
    assert result["solutions"][0] == {"configuration": result["configuration"], "cost": result["cost"]}
    assert not log.exists()


def test_params_from_environment(tmp_path: Path) -> None:
    rc, out, stderr, _ = _run(tmp_path, SA, _problem(),
                              env={"KUANTUM_PARAMS": json.dumps({"params": {"sweeps": 7, "seed": 2}})})
    assert rc == 0, stderr
    assert json.loads(out.read_text())["parameters"]["sweeps"] == 7


def test_simulator_qasm_and_ionq(tmp_path: Path) -> None:
    qasm = b'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
    rc, out, stderr, _ = _run(tmp_path, "kuantum.simulator", qasm, "--input-format", "honeywell.openqasm.v1",
                              "--params", '{"count": 10, "seed": 4}')
    assert rc == 0, stderr
    shots = json.loads(out.read_text())["c"]
    assert len(shots) == 10 and set(shots) <= {"00", "11"}
    circuit = {"qubits": 2, "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]}
    rc, out, stderr, _ = _run(tmp_path, "kuantum.simulator", gzip.compress(json.dumps(circuit).encode()),
                              "--input-format", "ionq.circuit.v1", "--output-format", "ionq.quantum-results.v1")
    assert rc == 0, stderr
    assert json.loads(out.read_text())["histogram"].keys() == {"0", "3"}


@pytest.mark.parametrize(
    ("target", "data", "args", "code", "exit_code", "fragment"),
    [
        (SA, b"{not json", (), "InvalidInputData", 2, "input is not valid JSON"),
        (SA, json.dumps({"cost_function": {"type": "ising", "terms": [{"c": 1, "ids": ["a"]}]}}).encode(), (),
         "InvalidInputData", 2, "term 0: ids must be integers, got 'a'"),
        (SA, b"{}", ("--params", '{"params": {"sweeps": 0}}'), "InvalidParameters", 2, "'sweeps'=0 is out of range"),
        (SA, b"{}", ("--params", '{"params": {"temperature": 1}}'), "InvalidParameters", 2, "['temperature']"),
        (SA, b"{}", ("--params", "{oops"), "InvalidParameters", 2, "params are not valid JSON"),
        ("microsoft.bogus.cpu", b"{}", (), "UnknownTarget", 2, "unknown target 'microsoft.bogus.cpu'"),
        (SA, b"{}", ("--input-format", "ionq.circuit.v1"), "InvalidInputFormat", 2, "does not accept input format"),
        ("kuantum.simulator", b"{}", ("--input-format", "ionq.circuit.v1", "--output-format",
                                      "honeywell.quantum-results.v1"), "InvalidInputFormat", 2, "writes"),
        ("kuantum.simulator", b"OPENQASM 2.0;\nqreg q[1];\nfoo q[0];\n", ("--input-format", "honeywell.openqasm.v1"),
         "InvalidInputData", 2, "unknown gate 'foo'"),
        ("kuantum.simulator", b"\x1f\x8b not really gzip", (), "InvalidInputData", 2, "cannot be decompressed"),
    ],
)
def test_errors(tmp_path: Path, target: str, data: bytes, args: tuple[str, ...], code: str, exit_code: int,
                fragment: str) -> None:
    _assert_error(_run(tmp_path, target, data, *args), code, exit_code, fragment)


def test_input_not_found(tmp_path: Path) -> None:
    _assert_error(_run(tmp_path, SA, None, input_name="missing.json"), "InputNotFound", 2, "does not exist")


def test_insufficient_memory(tmp_path: Path) -> None:
    circuit = json.dumps({"qubits": 30, "circuit": [{"gate": "h", "target": 0}]}).encode()
    result = _run(tmp_path, "kuantum.simulator", circuit, env={"KUANTUM_MEMORY_LIMIT_BYTES": str(1 << 30)})
    _assert_error(result, "InsufficientMemory", 2, "a 30-qubit statevector needs 32.0 GiB (34359738368 bytes), but "
                  "the container's memory limit of 1.0 GiB leaves 1.0 GiB (1073741824 bytes")


def test_a_qio_problem_larger_than_the_memory_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    terms = [{"c": 1, "ids": [i, i + 1]} for i in range(2000)]
    problem = json.dumps({"cost_function": {"version": "1.0", "type": "ising", "terms": terms}}).encode()
    result = _run(tmp_path, SA, problem, env={"KUANTUM_MEMORY_LIMIT_BYTES": str(64 * 1024)})
    _assert_error(result, "InsufficientMemory", 2, f"reading a {len(problem) / 1024:.1f} KiB QIO problem needs")


def test_unwritable_output_is_storage_error(tmp_path: Path) -> None:
    inp = tmp_path / "in.json"
    inp.write_bytes(_problem())
    log = tmp_path / "log"
    proc = subprocess.run(
        [sys.executable, "-m", "kuantum_solvers", "--target", SA, "--input", str(inp), "--output",
         str(tmp_path / "no" / "such" / "dir" / "out.json"), "--params", '{"params": {"sweeps": 5}}'],
        capture_output=True, text=True, env={**os.environ, "KUANTUM_TERMINATION_LOG": str(log)}, timeout=300,
        check=False,
    )
    assert proc.returncode == 1
    last: dict[str, Any] = json.loads(proc.stderr.strip().splitlines()[-1])
    assert last["code"] == "StorageError"


def test_without_the_engines_the_error_says_what_to_install(tmp_path: Path) -> None:
    """kuantum-solvers without its `engines` extra (as in the operator's image): a clear InternalError."""
    inp, out, log = tmp_path / "input.json", tmp_path / "output.json", tmp_path / "termination-log"
    inp.write_text(json.dumps(random_problem("ising", 4, seed=1)))
    script = ("import sys; sys.modules['numba'] = None; from kuantum_solvers.cli import main; "
              f"sys.exit(main(['--target', {SA!r}, '--input', {str(inp)!r}, '--output', {str(out)!r}]))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "KUANTUM_TERMINATION_LOG": str(log)})
    assert proc.returncode == 1 and not out.exists()
    error = json.loads(log.read_text())
    assert error["code"] == "InternalError"
    assert "numba" in error["message"] and "pip install 'kuantum-solvers[engines]'" in error["message"]
