"""Starts the dev cluster for a test session (or uses the one KUANTUM_TEST_KUBECONFIG points at)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HACK = ROOT / "hack"


def _shell_value(name: str) -> str:
    """A variable of hack/cluster-env.sh, with the same environment overrides as the scripts."""
    script = f'. "{HACK}/lib.sh"; . "{HACK}/cluster-env.sh"; printf %s "${name}"'
    return subprocess.run(["bash", "-c", script], check=True, capture_output=True, text=True).stdout


@dataclass(frozen=True)
class Cluster:
    kubeconfig: str
    azurite_connection_string: str
    started_here: bool
    state_dir: Path | None


def _running(state: Path) -> bool:
    pid_file = state / "pids" / "kube-apiserver.pid"
    try:
        return Path(f"/proc/{int(pid_file.read_text())}").exists()
    except (OSError, ValueError):
        return False


def start() -> Cluster:
    """Uses KUANTUM_TEST_KUBECONFIG when set; otherwise brings the dev cluster up (reusing a running one)."""
    external = os.environ.get("KUANTUM_TEST_KUBECONFIG")
    if external:
        conn = os.environ.get("KUANTUM_TEST_STORAGE_CONNECTION_STRING", "")
        return Cluster(external, conn, started_here=False, state_dir=None)
    state = Path(_shell_value("STATE"))
    was_running = _running(state)
    subprocess.run(["bash", str(HACK / "cluster-up.sh")], check=True)
    return Cluster(
        kubeconfig=_shell_value("KUBECONFIG_ADMIN"),
        azurite_connection_string=_shell_value("AZURITE_CONNECTION_STRING"),
        started_here=not was_running,
        state_dir=state,
    )


def install_crds(cluster: Cluster) -> None:
    """Applies the generated CRDs (the operator does not install them) and waits until they are served."""
    kubectl = Path(os.environ.get("KUANTUM_CACHE", Path.home() / ".cache/kuantum")) / "bin" / "kubectl"
    base = [str(kubectl), "--kubeconfig", cluster.kubeconfig]
    subprocess.run([*base, "apply", "-f", str(ROOT / "crds")], check=True, capture_output=True, timeout=120)
    names = [f"crd/{plural}.kuantum.dev" for plural in ("quantumjobs", "providers", "quantumworkspaces")]
    subprocess.run([*base, "wait", "--for", "condition=established", "--timeout=60s", *names], check=True,
                   capture_output=True, timeout=90)


def stop(cluster: Cluster) -> None:
    if cluster.started_here:
        subprocess.run(["bash", str(HACK / "cluster-down.sh")], check=True)
