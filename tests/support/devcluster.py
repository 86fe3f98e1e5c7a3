"""Starts the dev cluster for a test session (or uses the one KUANTUM_TEST_KUBECONFIG points at), with the
images `make images` built (hack/images.sh) imported into its node."""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HACK = ROOT / "hack"
# containerd's log lines that tie a sandbox to its pod and a container to its sandbox (CRI plugin, info level).
SANDBOX_LINE = re.compile(r'RunPodSandbox for &PodSandboxMetadata\{Name:([^,]+),Uid:[^,]*,Namespace:([^,]+),'
                          r'.*returns sandbox id \\"([0-9a-f]+)\\"')
CONTAINER_LINE = re.compile(r'CreateContainer within sandbox \\"([0-9a-f]+)\\" for &ContainerMetadata\{Name:([^,]+),'
                            r'.*returns container id \\"([0-9a-f]+)\\"')
STARTED_LINE = re.compile(r'StartContainer for \\"([0-9a-f]+)\\" returns successfully')


def _shell_value(name: str, env: dict[str, str] | None = None) -> str:
    """A variable of hack/cluster-env.sh, with the same environment overrides as the scripts."""
    script = f'. "{HACK}/lib.sh"; . "{HACK}/cluster-env.sh"; printf %s "${name}"'
    return subprocess.run(["bash", "-c", script], check=True, capture_output=True, text=True,
                          env=env).stdout


@dataclass(frozen=True)
class Cluster:
    kubeconfig: str
    azurite_connection_string: str
    started_here: bool
    state_dir: Path | None


@dataclass(frozen=True)
class Node:
    """A node of a dev cluster: a kubelet on its own containerd (hack/node-up.sh)."""

    name: str
    env: dict[str, str]  # the environment its cluster's hack/ scripts run with

    @property
    def cgroup(self) -> str:
        """The kubelet's --cgroup-root, in every cgroup hierarchy."""
        return _shell_value("NODE_CGROUP", self.env)

    @property
    def containerd_socket(self) -> str:
        return _shell_value("CONTAINERD_SOCK", self.env)

    def running_containers(self) -> set[str]:
        """Ids of the containers containerd runs now (pods' sandboxes included)."""
        out = subprocess.run(["ctr", "--address", self.containerd_socket, "-n", "k8s.io", "tasks", "ls"],
                             check=True, capture_output=True, text=True, timeout=30).stdout
        return {line.split()[0] for line in out.splitlines()[1:] if line.split()[-1:] == ["RUNNING"]}

    def container_starts(self, container: str = "solver") -> Counter[str]:
        """'namespace/pod' -> how many times containerd started the pod's container of that name, from its log
        (which outlives containerd's restarts and the pods themselves): the runtime's own exactly-once record."""
        log = Path(_shell_value("STATE", self.env)) / "logs" / f"containerd-{self.name}.log"
        pods: dict[str, str] = {}
        names: dict[str, str] = {}
        starts: Counter[str] = Counter()
        for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
            if match := SANDBOX_LINE.search(line):
                pods[match[3]] = f"{match[2]}/{match[1]}"
            elif match := CONTAINER_LINE.search(line):
                if match[2] == container and match[1] in pods:
                    names[match[3]] = pods[match[1]]
            elif (match := STARTED_LINE.search(line)) and match[1] in names:
                starts[names[match[1]]] += 1
        return starts

    def component(self, action: str, name: str, timeout: float = 300) -> None:
        """hack/cluster-component.sh ACTION NAME: kill, stop, start, restart one of the cluster's processes."""
        subprocess.run(["bash", str(HACK / "cluster-component.sh"), action, name], check=True, env=self.env,
                       capture_output=True, timeout=timeout)


def node(cluster: Cluster, env: dict[str, str] | None = None) -> Node:
    """The cluster's node (the first, hack/cluster-env.sh's NODE_NAME)."""
    env = {**os.environ, **(env or {})}
    return Node(_shell_value("NODE_NAME", env), env)


def images() -> dict[str, str]:
    """The image references of the last `make images` (build/images.env): KUANTUM_SOLVER_IMAGE, ...; with an
    external cluster, whatever the environment names (KUANTUM_SOLVER_IMAGE, KUANTUM_OPERATOR_IMAGE)."""
    found: dict[str, str] = {}
    env_file = ROOT / "build" / "images.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep:
                found[name.strip()] = value.strip()
    found.update({k: v for k, v in os.environ.items() if k.endswith("_IMAGE") and k.startswith("KUANTUM_")})
    return found


def build_images() -> dict[str, str]:
    """`make images`: built only where their inputs changed (a second or two otherwise)."""
    subprocess.run(["bash", str(HACK / "images.sh")], check=True)
    return images()


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
    state.mkdir(parents=True, exist_ok=True)
    # Sessions starting side by side (pytest-xdist's workers, a benchmark beside the tests) take turns: the first
    # builds and starts, the others find it all done.
    with open(state / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        was_running = _running(state)
        build_images()
        try:
            subprocess.run(["bash", str(HACK / "cluster-up.sh")], check=True)
        except subprocess.CalledProcessError:
            # A failed start stops what it started (a component slow to come up on a loaded machine): one retry.
            print("kuantum: the dev cluster did not start; trying once more", flush=True)
            subprocess.run(["bash", str(HACK / "cluster-up.sh")], check=True)
    # Every operator started from here on (tests' and benchmarks', subprocess or in-process) runs solver pods from
    # the image just built: the default names a registry this node cannot reach.
    solver_image = images().get("KUANTUM_SOLVER_IMAGE")
    if solver_image:
        os.environ["KUANTUM_SOLVER_IMAGE"] = solver_image
    return Cluster(
        kubeconfig=_shell_value("KUBECONFIG_ADMIN"),
        azurite_connection_string=_shell_value("AZURITE_CONNECTION_STRING"),
        # A pytest-xdist worker never stops it: the other workers still use it (`make test` starts and stops it).
        started_here=not was_running and "PYTEST_XDIST_WORKER" not in os.environ,
        state_dir=state,
    )


def install_crds(cluster: Cluster) -> None:
    """Applies the generated CRDs (the operator does not install them) and waits until they are served."""
    kubectl = Path(os.environ.get("KUANTUM_CACHE", Path.home() / ".cache/kuantum")) / "bin" / "kubectl"
    base = [str(kubectl), "--kubeconfig", cluster.kubeconfig]
    # The CRDs' one place: crds/ (plain YAML, generated by `make crds`; the kuantum-crds chart links to it).
    subprocess.run([*base, "apply", "-f", str(ROOT / "crds")], check=True,
                   capture_output=True, timeout=120)
    names = [f"crd/{plural}.kuantum.dev" for plural in ("quantumjobs", "providers", "quantumworkspaces")]
    subprocess.run([*base, "wait", "--for", "condition=established", "--timeout=60s", *names], check=True,
                   capture_output=True, timeout=90)


def stop(cluster: Cluster) -> None:
    if cluster.started_here:
        subprocess.run(["bash", str(HACK / "cluster-down.sh")], check=True)
