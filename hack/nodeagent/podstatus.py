"""Pure builders of the Node object and of pod status, the way the kubelet reports them."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from typing import Any


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _memory_bytes() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def node_manifest(name: str) -> dict[str, Any]:
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch,
                "kuantum.dev/node-agent": "true",
            },
        },
        "spec": {},
    }


def node_cpus() -> int:
    return len(os.sched_getaffinity(0))


def node_status(version: str) -> dict[str, Any]:
    """Real capacity of this machine, Ready, and no pressure."""
    cpus = node_cpus()
    capacity = {"cpu": str(cpus), "memory": f"{_memory_bytes() // 1024}Ki", "pods": "110",
                "ephemeral-storage": "50Gi"}
    stamp = now_iso()

    def cond(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
        return {"type": kind, "status": status, "reason": reason, "message": message,
                "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}

    uname = platform.uname()
    return {
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": [
            cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "node agent has sufficient memory"),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "node agent has no disk pressure"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID", "node agent has sufficient PID available"),
            cond("Ready", "True", "KubeletReady", "kuantum node agent is posting ready status"),
        ],
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": uname.node}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
        "nodeInfo": {
            "machineID": "", "systemUUID": "", "bootID": "",
            "kernelVersion": uname.release, "osImage": "kuantum node agent (local processes)",
            "containerRuntimeVersion": "kuantum-agent://0.1", "kubeletVersion": version,
            "kubeProxyVersion": version, "operatingSystem": "linux", "architecture": platform.machine(),
        },
    }


def running_state(started_at: str) -> dict[str, Any]:
    return {"running": {"startedAt": started_at}}


def terminated_state(exit_code: int, started_at: str, finished_at: str, message: str,
                     reason: str | None = None) -> dict[str, Any]:
    term: dict[str, Any] = {
        "exitCode": exit_code,
        "reason": reason or ("Completed" if exit_code == 0 else "Error"),
        "startedAt": started_at,
        "finishedAt": finished_at,
    }
    if message:
        term["message"] = message
    return {"terminated": term}


def container_status(container: dict[str, Any], state: dict[str, Any], pod_uid: str,
                     restarts: int = 0) -> dict[str, Any]:
    running = "running" in state
    return {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": f"kuantum-agent://{container.get('image', '')}",
        "containerID": f"kuantum-agent://{pod_uid}/{container['name']}",
        "ready": running,
        "started": running,
        "restartCount": restarts,
        "state": state,
    }


def pod_conditions(phase: str, ready: bool, stamp: str) -> list[dict[str, Any]]:
    initialized = phase != "Pending"
    return [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp},
        {"type": "Initialized", "status": str(initialized), "lastTransitionTime": stamp},
        {"type": "ContainersReady", "status": str(ready), "lastTransitionTime": stamp},
        {"type": "Ready", "status": str(ready), "lastTransitionTime": stamp},
    ]


def phase_from_exit_codes(codes: list[int | None]) -> str:
    """Running while any container runs; Succeeded when all exited 0; Failed otherwise (restartPolicy Never)."""
    if any(c is None for c in codes):
        return "Running"
    return "Succeeded" if all(c == 0 for c in codes) else "Failed"
