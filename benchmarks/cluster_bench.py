"""What the benchmarks on the dev cluster share: the operator's write counters, RSS and CPU sampling, watches that
record when each object first reached each state, QuantumJobs created and deleted in bulk, blob-container
clean-up and the printed table."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from prometheus_client.parser import text_string_to_metric_families

from tests.support import devcluster
from tests.support import quantum as q
from tests.support.operator import OperatorProcess

# The operators and bare Jobs the benchmarks start run solver pods from the images `make images` built.
for _name, _ref in devcluster.images().items():
    os.environ.setdefault(_name, _ref)

TARGET = "microsoft.simulatedannealing.cpu"
PARAMS = {"params": {"sweeps": 10, "seed": 1, "restarts": 1}}
# Status writes for the workspace and its provider (periodic refreshes): reported apart, not per job.
SHARED_RESOURCES = ("quantumworkspaces", "quantumworkspaces/status", "providers", "providers/status")



def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def wait_until(probe: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    return None


def api_writes(op: OperatorProcess) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(op.metrics()):
        for s in family.samples:
            if s.name == "kuantum_api_writes_total":
                out[(s.labels["verb"], s.labels["resource"])] = s.value
    return out


def diff(after: dict[tuple[str, str], float], before: dict[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0)}


def settle_writes(op: OperatorProcess, quiet_for: float = 2.0, timeout: float = 20.0) -> dict[tuple[str, str], float]:
    """Counters once no per-job write happened for quiet_for seconds (bounded by timeout)."""
    deadline = time.monotonic() + timeout
    last = api_writes(op)
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = api_writes(op)
        per_job = {k: v for k, v in diff(now, last).items() if k[1] not in SHARED_RESOURCES}
        if per_job:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet_for:
            return now
    return api_writes(op)


def apiserver_quantumjob_patches(api_client: client.ApiClient) -> float | None:
    """PATCH/PUT on quantumjobs (+status) from the apiserver's own metrics: cluster-wide, all clients."""
    try:
        request = api_client.param_serialize(method="GET", resource_path="/metrics", auth_settings=["BearerToken"])
        text = api_client.call_api(*request, _request_timeout=30).read().decode()
    except Exception:
        return None
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if (s.name == "apiserver_request_total" and s.labels.get("resource") == "quantumjobs"
                    and s.labels.get("verb") in ("PATCH", "PUT", "UPDATE")):
                total += s.value
    return total


class RssSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kib = 0
        self.stop_event = threading.Event()

    def field_kib(self, name: str) -> int:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith(name + ":"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            self.peak_kib = max(self.peak_kib, self.field_kib("VmRSS"))


@dataclass
class Seen:
    """Wall-clock (monotonic) times a watch first saw each object in each state."""
    times: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self, name: str, state: str, at: float) -> None:
        with self.lock:
            self.times[name].setdefault(state, at)

    def get(self, name: str, state: str) -> float | None:
        with self.lock:
            return self.times.get(name, {}).get(state)

    def count(self, states: tuple[str, ...], names: list[str]) -> int:
        with self.lock:
            return sum(1 for n in names if any(s in self.times.get(n, {}) for s in states))


class Watcher(threading.Thread):
    """A bounded list+watch loop recording when each object first reaches each state."""

    def __init__(self, lister: Callable[..., Any], state_of: Callable[[Any], str | None], max_seconds: float,
                 key_of: Callable[[Any], str | None] | None = None, **kwargs: Any) -> None:
        super().__init__(daemon=True)
        self.lister, self.state_of, self.kwargs = lister, state_of, kwargs
        self.key_of = key_of or (lambda obj: obj["metadata"]["name"] if isinstance(obj, dict) else obj.metadata.name)
        self.seen = Seen()
        self.stop_event = threading.Event()
        self.deadline = time.monotonic() + max_seconds
        self.ready = threading.Event()

    def _record(self, obj: Any) -> None:
        now = time.monotonic()
        name = self.key_of(obj)
        if name is None:
            return
        self.seen.mark(name, "Seen", now)
        state = self.state_of(obj)
        if state:
            self.seen.mark(name, state, now)

    def run(self) -> None:
        rv = None
        for _ in range(10_000):  # bounded: each round is at most ~30 s, and the deadline stops it anyway
            if self.stop_event.is_set() or time.monotonic() > self.deadline:
                return
            try:
                if rv is None:
                    listed = self.lister(**self.kwargs, _request_timeout=30)
                    items = listed["items"] if isinstance(listed, dict) else listed.items
                    for obj in items:
                        self._record(obj)
                    meta = listed["metadata"] if isinstance(listed, dict) else listed.metadata
                    rv = meta["resourceVersion"] if isinstance(meta, dict) else meta.resource_version
                    self.ready.set()
                w = watch.Watch()
                for event in w.stream(self.lister, **self.kwargs, resource_version=rv, timeout_seconds=5,
                                      _request_timeout=30):
                    if event["type"] == "ERROR":
                        rv = None
                        break
                    obj = event["object"]
                    self._record(obj)
                    meta = obj["metadata"] if isinstance(obj, dict) else obj.metadata
                    rv = meta["resourceVersion"] if isinstance(meta, dict) else meta.resource_version
                    if self.stop_event.is_set():
                        w.stop()
                        return
            except ApiException as e:
                if e.status == 410:
                    rv = None
                else:
                    time.sleep(0.5)
            except Exception:
                rv = None
                time.sleep(0.5)


