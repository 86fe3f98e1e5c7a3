"""kuantum-gateway on the dev cluster: N jobs through Azure Quantum's REST API, p50/p99 of PUT and GET, RSS.

Runs the real operator and the real gateway as child processes (stopped by PID) in a fresh namespace, with
a tiny Ising problem on microsoft.simulatedannealing.cpu. 16 concurrent clients (aiohttp) do what the SDK
does per job: POST storage/sasUri, upload inputData (gzip) to Azurite, PUT jobs/{id}; then they poll
GET jobs/{id} until every job is final. Goals (issue 10): p99 GET < 20 ms, p99 PUT < 150 ms, gateway
RSS < 150 MiB. Prints a table; never asserts. Writes only under /tmp.

`--workload sessions` (issue 26): 200 standalone jobs are queued on the target first (the operator runs
`--concurrency` of them at once), then 8 clients open 20 sessions (PUT sessions/{id}) and submit 10 jobs into
each (PUT jobs/{id} with sessionId), closing each session after its jobs (POST sessions/{id}:close). Measured:
a job's submit -> Executing (its PUT answered -> the first GET that shows it Executing or final), for session
jobs and for standalone ones, and how many standalone jobs still waited when the last session job began.
Goal: session jobs never wait behind standalone ones.

    .venv/bin/python benchmarks/gateway.py                 # 500 jobs, 16 clients
    .venv/bin/python benchmarks/gateway.py --jobs 100 --clients 8
    .venv/bin/python benchmarks/gateway.py --workload sessions   # 20 sessions x 10 jobs, 8 clients, 200 waiting
    .venv/bin/python benchmarks/gateway.py --workload sessions --sessions 5 --session-jobs 4 --standalone 40
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import subprocess  # noqa: E402

import aiohttp  # noqa: E402
from azure.core.exceptions import AzureError  # noqa: E402
from azure.storage.blob import ContentSettings  # noqa: E402
from azure.storage.blob.aio import BlobClient  # noqa: E402
from kubernetes import client, config  # noqa: E402

from tests.support import devcluster  # noqa: E402
from tests.support import quantum as q  # noqa: E402
from tests.support.operator import OperatorProcess, free_port  # noqa: E402

TARGET = "microsoft.simulatedannealing.cpu"
VERSION = {"api-version": "2026-01-15-preview"}
PARAMS = {"params": {"sweeps": 10, "seed": 1, "restarts": 1}}
FINAL = {"Succeeded", "Failed", "Cancelled"}
KEY = "bench-" + uuid.uuid4().hex
MIB = 1024 * 1024


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def rss_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Clients:
    def __init__(self, base: str, clients: int) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(headers={"x-ms-quantum-api-key": KEY},
                                          timeout=aiohttp.ClientTimeout(total=60),
                                          connector=aiohttp.TCPConnector(limit=clients * 2))
        self.put_ms: list[float] = []
        self.get_ms: list[float] = []
        self.sas_ms: list[float] = []
        self.quiet_get_ms: list[float] = []
        self.errors: dict[str, int] = {}
        self.submitted_at: dict[str, float] = {}  # job id -> when its PUT was answered (monotonic)

    def _error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    async def submit(self, job_id: str, data: bytes, session_id: str | None = None) -> None:
        """What the SDK's Target.submit sends (reference section 2)."""
        t = time.perf_counter()
        async with self.http.post(f"{self.base}/storage/sasUri", params=VERSION,
                                  json={"containerName": f"job-{job_id}"}) as sas:
            answer = await sas.json(content_type=None)
        self.sas_ms.append((time.perf_counter() - t) * 1000)
        if sas.status != 200:
            self._error(f"sasUri {sas.status}")
            return
        container = answer["sasUri"]
        plain, _, token = container.partition("?")
        try:  # as the SDK uploads (azure-storage-blob), gzip marked only by Content-Encoding
            async with BlobClient.from_blob_url(f"{plain}/inputData?{token}") as blob:
                await blob.upload_blob(data, content_settings=ContentSettings(
                    content_type="application/json", content_encoding="gzip"))
        except AzureError as e:
            self._error(f"upload {type(e).__name__}")
            return
        body = {"name": f"bench-{job_id[:8]}", "containerUri": container, "inputDataUri": f"{plain}/inputData",
                "inputDataFormat": "microsoft.qio.v2", "outputDataFormat": "microsoft.qio-results.v2",
                "providerId": "microsoft-qio", "target": TARGET, "inputParams": PARAMS, "itemType": "Job"}
        if session_id:
            body["sessionId"] = session_id
        t = time.perf_counter()
        async with self.http.put(f"{self.base}/jobs/{job_id}", params=VERSION, json=body) as resp:
            await resp.read()
        self.put_ms.append((time.perf_counter() - t) * 1000)
        self.submitted_at[job_id] = time.monotonic()
        if resp.status != 201:
            self._error(f"PUT {resp.status}")

    async def session(self, session_id: str, close: bool = False) -> None:
        """What the SDK's open_session (PUT) and close_session (POST :close) send."""
        if close:
            request = self.http.post(f"{self.base}/sessions/{session_id}:close", params=VERSION)
        else:
            request = self.http.put(f"{self.base}/sessions/{session_id}", params=VERSION, json={
                "name": f"session-{session_id}", "providerId": "microsoft-qio", "target": TARGET,
                "itemType": "Session", "jobFailurePolicy": "Abort"})
        async with request as resp:
            await resp.read()
        if resp.status not in (200, 201):
            self._error(f"{'close' if close else 'open'} session {resp.status}")

    async def status(self, job_id: str) -> str | None:
        t = time.perf_counter()
        async with self.http.get(f"{self.base}/jobs/{job_id}", params=VERSION) as resp:
            answer = await resp.json(content_type=None)
        self.get_ms.append((time.perf_counter() - t) * 1000)
        if resp.status != 200:
            self._error(f"GET {resp.status}")
            return None
        return str(answer["status"])


