"""Pure parts of the dev cluster's node agent: $(VAR) expansion, env resolution, status builders."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from nodeagent import cpushare, podstatus
from nodeagent.agent import image_entrypoint, read_once
from nodeagent.envresolve import EnvError, ObjectReader, container_env
from nodeagent.expand import expand
from nodeagent.processes import ContainerProcess

POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "x"}}, "spec": {"nodeName": "n"}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("$(A)-$(B)", "1-$(B)"), ("$$(A)", "$(A)"), ("a$$b", "a$b"), ("$(A", "$(A"), ("plain", "plain")],
)
def test_expand_follows_kubelet_rules(text: str, expected: str) -> None:
    assert expand(text, {"A": "1"}) == expected


def _reader(objects: dict[tuple[str, str], dict[str, Any]]) -> ObjectReader:
    return lambda kind, _ns, name: objects.get((kind, name))


def test_env_resolves_values_refs_and_fields() -> None:
    objects = {
        ("secret", "s"): {"data": {"k": base64.b64encode(b"secret!").decode()}},
        ("configmap", "c"): {"data": {"k": "cfg", "other": "o"}},
    }
    container = {
        "envFrom": [{"configMapRef": {"name": "c"}, "prefix": "CM_"}],
        "env": [
            {"name": "A", "value": "a"},
            {"name": "B", "value": "$(A)-b"},
            {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
            {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "L", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "O", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": True}}},
        ],
    }
    env = container_env(POD, container, _reader(objects), {"PATH": "/bin"})
    assert env == {"PATH": "/bin", "CM_k": "cfg", "CM_other": "o", "A": "a", "B": "a-b", "S": "secret!",
                   "C": "cfg", "N": "ns", "L": "x"}


def test_env_missing_secret_or_key_is_a_config_error() -> None:
    with pytest.raises(EnvError, match='secret "s" not found'):
        container_env(POD, {"env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]},
                      _reader({}), {})
    with pytest.raises(EnvError, match="couldn't find key nope"):
        container_env(POD, {"env": [{"name": "S", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "nope"}}}]},
                      _reader({("configmap", "c"): {"data": {}}}), {})


def test_image_entrypoint_matches_repository_name() -> None:
    table = {"kuantum-solver": ["kuantum-solve"]}
    assert image_entrypoint("ghcr.io/kuantum/kuantum-solver:0.1", table) == ["kuantum-solve"]
    assert image_entrypoint("kuantum-solver@sha256:abc", table) == ["kuantum-solve"]
    assert image_entrypoint("busybox", table) is None


def test_phase_from_exit_codes() -> None:
    assert podstatus.phase_from_exit_codes([None, 0]) == "Running"
    assert podstatus.phase_from_exit_codes([0, 0]) == "Succeeded"
    assert podstatus.phase_from_exit_codes([0, 1]) == "Failed"


def test_node_status_reports_ready_and_capacity() -> None:
    status = podstatus.node_status("v1")
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    assert int(status["capacity"]["cpu"]) >= 1
    assert status["capacity"]["memory"].endswith("Ki")


def _wait_exit(proc: ContainerProcess) -> int:
    deadline = time.monotonic() + 60  # a bound, not a timing: loaded CI machines are slow
    while time.monotonic() < deadline:
        code = proc.exit_code()
        if code is not None:
            return code
        time.sleep(0.05)
    raise AssertionError("process did not exit")


def test_container_process_records_exit_code_log_and_message(tmp_path: Path) -> None:
    proc = ContainerProcess(tmp_path / "c")
    proc.start(["sh", "-c", 'echo out; echo boom >&2; echo "why" > "$KUANTUM_TERMINATION_LOG"; exit 4'],
               {"PATH": "/usr/bin:/bin"}, tmp_path)
    assert _wait_exit(proc) == 4
    assert "out" in proc.log_tail() and "boom" in proc.log_tail()
    assert proc.termination_message(fallback_to_logs=True, failed=True) == "why"


def test_container_process_falls_back_to_logs_and_is_killable(tmp_path: Path) -> None:
    proc = ContainerProcess(tmp_path / "c")
    proc.start(["sh", "-c", "echo last words; exec sleep 60"], {"PATH": "/usr/bin:/bin"}, tmp_path)
    # Wait for the words, not just the pid file: a SIGTERM before the echo ran would leave no words.
    deadline = time.monotonic() + 60  # generous: under a loaded CI machine the shell may start late
    while "last words" not in proc.log_tail() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "last words" in proc.log_tail(), "the container never ran its command"
    proc.signal(signal.SIGTERM)
    assert _wait_exit(proc) == 128 + signal.SIGTERM
    assert proc.termination_message(fallback_to_logs=True, failed=True) == "last words"
    assert proc.termination_message(fallback_to_logs=False, failed=True) == ""


def test_a_container_that_ends_takes_the_processes_it_left_with_it(tmp_path: Path) -> None:
    """A shell stopped by SIGTERM leaves its child running; a container's end ends every process in it (as
    the runtime does when a container's main process exits), so the child goes too."""
    proc = ContainerProcess(tmp_path / "c")
    proc.start(["sh", "-c", "sleep 60 & echo $! > child; wait"], {"PATH": "/usr/bin:/bin"}, tmp_path)
    deadline = time.monotonic() + 60
    while not (tmp_path / "child").exists() or not (tmp_path / "child").read_text().strip():
        assert time.monotonic() < deadline, "the container never started its child"
        time.sleep(0.05)
    child = int((tmp_path / "child").read_text())
    try:
        proc.signal(signal.SIGTERM)
        assert _wait_exit(proc) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 30
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the container's child outlived it"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)  # the test leaves nothing behind, even when it fails


