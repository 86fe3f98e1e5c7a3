"""What the pod may use: CPU cores (affinity) and memory (cgroup limit or MemAvailable)."""

from __future__ import annotations

import os

CGROUP_V2_MAX = "/sys/fs/cgroup/memory.max"
CGROUP_V1_LIMIT = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
CGROUP_V2_CURRENT = "/sys/fs/cgroup/memory.current"


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


def available_memory() -> int:
    """Bytes we can still allocate: min(cgroup limit - current usage, MemAvailable)."""
    override = os.environ.get("KUANTUM_MEMORY_LIMIT_BYTES")
    if override:
        return int(override)
    candidates: list[int] = []
    limit = _read_int(CGROUP_V2_MAX) or _read_int(CGROUP_V1_LIMIT)
    if limit is not None:
        used = _read_int(CGROUP_V2_CURRENT) or 0
        candidates.append(max(0, limit - used))
    avail = _mem_available()
    if avail is not None:
        candidates.append(avail)
    return min(candidates) if candidates else 1 << 62