async def drive(base: str, jobs: int, clients: int, timeout: float) -> tuple[Clients, dict[str, str], float, float]:
    c = Clients(base, clients)
    data = gzip.compress(json.dumps(q.ISING).encode())
    ids = [str(uuid.uuid1()) for _ in range(jobs)]
    queue: asyncio.Queue[str] = asyncio.Queue()
    for job_id in ids:
        queue.put_nowait(job_id)

    async def submitter() -> None:
        while not queue.empty():
            await c.submit(queue.get_nowait(), data)

    start = time.monotonic()
    await asyncio.gather(*(submitter() for _ in range(clients)))
    submitted = time.monotonic() - start
    states: dict[str, str] = {}
    deadline = time.monotonic() + timeout

    async def poller(mine: list[str]) -> None:
        pending = list(mine)
        while pending and time.monotonic() < deadline:
            still = []
            for job_id in pending:
                state = await c.status(job_id)
                states[job_id] = state or "?"
                if state not in FINAL:
                    still.append(job_id)
                await asyncio.sleep(0.02)  # paced like the quiet phase: a client never polls back to back
            pending = still
            if pending:
                await asyncio.sleep(0.5)

    await asyncio.gather(*(poller(ids[i::clients]) for i in range(clients)))
    total = time.monotonic() - start
    # Quiet phase: no solver pods compete for the CPUs; every client GETs a job every 20 ms (paced, so the
    # numbers are the gateway's latency, not a queue the clients build themselves).
    busy_get_ms, c.get_ms = c.get_ms, []

    async def reader(mine: list[str]) -> None:
        for job_id in (mine * (1 + 125 // max(1, len(mine))))[:125]:
            await c.status(job_id)
            await asyncio.sleep(0.02)

    await asyncio.gather(*(reader(ids[i::clients]) for i in range(clients)))
    c.quiet_get_ms, c.get_ms = c.get_ms, busy_get_ms
    await c.http.close()
    return c, states, submitted, total


STARTED = {"Executing", *FINAL}


async def drive_sessions(base: str, sessions: int, per_session: int, standalone: int, clients: int,
                         timeout: float) -> tuple[Clients, dict[str, float], dict[str, float], int]:
    """Standalone jobs queued first, then the sessions' jobs; returns the clients, each job's submit -> Executing
    (session jobs, standalone jobs, seconds) and how many standalone jobs waited when the last session job began."""
    c = Clients(base, clients)
    data = gzip.compress(json.dumps(q.ISING).encode())
    lone = [str(uuid.uuid1()) for _ in range(standalone)]
    todo: asyncio.Queue[str] = asyncio.Queue()
    for job_id in lone:
        todo.put_nowait(job_id)

    async def lone_submitter() -> None:
        while not todo.empty():
            await c.submit(todo.get_nowait(), data)

    await asyncio.gather(*(lone_submitter() for _ in range(clients)))
    began: dict[str, float] = {}
    in_sessions: list[str] = []
    waiting_behind: list[int] = []
    deadline = time.monotonic() + timeout

    async def watch(job_ids: list[str]) -> None:
        """Polls until each job shows Executing (or final): when it began, as a client sees it."""
        pending = list(job_ids)
        while pending and time.monotonic() < deadline:
            still = []
            for job_id in pending:
                if await c.status(job_id) in STARTED:
                    began.setdefault(job_id, time.monotonic())
                else:
                    still.append(job_id)
            pending = still
            if pending:
                await asyncio.sleep(0.25)

    opened: asyncio.Queue[str] = asyncio.Queue()
    for _ in range(sessions):
        opened.put_nowait(str(uuid.uuid1()))

    async def session_client() -> None:
        while not opened.empty():
            session_id = opened.get_nowait()
            await c.session(session_id)
            mine = [str(uuid.uuid1()) for _ in range(per_session)]
            for job_id in mine:
                await c.submit(job_id, data, session_id)
            in_sessions.extend(mine)
            await c.session(session_id, close=True)
            await watch(mine)

    lone_watcher = asyncio.create_task(watch(lone))
    await asyncio.gather(*(session_client() for _ in range(clients)))
    # Standalone jobs that had not begun when the last session job did: the session jobs went ahead of them.
    last = max((began[j] for j in in_sessions if j in began), default=None)
    if last is not None:
        waiting_behind.append(sum(1 for j in lone if began.get(j, float("inf")) > last))
    await lone_watcher
    await c.http.close()

    def waits(ids: list[str]) -> dict[str, float]:
        return {j: began[j] - c.submitted_at[j] for j in ids if j in began and j in c.submitted_at}

    return c, waits(in_sessions), waits(lone), waiting_behind[0] if waiting_behind else 0


def print_table(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"\n{'metric':<{width}} | {'value':<{vwidth}} | goal")
    print(f"{'-' * width}-|-{'-' * vwidth}-|-----")
    for name, value, goal in rows:
        print(f"{name:<{width}} | {value:<{vwidth}} | {goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=500, help="jobs created through the REST API (default 500)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--concurrency", type=int, default=8, help="KUANTUM_TARGET_CONCURRENCY (default 8)")
    parser.add_argument("--timeout", type=float, default=None, help="polling limit in seconds")
    parser.add_argument("--workload", choices=("jobs", "sessions"), default="jobs",
                        help="jobs: N jobs through PUT/GET (default); sessions: session jobs while standalone wait")
    parser.add_argument("--sessions", type=int, default=20, help="sessions workload: sessions (default 20)")
    parser.add_argument("--session-jobs", type=int, default=10, help="sessions workload: jobs per session (10)")
    parser.add_argument("--standalone", type=int, default=200, help="sessions workload: standalone jobs (200)")
    args = parser.parse_args()
    if args.workload == "sessions" and "--clients" not in sys.argv:
        args.clients = 8
    if args.workload == "sessions" and "--concurrency" not in sys.argv:
        args.concurrency = 2  # standalone jobs must wait: the target runs two at a time
    total_jobs = args.jobs if args.workload == "jobs" else args.sessions * args.session_jobs + args.standalone
    timeout = args.timeout or max(300.0, total_jobs * 3.0)

    cluster = devcluster.start()
    devcluster.install_crds(cluster)
    api_client = config.new_client_from_config(config_file=cluster.kubeconfig)
    core = client.CoreV1Api(api_client)
    ns = f"bench-gw-{uuid.uuid4().hex[:8]}"
    log_dir = Path(tempfile.mkdtemp(prefix="kuantum-bench-gateway-"))
    core.create_namespace({"metadata": {"name": ns, "labels": {"kuantum.dev/benchmark": "true"}}})  # type: ignore[arg-type]
    op = OperatorProcess(cluster.kubeconfig, ns, log_dir, env={"KUANTUM_TARGET_CONCURRENCY": str(args.concurrency)})
    port = free_port()
    gateway: subprocess.Popen[bytes] | None = None
    what = (f"{args.jobs} jobs" if args.workload == "jobs" else
            f"{args.sessions} sessions x {args.session_jobs} jobs while {args.standalone} standalone jobs wait, "
            f"target concurrency {args.concurrency}")
    print(f"namespace {ns}; logs in {log_dir}; {what}, {args.clients} clients", flush=True)
    try:
        op.start()
        q.storage_secret(core, ns, cluster.azurite_connection_string)
        core.create_namespaced_secret(ns, {"metadata": {"name": "api"},  # type: ignore[arg-type]
                                           "stringData": {"key": KEY}})
        q.create(api_client, ns, "quantumworkspaces", {
            "kind": "QuantumWorkspace", "metadata": {"name": "ws"},
            "spec": {"storage": {"connectionStringSecretRef": {"name": "storage", "key": "connectionString"}},
                     "gateway": {"apiKeySecretRef": {"name": "api", "key": "key"}}}})
        with open(log_dir / "gateway.log", "ab") as log:
            gateway = subprocess.Popen([sys.executable, "-c", "from kuantum.gateway.app import main; main()",
                                        "--listen", f"127.0.0.1:{port}", "--kubeconfig", cluster.kubeconfig,
                                        "-n", ns], stdout=log, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        base = (f"http://127.0.0.1:{port}/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/{ns}"
                "/providers/Microsoft.Quantum/workspaces/ws")
        if args.workload == "sessions":
            c, in_session, alone, overtaken = asyncio.run(drive_sessions(
                base, args.sessions, args.session_jobs, args.standalone, args.clients, timeout))
        else:
            c, states, submitted, total = asyncio.run(drive(base, args.jobs, args.clients, timeout))
        hwm = rss_kib(gateway.pid, "VmHWM")
        now = rss_kib(gateway.pid, "VmRSS")
    finally:
        if gateway and gateway.poll() is None:
            gateway.terminate()
            gateway.wait(timeout=15)
        try:
            q.delete_all_jobs(api_client, ns, timeout=300)
        finally:
            op.stop()
            core.delete_namespace(ns)

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f} ms"

    def sec(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f} s"

    if args.workload == "sessions":
        session_jobs = args.sessions * args.session_jobs
        print_table([
            ("session jobs seen Executing", f"{len(in_session)} of {session_jobs}", f"{session_jobs}"),
            ("session job submit → Executing p50", sec(percentile(list(in_session.values()), 50)), ""),
            ("session job submit → Executing p99", sec(percentile(list(in_session.values()), 99)),
             "never behind standalone jobs"),
            ("standalone job submit → Executing p50", sec(percentile(list(alone.values()), 50)), ""),
            ("standalone job submit → Executing p99", sec(percentile(list(alone.values()), 99)), ""),
            ("standalone jobs still waiting when the last session job began", str(overtaken),
             "the session jobs went ahead of these"),
            ("errors", ", ".join(f"{k} x{v}" for k, v in sorted(c.errors.items())) or "none", "none"),
            ("PUT jobs/{id} p99", ms(percentile(c.put_ms, 99)), "< 150 ms"),
            ("GET jobs/{id} p99", ms(percentile(c.get_ms, 99)), "< 20 ms"),
            ("gateway RSS peak (VmHWM)", f"{(hwm or 0) / 1024:.0f} MiB", "< 150 MiB"),
        ])
        return

    counts: dict[str, int] = {}
    for s in states.values():
        counts[s] = counts.get(s, 0) + 1
    rows = [
        ("jobs (final states)", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), f"{args.jobs} Succeeded"),
        ("errors", ", ".join(f"{k} x{v}" for k, v in sorted(c.errors.items())) or "none", "none"),
        ("PUT jobs/{id} p50", ms(percentile(c.put_ms, 50)), ""),
        ("PUT jobs/{id} p99", ms(percentile(c.put_ms, 99)), "< 150 ms"),
        ("GET jobs/{id} p50, while jobs run", ms(percentile(c.get_ms, 50)), ""),
        ("GET jobs/{id} p99, while jobs run", ms(percentile(c.get_ms, 99)), "< 20 ms"),
        ("GET jobs/{id} p50, quiet cluster", ms(percentile(c.quiet_get_ms, 50)), ""),
        ("GET jobs/{id} p99, quiet cluster", ms(percentile(c.quiet_get_ms, 99)), "< 20 ms"),
        ("POST storage/sasUri p99", ms(percentile(c.sas_ms, 99)), ""),
        ("GET requests (running / quiet)", f"{len(c.get_ms)} / {len(c.quiet_get_ms)}", ""),
        ("submit phase (sasUri+upload+PUT)", f"{submitted:.1f} s ({args.jobs / submitted:.1f} jobs/s)", ""),
        ("submit → all final", f"{total:.1f} s", ""),
        ("gateway RSS peak (VmHWM)", f"{(hwm or 0) / 1024:.0f} MiB", "< 150 MiB"),
        ("gateway RSS at end", f"{(now or 0) / 1024:.0f} MiB", ""),
    ]
    print_table(rows)


if __name__ == "__main__":
    main()
