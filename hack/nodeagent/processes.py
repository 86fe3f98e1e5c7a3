"""Container processes: started through a small shell shim so that they survive an agent restart.

The shim runs the command in the background, records its PID, waits for it and writes its exit code
to a file; then it kills what is left of its process group, as a container's end ends every process in it
(a command stopped by SIGTERM may leave children behind). Because of that file, an agent that restarts can
learn the exit code of a process that is not its child. Every container's state lives in one folder: pid,
exit_code, log, termination-log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .cgroups import join_command

_SHIM = '"$@" & child=$!; echo "$child" > "$KUANTUM_AGENT_DIR/pid.tmp"; mv "$KUANTUM_AGENT_DIR/pid.tmp" \
"$KUANTUM_AGENT_DIR/pid"; wait "$child" 2>/dev/null; code=$?; echo "$code" > "$KUANTUM_AGENT_DIR/exit_code.tmp"; \
mv "$KUANTUM_AGENT_DIR/exit_code.tmp" "$KUANTUM_AGENT_DIR/exit_code"; kill -KILL 0'
_NICE = shutil.which("nice") or "/usr/bin/nice"  # found on the agent's PATH, not the pod's


def _start_time(pid: int) -> str | None:
    """The kernel's start time of a PID (field 22 of /proc/PID/stat): tells a PID apart from its reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass
class ContainerProcess:
    """One container's process, known by its state folder."""

    folder: Path

    @property
    def log_path(self) -> Path:
        return self.folder / "log"

    @property
    def termination_log(self) -> Path:
        return self.folder / "termination-log"

    def start(self, argv: list[str], env: dict[str, str], cwd: Path, niceness: int = 0,
              cgroup_procs: Path | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in ("pid", "exit_code", "shim", "termination-log"):
            (self.folder / stale).unlink(missing_ok=True)
        env = {**env, "KUANTUM_AGENT_DIR": str(self.folder)}
        env.setdefault("KUANTUM_TERMINATION_LOG", str(self.termination_log))
        with open(self.log_path, "ab") as log:
            shim = subprocess.Popen(
                # The cgroup join and nice exec the shim in place (same PID); the command inherits both.
                join_command(cgroup_procs, [_NICE, "-n", str(niceness), "/bin/sh", "-c", _SHIM, "kuantum-shim", *argv]),
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: outlives the agent, killed as a group
            )
        (self.folder / "shim").write_text(f"{shim.pid} {_start_time(shim.pid)}\n")

    def _recorded(self, name: str) -> int | None:
        try:
            return int((self.folder / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def shim_alive(self) -> bool:
        try:
            pid_s, started = (self.folder / "shim").read_text().split()
        except (OSError, ValueError):
            return False
        # Reap it if it is our child (otherwise it lingers as a zombie until the agent exits).
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(int(pid_s), os.WNOHANG)
        return _start_time(int(pid_s)) == started

    def exit_code(self) -> int | None:
        """The exit code once the process has ended; 137 when it died without the shim recording it."""
        # Liveness first, then the file: the shim writes exit_code before it exits, so once it is seen
        # dead a missing file means it was killed. Reading the file first raced with a shim that
        # wrote it and exited in between, and reported a finished solver as killed (137).
        alive = self.shim_alive()
        code = self._recorded("exit_code")
        if code is not None:
            return code
        if (self.folder / "shim").exists() and not alive:
            return 137
        return None

    def started(self) -> bool:
        return (self.folder / "shim").exists()

    def signal(self, sig: signal.Signals) -> None:
        """SIGTERM goes to the command itself; SIGKILL to its whole process group."""
        if sig == signal.SIGKILL:
            shim = self._recorded("shim")
            if shim is not None and self.shim_alive():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(shim, signal.SIGKILL)
            return
        child = self._recorded("pid")
        if child is not None and self.shim_alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, sig)

    def log_tail(self, max_lines: int = 80, max_bytes: int = 2048) -> str:
        """The end of the output, as kubelet's FallbackToLogsOnError takes it (80 lines, 2 KiB)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 64 * 1024))
                lines = f.read().decode(errors="replace").splitlines()[-max_lines:]
        except OSError:
            return ""
        return "\n".join(lines)[-max_bytes:]

    def termination_message(self, fallback_to_logs: bool, failed: bool) -> str:
        try:
            message = self.termination_log.read_text(errors="replace")[-4096:]
        except OSError:
            message = ""
        if not message.strip() and fallback_to_logs and failed:
            message = self.log_tail()
        return message.strip()


def kill_all(root: Path) -> int:
    """SIGKILLs every container process recorded under root (used by cluster-down). Returns how many."""
    killed = 0
    for shim_file in root.glob("pods/*/*/shim"):
        proc = ContainerProcess(shim_file.parent)
        if proc.shim_alive():
            proc.signal(signal.SIGKILL)
            killed += 1
    return killed
