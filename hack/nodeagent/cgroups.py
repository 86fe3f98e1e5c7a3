"""Pods' CPU weight as cgroups, as the kubelet's cgroupsPerQOS lays them out: every pod in a cgroup of its
own weighing its CPU request, under one parent that weighs the least (cpushare.PODS_SHARES: this node shares
its machine with the control plane, which the pods must not slow down).

Niceness alone (cpushare.nice) weighs each process: 54 solver processes at nice 13 together outweighed every
control-plane process on this machine (API server, etcd, scheduler, operator, this agent), the load average
reached 31 and pod starts and bindings waited for seconds. Under one parent the pods together weigh what the
parent weighs, however many processes they run.

The cgroup v1 cpu controller (what this machine mounts) is used where it is writable; elsewhere (cgroup v2,
no permission) pods run in the agent's cgroup and only their niceness applies.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
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
    def create(cls, state_dir: Path, parent_shares: int, root: Path = CPU_ROOT) -> PodCgroups:
        parent = root / parent_name(state_dir)
        try:
            if not (root / "cpu.shares").is_file():
                raise OSError(f"no cgroup v1 cpu controller at {root}")
            parent.mkdir(exist_ok=True)
            (parent / "cpu.shares").write_text(str(parent_shares))
        except OSError as e:
            log.info("pods run without cgroups (niceness only): %s", e)
            return cls(None)
        log.info("pods run in cgroups under %s (cpu.shares %d)", parent, parent_shares)
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

    def destroy(self, uid: str, wait_seconds: float = 0.0) -> bool:
        """Kills whatever still runs in the pod's cgroup, then removes it (the kubelet's pod cgroup Destroy):
        a process that left its container's process group (a grandchild of a command that was stopped,
        a daemon) must not outlive the pod. True when gone."""
        if self.parent is None:
            return True
        folder = self.parent / uid
        _kill_members(folder)
        return _rmdir(folder, wait_seconds)

    def orphans(self, live: set[str]) -> list[str]:
        """The pod cgroups of pods this agent no longer knows (left by a removal that failed or by an agent
        that stopped before it removed them)."""
        if self.parent is None or not self.parent.is_dir():
            return []
        return [child.name for child in self.parent.iterdir() if child.is_dir() and child.name not in live]

    def remove_all(self, wait_seconds: float = 5.0) -> None:
        """Every pod cgroup, then the parent (cluster-down)."""
        for uid in self.orphans(set()):
            self.destroy(uid, wait_seconds)
        if self.parent is not None and self.parent.is_dir():
            _rmdir(self.parent, wait_seconds)


def _kill_members(folder: Path) -> None:
    try:
        pids = [int(line) for line in (folder / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return
    for pid in pids:
        if pid <= 1 or pid == os.getpid():  # never the node's init or the agent, whatever the file says
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


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
