"""The tests' zygote (tests/support/prewarmed.py): a forked child gets the environment, working directory, log and
arguments it was given, reports its exit as subprocess.Popen would, can be signalled, and goes with the zygote."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.prewarmed import Zygote
from tests.support.processes import stop


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    started = Zygote()
    yield started
    started.close()


def test_a_child_runs_with_its_own_environment_arguments_and_log(zygote: Zygote, tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    code = ("import os, sys; from kubernetes.config import kube_config; "
            "print(os.environ['ONLY_HERE'], os.environ.get('PATH'), os.getcwd(), sys.argv[1:], "
            "kube_config.KUBE_CONFIG_DEFAULT_LOCATION); sys.exit(3)")
    child = zygote.spawn(["-c", code, "a", "b"], {"ONLY_HERE": "yes", "KUBECONFIG": "/k/config"}, str(log))
    assert child.wait(timeout=60) == 3 and child.poll() == 3
    assert log.read_text().split(maxsplit=1) == ["yes", f"None {Path.cwd()} ['a', 'b'] /k/config\n"]


def test_a_failing_child_leaves_its_traceback_in_its_log(zygote: Zygote, tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    child = zygote.spawn(["-c", "raise ValueError('no such thing')"], {}, str(log))
    assert child.wait(timeout=60) == 1
    assert "ValueError: no such thing" in log.read_text()


def test_a_child_is_signalled_and_stopped_like_a_popen(zygote: Zygote, tmp_path: Path) -> None:
    sleeper = ["-c", "import time; time.sleep(600)"]
    killed = zygote.spawn(sleeper, {}, str(tmp_path / "a.log"))
    assert killed.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        killed.wait(timeout=0.2)
    killed.kill()
    assert killed.wait(timeout=30) == -signal.SIGKILL
    killed.kill()  # ended: nothing is signalled (its PID may be another process's by now)
    stopped = zygote.spawn(sleeper, {}, str(tmp_path / "b.log"))
    stop(stopped, grace=30)
    assert stopped.returncode == -signal.SIGTERM


def test_what_a_zygote_forked_goes_with_it(tmp_path: Path) -> None:
    own = Zygote()
    child = own.spawn(["-c", "import time; time.sleep(600)"], {}, str(tmp_path / "c.log"))
    own.close()
    assert not Path(f"/proc/{child.pid}").exists(), "terminated and reaped by the zygote as it ended"
