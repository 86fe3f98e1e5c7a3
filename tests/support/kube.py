"""Small helpers over the official client for integration tests: bounded waits and kubectl."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
KUBECTL_BIN = Path(os.environ.get("KUANTUM_CACHE", Path.home() / ".cache/kuantum")) / "bin"


def wait_for(probe: Callable[[], T | None], timeout: float = 60, interval: float = 0.25, what: str = "") -> T:
    """Polls probe until it returns something truthy; fails after timeout (never loops unbounded)."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}; last value: {last!r}")


def kubectl(
    kubeconfig: str, *args: str, input: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBECTL_BIN / "kubectl"), "--kubeconfig", kubeconfig, *args],
        input=input, capture_output=True, text=True, check=check, timeout=120,
    )
