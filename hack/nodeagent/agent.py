"""The node agent's control loop: register the Node, watch pods bound to it, run and report them."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import shutil
import signal
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from . import cpushare, podstatus
from .cgroups import PodCgroups
from .envresolve import EnvError, ObjectReader, container_env
from .expand import expand
from .processes import ContainerProcess

log = logging.getLogger("node-agent")
FINAL_PHASES = ("Succeeded", "Failed")
POD_WORKERS = 8
OBSERVE_SECONDS = 0.5  # how often a running pod's processes are looked at without an event (kubelet's PLEG: 1 s)


def _settled(pod: dict[str, Any]) -> bool:
    """A finished pod not being deleted: nothing to do for it."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in FINAL_PHASES and not pod["metadata"].get("deletionTimestamp")


def _parse_time(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def image_entrypoint(image: str, entrypoints: dict[str, list[str]]) -> list[str] | None:
    """The local command standing in for an image's ENTRYPOINT, matched on the repository's last part."""
    repo = image.rsplit("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        last = last.split(":", 1)[0]
    return entrypoints.get(last)


def read_once(read: ObjectReader) -> ObjectReader:
    """The reader, remembering each object for the one pod start it serves (the kubelet caches them too)."""
    seen: dict[tuple[str, str, str], dict[str, Any] | None] = {}

    def cached(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        key = (kind, namespace, name)
        if key not in seen:
            seen[key] = read(kind, namespace, name)
        return seen[key]

    return cached


class PodRunner:
    """Everything the agent knows of one pod lives in its folder, so a restarted agent picks it up."""

    def __init__(self, root: Path, pod: dict[str, Any]) -> None:
        self.uid: str = pod["metadata"]["uid"]
        self.folder = root / "pods" / self.uid
        self.pod = pod

    def process(self, container: str) -> ContainerProcess:
        return ContainerProcess(self.folder / container)

    def processes(self) -> list[ContainerProcess]:
        return [self.process(c["name"]) for c in self.pod["spec"]["containers"]]

    def mark(self, name: str, value: str | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / name).write_text(value or podstatus.now_iso())

    def marked(self, name: str) -> str | None:
        try:
            return (self.folder / name).read_text()
        except OSError:
            return None


class NodeAgent:
    def __init__(self, api: client.CoreV1Api, node_name: str, state_dir: Path,
                 entrypoints: dict[str, list[str]], version: str = "v1.20.0-kuantum") -> None:
        self.api = api
        self.node_name = node_name
        self.root = state_dir
        self.entrypoints = entrypoints
        self.version = version
        self.pods: dict[str, dict[str, Any]] = {}
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.last_status: dict[str, str] = {}
        self.stopping = threading.Event()
        self.cgroups = PodCgroups(None)
        self.workers = ThreadPoolExecutor(max_workers=POD_WORKERS, thread_name_prefix="pod")
        self.busy: dict[str, Future[None]] = {}  # uid -> its work in flight; only the main loop changes it
        self.forget_pending: set[str] = set()
        self.cgroup_leftovers: set[str] = set()  # pod cgroups whose removal failed; retried by the main loop
        self.changed: set[str] = set()  # uids with a watch event since their last sync
        self.observed_at: dict[str, float] = {}  # uid -> when its last sync was handed out
        bin_dir = str(Path(sys.executable).parent)
        self.path = f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"

    # ---------- node ----------
    def register(self) -> None:
        try:
            self.api.create_node(podstatus.node_manifest(self.node_name))  # type: ignore[arg-type]
            log.info("registered node %s", self.node_name)
        except ApiException as e:
            if e.status != 409:
                raise
        self.heartbeat()

    def heartbeat(self) -> None:
        self.api.patch_node_status(self.node_name, {"status": podstatus.node_status(self.version)})

    def _heartbeat_loop(self) -> None:
        while not self.stopping.wait(10):
            try:
                self.heartbeat()
            except Exception as e:  # keep beating through API hiccups
                log.warning("heartbeat failed: %s", e)

    # ---------- pods: watch ----------
    def _watch_loop(self) -> None:
        selector = f"spec.nodeName={self.node_name}"
        while not self.stopping.is_set():
            try:
                listing = self.api.list_pod_for_all_namespaces(field_selector=selector)
                seen = set()
                for item in listing.items:
                    pod = self.api.api_client.sanitize_for_serialization(item)
                    seen.add(pod["metadata"]["uid"])
                    self.events.put(("SYNC", pod))
                self.events.put(("RELIST", {"uids": sorted(seen)}))
                stream = watch.Watch().stream(
                    self.api.list_pod_for_all_namespaces, field_selector=selector,
                    resource_version=listing.metadata.resource_version if listing.metadata else None,
                    timeout_seconds=60,
                    _request_timeout=90,
                )
                for event in stream:
                    if self.stopping.is_set():
                        return
                    pod = self.api.api_client.sanitize_for_serialization(event["object"])
                    self.events.put(("DELETED" if event["type"] == "DELETED" else "SYNC", pod))
            except Exception as e:
                if not self.stopping.is_set():
                    log.warning("pod watch restarting: %s", e)
                    time.sleep(1)

    # ---------- pods: reconcile ----------
    def run(self) -> None:
        (self.root / "pods").mkdir(parents=True, exist_ok=True)
        self.cgroups = PodCgroups.create(self.root, cpushare.PODS_SHARES)
        # Pods forgotten while no agent ran (or whose cgroup removal failed before a restart) have no folder.
        known = {folder.name for folder in (self.root / "pods").iterdir()}
        self.cgroup_leftovers.update(self.cgroups.orphans(known))
        self.register()
        for target in (self._heartbeat_loop, self._watch_loop):
            threading.Thread(target=target, daemon=True).start()
        try:
            while not self.stopping.is_set():
                try:
                    kind, obj = self.events.get(timeout=0.25)
                    self._apply_event(kind, obj)
                    while True:  # drain what queued up meanwhile
                        kind, obj = self.events.get_nowait()
                        self._apply_event(kind, obj)
                except queue.Empty:
                    pass
                self._dispatch()
        finally:
            self.workers.shutdown(wait=False, cancel_futures=True)

    def _dispatch(self) -> None:
        """Hands every pod that may need work to a worker, one piece of work per pod at a time (the kubelet's
        pod workers): one pod's API round trips and process start do not hold up another's."""
        for uid in [u for u, future in self.busy.items() if future.done()]:
            del self.busy[uid]
        for uid in [u for u in self.forget_pending if u not in self.busy]:
            self.forget_pending.discard(uid)
            self._forget(uid)
        for uid in list(self.cgroup_leftovers):
            if self.cgroups.destroy(uid):
                self.cgroup_leftovers.discard(uid)
        now = time.monotonic()
        changed, routine = [], []
        for uid, pod in list(self.pods.items()):
            if uid in self.busy or _settled(pod):
                continue
            if uid in self.changed:
                changed.append((uid, pod))
            elif now >= self.observed_at.get(uid, 0.0) + OBSERVE_SECONDS:
                routine.append((uid, pod))
        # A pod the API changed (new: to start; deleted: to stop) goes before the routine looks at running ones,
        # so a start does not queue behind every running pod's observation.
        for uid, pod in changed + routine:
            self.changed.discard(uid)
            self.observed_at[uid] = now
            self.busy[uid] = self.workers.submit(self._sync_guarded, uid, pod)

    def _sync_guarded(self, uid: str, pod: dict[str, Any]) -> None:
        try:
            self.sync(pod)
        except ApiException as e:
            if e.status == 404:
                self.pods.pop(uid, None)
            else:
                log.warning("pod %s: %s", uid, e.reason)
        except Exception:
            log.exception("pod %s", uid)

    def _apply_event(self, kind: str, obj: dict[str, Any]) -> None:
        if kind == "SYNC":
            self.pods[obj["metadata"]["uid"]] = obj
            self.changed.add(obj["metadata"]["uid"])
        elif kind == "DELETED":
            uid = obj["metadata"]["uid"]
            self.pods.pop(uid, None)
            self._forget_when_idle(uid)
        elif kind == "RELIST":
            live = set(obj["uids"])
            for uid in list(self.pods):
                if uid not in live:
                    self.pods.pop(uid)
            for folder in (self.root / "pods").iterdir():
                if folder.name not in live:
                    self._forget_when_idle(folder.name)

    def _forget_when_idle(self, uid: str) -> None:
        """Forgets the pod now, or once its worker is done (a start in flight must not outlive the pod)."""
        if uid in self.busy:
            self.forget_pending.add(uid)
        else:
            self._forget(uid)

    def _forget(self, uid: str) -> None:
        """A pod gone from the API: its processes must not outlive it."""
        folder = self.root / "pods" / uid
        for shim in folder.glob("*/shim"):
            ContainerProcess(shim.parent).signal(signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)
        # Killed processes take a moment to leave the cgroup; what is still there is retried, not left.
        if not self.cgroups.destroy(uid, wait_seconds=0.2):
            self.cgroup_leftovers.add(uid)
        self.last_status.pop(uid, None)
        self.observed_at.pop(uid, None)
        self.changed.discard(uid)

    def sync(self, pod: dict[str, Any]) -> None:
        runner = PodRunner(self.root, pod)
        phase = (pod.get("status") or {}).get("phase", "Pending")
        if pod["metadata"].get("deletionTimestamp"):
            self._terminate(runner, phase)
        elif phase in FINAL_PHASES:
            return
        elif runner.marked("started") is None:
            self._start(runner)
        else:
            self._observe(runner)

    def _read_object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            obj: object
            if kind == "secret":
                obj = self.api.read_namespaced_secret(name, namespace)
            else:
                obj = self.api.read_namespaced_config_map(name, namespace)
        except ApiException as e:
            if e.status in (403, 404):
                return None
            raise
        result: dict[str, Any] = self.api.api_client.sanitize_for_serialization(obj)
        return result

    def _argv(self, container: dict[str, Any], env: dict[str, str]) -> list[str]:
        command = container.get("command") or image_entrypoint(container.get("image", ""), self.entrypoints)
        if not command:
            raise EnvError(f"no local entrypoint for image {container.get('image')!r}; give the container a command")
        return [expand(part, env) for part in [*command, *(container.get("args") or [])]]

    def _start(self, runner: PodRunner) -> None:
        pod = runner.pod
        containers = pod["spec"]["containers"]
        base = {"PATH": self.path, "HOSTNAME": pod["metadata"]["name"], "HOME": str(runner.folder / "home")}
        plans: list[tuple[dict[str, Any], list[str], dict[str, str]]] = []
        read = read_once(self._read_object)  # a solver's three variables come from one Secret: one GET
        for container in containers:
            try:
                env = container_env(pod, container, read, base)
                argv = self._argv(container, env)
            except EnvError as e:
                waiting = {"waiting": {"reason": "CreateContainerConfigError", "message": str(e)}}
                statuses = [podstatus.container_status(c, waiting, runner.uid) for c in containers]
                self._report(runner, "Pending", statuses)
                return
            plans.append((container, argv, env))
        cgroup_procs = self.cgroups.procs_file(runner.uid, cpushare.pod_shares(pod))
        started = podstatus.now_iso()
        runner.mark("started", started)
        (runner.folder / "home").mkdir(parents=True, exist_ok=True)
        for container, argv, env in plans:
            proc = runner.process(container["name"])
            env = {"TMPDIR": str(runner.folder / "tmp"), **env}
            (runner.folder / "tmp").mkdir(exist_ok=True)
            cwd = runner.folder / "home"
            if container.get("workingDir"):
                cwd = Path(container["workingDir"])
                if not cwd.is_dir():  # a path from the image: give it a private stand-in
                    cwd = runner.folder / "rootfs" / container["workingDir"].lstrip("/")
                    cwd.mkdir(parents=True, exist_ok=True)
            if shutil.which(argv[0], path=env.get("PATH")) is None:
                proc.folder.mkdir(parents=True, exist_ok=True)
                (proc.folder / "exit_code").write_text("127")
                (proc.folder / "cannot-run").write_text(f"executable file not found in $PATH: {argv[0]}")
                continue
            proc.start(argv, env, cwd, niceness=cpushare.nice(container), cgroup_procs=cgroup_procs)
            log.info("started %s/%s container %s: %s", pod["metadata"]["namespace"],
                     pod["metadata"]["name"], container["name"], argv[0])
        self._observe(runner)

    def _deadline_passed(self, runner: PodRunner) -> bool:
        deadline = runner.pod["spec"].get("activeDeadlineSeconds")
        started = runner.marked("started")
        return bool(deadline and started and time.time() > _parse_time(started) + int(deadline))

    def _stop_processes(self, runner: PodRunner, grace: int) -> bool:
        """SIGTERM now, SIGKILL once the grace period is over. True when every process has ended."""
        if runner.marked("stopping") is None:
            runner.mark("stopping", str(time.time() + grace))
            for proc in runner.processes():
                proc.signal(signal.SIGTERM)
        alive = [p for p in runner.processes() if p.started() and p.exit_code() is None]
        if alive and time.time() > float(runner.marked("stopping") or 0):
            for proc in alive:
                proc.signal(signal.SIGKILL)
        return not alive

    def _observe(self, runner: PodRunner) -> None:
        pod = runner.pod
        reason = message = None
        if self._deadline_passed(runner):
            grace = int(pod["spec"].get("terminationGracePeriodSeconds", 30))
            if not self._stop_processes(runner, grace):
                return
            reason, message = "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"
        statuses, codes = self._container_statuses(runner)
        phase = podstatus.phase_from_exit_codes(codes)
        if reason:
            phase = "Failed"
        self._report(runner, phase, statuses, reason, message)

    def _container_statuses(self, runner: PodRunner) -> tuple[list[dict[str, Any]], list[int | None]]:
        statuses, codes = [], []
        started = runner.marked("started") or podstatus.now_iso()
        for container in runner.pod["spec"]["containers"]:
            proc = runner.process(container["name"])
            code = proc.exit_code()
            codes.append(code)
            if code is None:
                state = podstatus.running_state(started)
            else:
                finished_file = f"{container['name']}.finished"
                if runner.marked(finished_file) is None:
                    runner.mark(finished_file)
                cannot_run = proc.folder / "cannot-run"
                fallback = container.get("terminationMessagePolicy") == "FallbackToLogsOnError"
                msg = cannot_run.read_text() if cannot_run.exists() else proc.termination_message(fallback, code != 0)
                reason = "ContainerCannotRun" if cannot_run.exists() else None
                state = podstatus.terminated_state(code, started, runner.marked(finished_file) or started, msg, reason)
            statuses.append(podstatus.container_status(container, state, runner.uid))
        return statuses, codes

    def _terminate(self, runner: PodRunner, phase: str) -> None:
        pod = runner.pod
        grace = pod["metadata"].get("deletionGracePeriodSeconds")
        grace = int(grace if grace is not None else pod["spec"].get("terminationGracePeriodSeconds", 30))
        if runner.marked("started") is not None and phase not in FINAL_PHASES:
            if not self._stop_processes(runner, grace):
                return
            statuses, _ = self._container_statuses(runner)
            with contextlib.suppress(ApiException):
                self._report(runner, "Failed", statuses, "Terminated", "pod was deleted")
        with contextlib.suppress(ApiException):
            self.api.delete_namespaced_pod(
                pod["metadata"]["name"], pod["metadata"]["namespace"], grace_period_seconds=0,
                body=client.V1DeleteOptions(grace_period_seconds=0, preconditions={"uid": runner.uid}),
            )
        self.pods.pop(runner.uid, None)
        self._forget(runner.uid)

    def _report(self, runner: PodRunner, phase: str, statuses: list[dict[str, Any]],
                reason: str | None = None, message: str | None = None) -> None:
        """Patches pod status only when it changed since the last report."""
        started = runner.marked("started")
        status: dict[str, Any] = {
            "phase": phase,
            "hostIP": "127.0.0.1",
            "containerStatuses": statuses,
            "conditions": podstatus.pod_conditions(phase, phase == "Running", started or podstatus.now_iso()),
            "reason": reason,
            "message": message,
        }
        if started:
            status.update(startTime=started, podIP="127.0.0.1", podIPs=[{"ip": "127.0.0.1"}])
        digest = json.dumps(status, sort_keys=True)
        if self.last_status.get(runner.uid) == digest:
            return
        meta = runner.pod["metadata"]
        self.api.patch_namespaced_pod_status(meta["name"], meta["namespace"], {"status": status})
        self.last_status[runner.uid] = digest
        runner.pod.setdefault("status", {})["phase"] = phase
        if phase in FINAL_PHASES:
            log.info("pod %s/%s %s", meta["namespace"], meta["name"], phase)