def namespace_gone(core: client.CoreV1Api, ns: str) -> bool:
    try:
        core.read_namespace(ns)
        return False
    except ApiException as e:
        return e.status == 404


def fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    head = ("metric", "value", "goal", "ok?")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    line = "+".join("-" * (w + 2) for w in widths)
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print(line)
    for r in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


def ok(cond: bool) -> str:
    return "yes" if cond else "NO"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (its threads included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def create_all(kubeconfig: str, ns: str, bodies: list[dict[str, Any]], threads: int,
               deadline: float) -> dict[str, float]:
    """Creates the QuantumJobs from `threads` threads (one API client each); name -> monotonic create time."""
    created: dict[str, float] = {}
    chunks = [bodies[i::threads] for i in range(threads)]

    def worker(chunk: list[dict[str, Any]]) -> None:
        api = client.CustomObjectsApi(config.new_client_from_config(config_file=kubeconfig))
        for body in chunk:
            if time.monotonic() > deadline:
                return
            for attempt in range(3):
                try:
                    api.create_namespaced_custom_object(q.GROUP, q.VERSION, ns, "quantumjobs", body,
                                                        _request_timeout=30)
                    created[body["metadata"]["name"]] = time.monotonic()
                    break
                except ApiException as e:
                    if e.status == 409:
                        break
                    time.sleep(0.5 * (attempt + 1))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, chunks))
    return created


def remaining(api_client: client.ApiClient, ns: str, plural: str) -> int:
    """Objects left (one item listed; the API server counts the rest)."""
    listed = q.custom(api_client).list_namespaced_custom_object(q.GROUP, q.VERSION, ns, plural, limit=1,
                                                                _request_timeout=60)
    return len(listed["items"]) + int(listed["metadata"].get("remainingItemCount") or 0)


def delete_jobs(api_client: client.ApiClient, ns: str, seconds: float, threads: int = 8) -> tuple[int, float]:
    """Deletes every QuantumJob from `threads` threads (one DELETE each, as kubectl or a client's cleanup does;
    a deletecollection is marked by the API server one object at a time, which would measure it, not the
    operator), then the workspaces, while the operator runs (it releases the finalizers). Returns how many jobs
    were gone within `seconds`, and how long the DELETE requests themselves took."""
    api = q.custom(api_client)
    try:
        before = remaining(api_client, ns, "quantumjobs")
        names = [i["metadata"]["name"] for i in api.list_namespaced_custom_object(
            q.GROUP, q.VERSION, ns, "quantumjobs", _request_timeout=120)["items"]]
        started = time.monotonic()

        def delete(name: str) -> None:
            with contextlib.suppress(ApiException):
                api.delete_namespaced_custom_object(q.GROUP, q.VERSION, ns, "quantumjobs", name, _request_timeout=60)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(delete, names))
        requested = time.monotonic() - started
        wait_until(lambda: remaining(api_client, ns, "quantumjobs") == 0, max(0.0, seconds - requested), 3.0)
        gone = before - remaining(api_client, ns, "quantumjobs")
        api.delete_collection_namespaced_custom_object(q.GROUP, q.VERSION, ns, "quantumworkspaces")
        wait_until(lambda: remaining(api_client, ns, "quantumworkspaces") == 0, 30, 2.0)
        return gone, requested
    except ApiException as e:
        print(f"deletion: {e.status} {e.reason}", flush=True)
        return 0, 0.0


def strip_finalizers(kubeconfig: str, ns: str, threads: int, deadline: float) -> int:
    """Last resort (the operator did not release them in time): no namespace left behind."""
    api_client = config.new_client_from_config(config_file=kubeconfig)
    names = q.finalized(api_client, ns)

    def strip(ref: tuple[str, str]) -> None:
        if time.monotonic() <= deadline:
            q.strip_finalizers(api_client, ns, *ref)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(strip, names))
    return len(names)
