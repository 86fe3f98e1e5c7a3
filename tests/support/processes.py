"""Stopping what a test started, by its PID."""

from __future__ import annotations

import subprocess
from typing import Protocol


class Process(Protocol):
    """What stopping needs of a process: a `subprocess.Popen`, or one forked for a test (prewarmed.py)."""

    def poll(self) -> int | None: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...
    def wait(self, timeout: float | None = None) -> int: ...


def stop(proc: Process, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; waits until it is gone (bounded)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
