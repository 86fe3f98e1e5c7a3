"""What the pod may use: CPU cores (affinity) and memory (its container's cgroup limit, or MemAvailable)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from kuantum_solvers.formats.errors import INSUFFICIENT_MEMORY, SolverError

# A container sees its own cgroup at these paths (cgroup v2: the namespace's root; v1: each controller's mount).
CGROUP_V2_MAX = "/sys/fs/cgroup/memory.max"
CGROUP_V2_CURRENT = "/sys/fs/cgroup/memory.current"
CGROUP_V1_LIMIT = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
CGROUP_V1_USAGE = "/sys/fs/cgroup/memory/memory.usage_in_bytes"


CGROUP_V2_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def _cpu_quota() -> int | None:
    """Whole cores allowed by a cgroup v2 CPU limit (a pod's resources.limits.cpu), if any.
    More threads than the quota only get throttled, which stalls every parallel region."""
    try:
        with open(CGROUP_V2_CPU_MAX) as fh:
            quota, period = fh.read().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, int(int(quota) / int(period) + 0.999))
    except (ValueError, ZeroDivisionError):
        return None


def available_cores() -> int:
    """Cores we may use: CPU affinity (cpuset), capped by the cgroup CPU quota."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        cores = max(1, os.cpu_count() or 1)
    quota = _cpu_quota()
    return min(cores, quota) if quota else cores


def _read_int(path: str) -> int | None:
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except OSError:
        return None
    if not text or text == "max":
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    # cgroup v1 reports "unlimited" as a huge page-aligned number.
    return value if value < (1 << 60) else None


def _mem_available() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass(frozen=True)
class MemoryBudget:
    """What this process may still allocate, and why: the container's limit and use, or the node's free memory."""

    available: int
    limit: int | None = None  # the container's memory limit (cgroup), if it has one
    used: int = 0

    def describe(self) -> str:
        if self.limit is None:
            return f"{fmt_bytes(self.available)} ({self.available} bytes) is available on the node"
        return (f"the container's memory limit of {fmt_bytes(self.limit)} leaves {fmt_bytes(self.available)} "
                f"({self.available} bytes; {fmt_bytes(self.used)} in use)")


def memory_budget() -> MemoryBudget:
    """min(cgroup limit - current usage, MemAvailable); KUANTUM_MEMORY_LIMIT_BYTES overrides (tests)."""
    override = os.environ.get("KUANTUM_MEMORY_LIMIT_BYTES")
    if override:
        return MemoryBudget(int(override), int(override))
    limit = _read_int(CGROUP_V2_MAX) or _read_int(CGROUP_V1_LIMIT)
    node = _mem_available()
    if limit is None:
        return MemoryBudget(node if node is not None else 1 << 62)
    used = _read_int(CGROUP_V2_CURRENT) or _read_int(CGROUP_V1_USAGE) or 0
    left = max(0, limit - used)
    return MemoryBudget(min(left, node) if node is not None else left, limit, used)


def available_memory() -> int:
    """Bytes we can still allocate."""
    return memory_budget().available


def require_memory(needed: int, what: str) -> None:
    """Refuses work before allocating for it: InsufficientMemory naming the bytes needed and those allowed.
    Past its limit the kernel would kill the container (OOMKilled) with nothing written."""
    budget = memory_budget()
    if needed > budget.available:
        raise SolverError(INSUFFICIENT_MEMORY,
                          f"{what} needs {fmt_bytes(needed)} ({needed} bytes), but {budget.describe()}")


def fmt_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


CGROUP_V2_EVENTS = "/sys/fs/cgroup/memory.events"
CGROUP_V1_OOM_CONTROL = "/sys/fs/cgroup/memory/memory.oom_control"


def oom_kills() -> int | None:
    """How many processes the kernel's OOM killer has killed in this container's cgroup (None: not known). A
    worker compares it before and after a run that died of SIGKILL to tell the limit from a cancel."""
    for path in (CGROUP_V2_EVENTS, CGROUP_V1_OOM_CONTROL):
        try:
            with open(path) as fh:
                for line in fh:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None
