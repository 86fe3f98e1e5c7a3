"""Runs the Kuantum operator for tests: as a subprocess (killable, restartable) or in-process (KopfRunner)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kopf.testing import KopfRunner

from tests.support import prewarmed
from tests.support.processes import stop


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OperatorProcess:
    """`kuantum-operator -n NAMESPACE` as a child process, with its log in a file."""

    def __init__(self, kubeconfig: str, namespace: str, log_dir: Path, env: dict[str, str] | None = None,
                 args: list[str] | None = None, name: str | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.log_path = log_dir / f"operator-{name or namespace}.log"
        self.env = env or {}
        self.args = args or []
        self.metrics_port = free_port()
        self.proc: subprocess.Popen[bytes] | prewarmed.ForkedProcess | None = None

    def start(self) -> OperatorProcess:
        env = {**os.environ, "KUBECONFIG": self.kubeconfig, "KUANTUM_QUEUE_POSITION_SECONDS": "1", **self.env}
        argv = ["-c", "from kuantum.main import run; run()", "-n", self.namespace,
                "--metrics-port", str(self.metrics_port), "--metrics-addr", "127.0.0.1",
                "--liveness", f"http://127.0.0.1:{free_port()}/healthz", *self.args]
        self.proc = prewarmed.start_python(argv, env, str(self.log_path))  # forked with its libraries imported
        return self

    def kill(self) -> None:
        """SIGKILL: the operator gets no chance to clean up (restart-safety tests)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc:
            stop(self.proc, grace=15)

    def restart(self) -> None:
        self.kill()
        self.start()

    def metrics(self) -> str:
        import urllib.request

        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
                    return str(r.read().decode())
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def in_process(kubeconfig: str, namespace: str) -> Iterator[KopfRunner]:
    """The operator inside the test process (Kopf's KopfRunner), for tests that inspect its output."""
    from kubernetes.config import kube_config

    os.environ["KUBECONFIG"] = kubeconfig
    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = kubeconfig  # Kopf's login reads the client's default path
    # Kopf's command line does not call kuantum.main.run: the operator's informers take the namespace from here.
    before = os.environ.get("KUANTUM_NAMESPACE")
    os.environ["KUANTUM_NAMESPACE"] = namespace
    try:
        with KopfRunner(["run", "--standalone", "-n", namespace, "-m", "kuantum.main"], timeout=60) as runner:
            yield runner
    finally:
        if before is None:
            os.environ.pop("KUANTUM_NAMESPACE", None)
        else:
            os.environ["KUANTUM_NAMESPACE"] = before
