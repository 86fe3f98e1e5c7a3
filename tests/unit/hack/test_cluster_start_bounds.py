"""hack/lib.sh's start bound: a component is waited for as long as it runs and makes progress (log output or
CPU time), not for a fixed time, and a start that gives up stops what it started. (A cluster-up once gave up on
kube-controller-manager after a fixed 60 s, a moment before it became healthy, on a loaded machine.)"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

HACK = Path(__file__).resolve().parents[3] / "hack"


def _start(tmp_path: Path, component: str, quiet: int, check: str) -> subprocess.CompletedProcess[str]:
    """Starts `component` (a bash command) as hack/cluster-up.sh starts one, then waits for `check`."""
    script = f"""
set -euo pipefail
. "{HACK}/lib.sh"
STATE="{tmp_path}"
trap stop_started EXIT
start fake "fake-component-{tmp_path.name}" bash -c '{component}' fake-component-{tmp_path.name}
wait_healthy fake {quiet} {check}
"""
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KUANTUM_STATE": str(tmp_path)})


def test_a_slow_start_that_keeps_making_progress_is_waited_for(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    # Healthy after ~4 s, writing to its log every 0.3 s: longer than the 2 s it may go without progress.
    component = f"for i in $(seq 13); do echo starting $i; sleep 0.3; done; touch {ready}; sleep 30"
    started = time.monotonic()
    result = _start(tmp_path, component, 2, f"test -e {ready}")
    assert result.returncode == 0, result.stderr
    assert "fake is healthy" in result.stderr
    assert time.monotonic() - started > 3
    pid = int((tmp_path / "pids" / "fake.pid").read_text())
    os.kill(pid, 9)


def test_a_start_without_progress_gives_up_and_stops_what_it_started(tmp_path: Path) -> None:
    result = _start(tmp_path, "echo hello; sleep 30; true", 2, "false")
    assert result.returncode != 0
    assert "fake made no progress for 2 s and is not healthy" in result.stderr
    assert "stopping what this failed start started: fake" in result.stderr
    assert not (tmp_path / "pids" / "fake.pid").exists()
    out = subprocess.run(["pgrep", "-f", f"fake-component-{tmp_path.name}"], capture_output=True, text=True)
    assert out.stdout == "", "the component was left running"


def test_a_component_that_exits_is_reported_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    result = _start(tmp_path, "echo cannot bind; exit 3", 30, "false")
    assert result.returncode != 0
    assert "fake exited before it became healthy" in result.stderr
    assert "cannot bind" in result.stderr  # the last lines of its log
    assert time.monotonic() - started < 20
