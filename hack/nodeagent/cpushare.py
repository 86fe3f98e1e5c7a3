"""A container's CPU request as the niceness of its processes: the local stand-in for the kubelet's cgroup
cpu.shares, so pods yield the CPU to the control plane as they do on a real node (where the API server,
etcd and the kubelet are outside the pods' cgroups, or on other machines).

The kubelet gives a container `milliCPU * 1024 / 1000` shares (at least 2, the BestEffort value); CFS
weighs a nice level n as about 1024 / 1.25**n. So 1 CPU or more runs at nice 0, 500m at 3, 50m at 13, a
container with no request at 19. Niceness weighs each process alone, so many pods together still outweigh
the control plane; where it can, the agent also gives every pod a cgroup under one parent (cgroups.py) that
weighs the least a cgroup can, PODS_SHARES.
"""

from __future__ import annotations

import math
from typing import Any

MIN_SHARES = 2  # the kubelet's floor, also what a container without a CPU request gets
MAX_NICE = 19


def millicpu(quantity: str) -> int:
    """A Kubernetes CPU quantity ("50m", "0.5", "2") in millicores; ValueError when it is not one."""
    text = quantity.strip()
    if text.endswith("m"):
        return math.ceil(float(text[:-1]))
    return math.ceil(float(text) * 1000)


def shares(container: dict[str, Any]) -> int:
    """cpu.shares the kubelet would give the container (its request, else its limit, which Kubernetes
    defaults the request to)."""
    resources = container.get("resources") or {}
    cpu = (resources.get("requests") or {}).get("cpu") or (resources.get("limits") or {}).get("cpu")
    if cpu is None:
        return MIN_SHARES
    try:
        return max(MIN_SHARES, millicpu(str(cpu)) * 1024 // 1000)
    except ValueError:  # the API server validates quantities; a stray one runs as BestEffort
        return MIN_SHARES


def pod_shares(pod: dict[str, Any]) -> int:
    """cpu.shares of the pod's cgroup: its containers' shares summed, as the kubelet sums their requests."""
    return max(MIN_SHARES, sum(shares(c) for c in pod["spec"]["containers"]))


# cpu.shares of the parent of all pods. The kubelet weighs its pods' parent as the node's allocatable CPU, on a
# worker node that the control plane does not share. This node does share its machine with the API server, etcd,
# the scheduler, the controller manager and the operator, so its pods weigh what the kubelet gives BestEffort
# pods: they get every cycle the control plane leaves and none it needs, as on a cluster whose control plane has
# machines of its own. (At the node's allocatable CPU, 54 CPU-bound solver pods slowed every control-plane
# component: a slot's handover p99 1.17 s at 2,500 jobs, 0.39 s with this weight; benchmarks/README.md.)
PODS_SHARES = MIN_SHARES


def nice(container: dict[str, Any]) -> int:
    """The nice level whose CFS weight is closest to the container's cpu.shares."""
    weight = shares(container)
    if weight >= 1024:
        return 0
    return min(MAX_NICE, round(math.log(1024 / weight, 1.25)))
