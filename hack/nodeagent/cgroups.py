"""Pods' CPU weight as cgroups, as the kubelet's cgroupsPerQOS lays them out: every pod in a cgroup of its
own, under one parent whose cpu.shares is the node's allocatable CPU.

Niceness alone (cpushare.nice) weighs each process: 54 solver processes at nice 13 together outweighed every
control-plane process on this machine (API server, etcd, scheduler, operator, this agent), the load average
reached 31 and pod starts and bindings waited for seconds. Under one parent the pods together weigh what the
node gives them, however many processes they run.

The cgroup v1 cpu controller (what this machine mounts) is used where it is writable; elsewhere (cgroup v2,
no permission) pods run in the agent's cgroup and only their niceness applies.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

log = logging.getLogger("node-agent")
CPU_ROOT = Path("/sys/fs/cgroup/cpu")
PREFIX = "kuantum-pods-"


def parent_name(state_dir: Path) -> str:
    """One parent per agent state folder: the fault tests' clusters run agents of their own beside the dev
    cluster's."""
    return PREFIX + hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]


class PodCgroups:
    """The pods' cgroups of one agent; every method is a no-op when the controller is not usable."""

    def __init__(self, parent: Path | None) -> None:
        self.parent = parent

    @classmethod
    def create(cls, state_dir: Path, node_shares: int, root: Path = CPU_ROOT) -> PodCgroups:
        parent = root / parent_name(state_dir)
        try:
            if not (root / "cpu.shares").is_file():
                raise OSError(f"no cgroup v1 cpu controller at {root}")
            parent.mkdir(exist_ok=True)
            (parent / "cpu.shares").write_text(str(node_shares))
        except OSError as e:
            log.info("pods run without cgroups (niceness only): %s", e)
            return cls(None)
        log.info("pods run in cgroups under %s (cpu.shares %d)", parent, node_shares)
        return cls(parent)

    def procs_file(self, uid: str, pod_shares: int) -> Path | None:
        """The cgroup.procs file of the pod's cgroup (made now), into which its processes go; None without."""
        if self.parent is None:
            return None
        folder = self.parent / uid
        try:
            folder.mkdir(exist_ok=True)
            (folder / "cpu.shares").write_text(str(pod_shares))
        except OSError as e:
            log.warning("pod %s runs in the agent's cgroup: %s", uid, e)
            return None
        return folder / "cgroup.procs"

    def remove(self, uid: str, wait_seconds: float = 0.0) -> bool:
        """Removes an emptied pod cgroup (a killed process may take a moment to leave it). True when gone."""
        if self.parent is None:
            return True
        return _rmdir(self.parent / uid, wait_seconds)

    def remove_all(self, wait_seconds: float = 5.0) -> None:
        """Every pod cgroup, then the parent (cluster-down, after the processes were killed)."""
        if self.parent is None or not self.parent.is_dir():
            return
        for child in self.parent.iterdir():
            if child.is_dir():
                _rmdir(child, wait_seconds)
        _rmdir(self.parent, wait_seconds)


def _rmdir(folder: Path, wait_seconds: float) -> bool:
    deadline = time.monotonic() + wait_seconds
    for _ in range(200):  # bounded: at most wait_seconds, in 50 ms steps
        try:
            folder.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:  # EBUSY while a process is still in it
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
    return False


def join_command(procs_file: Path | None, argv: list[str]) -> list[str]:
    """argv prefixed so that the process moves itself into the cgroup before it execs (its children are
    born inside). A cgroup gone meanwhile leaves it where it is rather than failing the container."""
    if procs_file is None:
        return argv
    return ["/bin/sh", "-c", 'echo $$ 2>/dev/null > "$0"; exec "$@"', str(procs_file), *argv]
