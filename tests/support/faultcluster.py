"""A dev cluster of its own for fault tests: started on free ports under a temporary state folder, so its
components can be killed and restarted without touching the shared dev cluster. Everything it started
is stopped by PID when it is stopped (hack/cluster-down.sh, then any PID it still finds recorded)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support import devcluster

HACK = devcluster.HACK
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "azurite", "node-agent")
PORTS = ("KUANTUM_ETCD_PORT", "KUANTUM_ETCD_PEER_PORT", "KUANTUM_APISERVER_PORT", "KUANTUM_KCM_PORT",
         "KUANTUM_SCHEDULER_PORT", "KUANTUM_AZURITE_PORT")


def free_ports(count: int) -> list[int]:
    """Distinct ports nobody listens on now (held open together so that none is handed out twice)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


class FaultCluster:
    """A second dev cluster (hack/cluster-up.sh with KUANTUM_STATE and every port overridden)."""

    def __init__(self, state: Path, node_name: str = "kuantum-fault-node") -> None:
        self.state = state
        self.env = {**os.environ, "KUANTUM_STATE": str(state), "KUANTUM_NODE_NAME": node_name,
                    **{name: str(port) for name, port in zip(PORTS, free_ports(len(PORTS)), strict=True)}}
        self.env.pop("KUANTUM_TEST_KUBECONFIG", None)
        self.node_name = node_name
        self.kubeconfig = str(state / "admin.kubeconfig")
        self.azurite_port = int(self.env["KUANTUM_AZURITE_PORT"])
        self.apiserver_port = int(self.env["KUANTUM_APISERVER_PORT"])

    # ---------- whole cluster ----------
    def up(self, timeout: float = 300) -> devcluster.Cluster:
        self._hack("cluster-up.sh", timeout=timeout)
        conn = (self.state / "azurite.connection-string").read_text().strip()
        return devcluster.Cluster(self.kubeconfig, conn, started_here=True, state_dir=self.state)

    def down(self) -> None:
        """Stops every component and container process it started, by PID; never raises."""
        with contextlib.suppress(Exception):
            self._hack("cluster-down.sh", timeout=120)
        # Whatever cluster-down could not stop (it failed, or a PID file was left): by the recorded PIDs.
        for name in COMPONENTS:
            pid = self.pid(name)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for data in ("etcd", "azurite", "node"):  # keep logs and certificates, drop the bulk
            shutil.rmtree(self.state / data, ignore_errors=True)

    # ---------- one component ----------
    def pid(self, name: str) -> int | None:
        """The component's PID while it runs the command that was started (not a reused PID)."""
        try:
            pid = int((self.state / "pids" / f"{name}.pid").read_text())
            marker = (self.state / "pids" / f"{name}.cmd").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            return None
        return pid if marker in cmdline else None

    def kill(self, name: str) -> None:
        """SIGKILL, by the recorded PID (hack/cluster-component.sh)."""
        self._component("kill", name)
        assert self.pid(name) is None, f"{name} still runs"

    def stop(self, name: str) -> None:
        """SIGTERM (SIGKILL after 10 s)."""
        self._component("stop", name)

    def start(self, name: str, timeout: float = 180) -> None:
        """Starts what is not running (hack/cluster-up.sh is idempotent) and waits until it is healthy."""
        self._component("start", name, timeout=timeout)
        assert self.pid(name) is not None, f"{name} did not start"

    def log(self, name: str) -> str:
        path = self.state / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def pod_starts(self) -> list[str]:
        """'namespace/pod' for every container the node agent ever started (its log survives its restarts)."""
        starts = []
        for line in self.log("node-agent").splitlines():
            _, found, rest = line.partition(" started ")
            if found and " container " in rest:
                starts.append(rest.split(" container ", 1)[0])
        return starts

    def solver_processes(self) -> dict[str, int]:
        """pod uid -> PID of the solver process the node agent runs for it now."""
        found = {}
        for pid_file in (self.state / "node" / "pods").glob("*/solver/pid"):
            with contextlib.suppress(OSError, ValueError):
                pid = int(pid_file.read_text())
                if Path(f"/proc/{pid}").exists() and not (pid_file.parent / "exit_code").exists():
                    found[pid_file.parent.parent.name] = pid
        return found

    def unfinished_solvers(self) -> set[str]:
        """Uids of the pods whose solver the node agent started (its state folder made; the process may not have
        written its PID yet) and that has not recorded an exit code."""
        return {folder.parent.name for folder in (self.state / "node" / "pods").glob("*/solver")
                if not (folder / "exit_code").exists()}

    def _component(self, action: str, name: str, timeout: float = 60) -> None:
        self._hack("cluster-component.sh", action, name, timeout=timeout)

    def _hack(self, script: str, *args: str, timeout: float) -> None:
        started = time.monotonic()
        result = subprocess.run(["bash", str(HACK / script), *args], env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f"hack/{script} {' '.join(args)} failed after {time.monotonic() - started:.0f}s "
                                 f"(rc {result.returncode}):\n{result.stderr[-3000:]}")