def _alive(pid: int) -> bool:
    """True while pid runs (a zombie has ended: only its parent has yet to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_every_short_container_reports_its_real_exit_code(tmp_path: Path) -> None:
    """Hundreds of short containers, each watched by a thread polling exit_code as the agent does.

    The shim writes exit_code and exits right after: a reader that looked at the file, then at the
    shim, could see neither and report 137 for a process that had finished. Tight polling from the
    moment each container starts puts a reader in that window often.
    """
    count, batch = 300, 20
    codes: dict[int, int | None] = {}

    def watch(i: int) -> None:
        proc = ContainerProcess(tmp_path / f"c{i}")
        proc.start(["sh", "-c", f"exit {i % 7}"], {"PATH": "/usr/bin:/bin"}, tmp_path)
        deadline = time.monotonic() + 60
        code = None
        while code is None and time.monotonic() < deadline:
            code = proc.exit_code()
        codes[i] = code

    with ThreadPoolExecutor(max_workers=batch) as pool:
        list(pool.map(watch, range(count)))
    missing = [i for i, code in codes.items() if code is None]
    assert not missing, f"containers never reported an exit code: {missing}"
    wrong = {i: code for i, code in codes.items() if code != i % 7}
    assert not wrong, f"containers reported exit codes they did not exit with: {wrong}"


@pytest.mark.parametrize(("resources", "expected"), [
    ({"requests": {"cpu": "1"}}, 0), ({"requests": {"cpu": "4"}}, 0), ({"requests": {"cpu": "500m"}}, 3),
    ({"requests": {"cpu": "0.5"}}, 3), ({"requests": {"cpu": "50m"}}, 13), ({"limits": {"cpu": "50m"}}, 13),
    ({"requests": {"memory": "1Gi"}}, 19), ({}, 19), ({"requests": {"cpu": "1m"}}, 19),
    ({"requests": {"cpu": "lots"}}, 19),
])
def test_cpu_request_becomes_the_nice_level_of_its_cfs_weight(resources: dict[str, Any], expected: int) -> None:
    """The kubelet's cpu.shares (milliCPU * 1024 / 1000, at least 2) as the nice level CFS weighs alike."""
    assert cpushare.nice({"name": "c", "resources": resources}) == expected


def test_container_process_runs_at_its_nice_level(tmp_path: Path) -> None:
    """Pods yield the CPU to the control plane as under a real kubelet's cgroups."""
    proc = ContainerProcess(tmp_path / "c")
    proc.start(["sh", "-c", "exec sleep 60"], {"PATH": "/usr/bin:/bin"}, tmp_path, niceness=13)
    try:
        deadline = time.monotonic() + 60
        while proc._recorded("pid") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = proc._recorded("pid")
        assert pid is not None, "the container never started"
        level = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
        assert level == min(19, os.nice(0) + 13)
    finally:
        proc.signal(signal.SIGKILL)
        _wait_exit(proc)


def test_a_pod_start_reads_each_secret_once_however_many_variables_use_it() -> None:
    reads: list[tuple[str, str, str]] = []

    def read(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        reads.append((kind, namespace, name))
        return {"data": {key: base64.b64encode(key.encode()).decode() for key in ("a", "b", "c")}}

    container = {"env": [{"name": key.upper(), "valueFrom": {"secretKeyRef": {"name": "sas", "key": key}}}
                         for key in ("a", "b", "c")]}
    pod = {"metadata": {"namespace": "ns", "name": "p"}}
    env = container_env(pod, container, read_once(read), {})
    assert (env["A"], env["B"], env["C"]) == ("a", "b", "c")
    assert reads == [("secret", "ns", "sas")]
