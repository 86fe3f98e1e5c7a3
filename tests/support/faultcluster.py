"""A dev cluster of its own for fault tests: started on free ports under a temporary state folder, with a node of its
own (kubelet, containerd, its own bridge and pod network; no kube-proxy, which owns the host's Service rules and
belongs to the shared cluster), so its components can be killed and restarted without touching the shared dev
cluster. Everything it started is stopped by PID when it is stopped (hack/cluster-down.sh, then any PID it still
finds recorded)."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import IO

from tests.support import devcluster

HACK = devcluster.HACK
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "azurite")
NODE = ("containerd", "kubelet")
COMPONENTS = CONTROL_PLANE + NODE
PORTS = ("KUANTUM_ETCD_PORT", "KUANTUM_ETCD_PEER_PORT", "KUANTUM_APISERVER_PORT", "KUANTUM_KCM_PORT",
         "KUANTUM_SCHEDULER_PORT", "KUANTUM_AZURITE_PORT", "KUANTUM_KUBELET_PORT", "KUANTUM_KUBELET_HEALTHZ_PORT")


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


NETWORK_LOCKS = Path(tempfile.gettempdir()) / "kuantum-fault-networks"


def reserve_pod_network() -> tuple[ipaddress.IPv4Network, IO[str]]:
    """A /16 for the node's pods that no route of this machine uses yet (the shared cluster has 10.244/16) and no
    other fault cluster holds: its lock file, held (flock) until the cluster is stopped or its process ends,
    reserves it from the choice to the bridge's creation (fault clusters of two test processes start side by
    side)."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    used = [ipaddress.ip_network(line.split()[0], strict=False) for line in routes.splitlines()
            if line and line.split()[0][0].isdigit()]
    NETWORK_LOCKS.mkdir(exist_ok=True)
    for second in range(245, 255):
        candidate = ipaddress.IPv4Network(f"10.{second}.0.0/16")
        if any(candidate.overlaps(net) for net in used):
            continue
        handle = open(NETWORK_LOCKS / f"10.{second}.lock", "w")  # noqa: SIM115 (held for the cluster's life)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return candidate, handle
    raise RuntimeError("no free 10.x.0.0/16 for the fault cluster's pods")


class FaultCluster:
    """A second dev cluster (hack/cluster-up.sh with KUANTUM_STATE, every port and the node's network overridden)."""

    def __init__(self, state: Path, node_name: str = "kuantum-fault-node") -> None:
        self.state = state
        pods, self._network = reserve_pod_network()
        self.env = {**os.environ, "KUANTUM_STATE": str(state), "KUANTUM_NODE_NAME": node_name,
                    "KUANTUM_POD_CIDR": str(pods), "KUANTUM_NODE_IP": str(pods.network_address + 1),
                    "KUANTUM_BRIDGE": f"kf{uuid.uuid4().hex[:8]}", "KUANTUM_KUBE_PROXY": "0",
                    **{name: str(port) for name, port in zip(PORTS, free_ports(len(PORTS)), strict=True)}}
        self.env.pop("KUANTUM_TEST_KUBECONFIG", None)
        self.node = devcluster.Node(node_name, self.env)
        self.kubeconfig = str(state / "admin.kubeconfig")
        self.azurite_port = int(self.env["KUANTUM_AZURITE_PORT"])
        self.apiserver_port = int(self.env["KUANTUM_APISERVER_PORT"])

    # ---------- whole cluster ----------
    def up(self, timeout: float = 400) -> devcluster.Cluster:
        self._hack("cluster-up.sh", timeout=timeout)
        conn = (self.state / "azurite.connection-string").read_text().strip()
        return devcluster.Cluster(self.kubeconfig, conn, started_here=True, state_dir=self.state)

    def down(self) -> None:
        """Stops every component and container it started, by PID; never raises."""
        with contextlib.suppress(Exception):
            self._hack("cluster-down.sh", timeout=180)
        # Whatever cluster-down could not stop (it failed, or a PID file was left): by the recorded PIDs.
        for name in COMPONENTS:
            pid = self.pid(name)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for data in ("etcd", "azurite", "nodes"):  # keep logs and certificates, drop the bulk
            shutil.rmtree(self.state / data, ignore_errors=True)
        self._network.close()  # its pod network is free for the next fault cluster

    # ---------- one component ----------
    def _pids(self, name: str) -> Path:
        return self.state / "nodes" / self.node.name / "pids" if name in NODE else self.state / "pids"

    def pid(self, name: str) -> int | None:
        """The component's PID while it runs the command that was started (not a reused PID)."""
        try:
            pid = int((self._pids(name) / f"{name}.pid").read_text())
            marker = (self._pids(name) / f"{name}.cmd").read_text()
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

    def start(self, name: str, timeout: float = 240) -> None:
        """Starts what is not running (hack/cluster-up.sh is idempotent) and waits until it is healthy."""
        self._component("start", name, timeout=timeout)
        assert self.pid(name) is not None, f"{name} did not start"

    def log(self, name: str) -> str:
        path = self.state / "logs" / (f"{name}-{self.node.name}.log" if name in NODE else f"{name}.log")
        return path.read_text(errors="replace") if path.exists() else ""

    # ---------- the runtime's own record ----------
    def container_starts(self, container: str = "solver") -> Counter[str]:
        return self.node.container_starts(container)

    def running_containers(self) -> set[str]:
        return self.node.running_containers()

    def kill_container(self, container_id: str) -> None:
        """SIGKILL to every process of one container, through containerd (as the OOM killer or a crash would)."""
        subprocess.run(["ctr", "--address", self.node.containerd_socket, "-n", "k8s.io", "tasks", "kill", "-a",
                        "-s", "SIGKILL", container_id], check=True, capture_output=True, timeout=30)

    def _component(self, action: str, name: str, timeout: float = 60) -> None:
        self._hack("cluster-component.sh", action, name, timeout=timeout)

    def _hack(self, script: str, *args: str, timeout: float) -> None:
        started = time.monotonic()
        result = subprocess.run(["bash", str(HACK / script), *args], env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f"hack/{script} {' '.join(args)} failed after {time.monotonic() - started:.0f}s "
                                 f"(rc {result.returncode}):\n{result.stderr[-3000:]}")
