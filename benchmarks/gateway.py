"""kuantum-gateway on the dev cluster: N jobs through Azure Quantum's REST API, p50/p99 of PUT and GET, RSS.

Runs the real operator and the real gateway as child processes (stopped by PID) in a fresh namespace, with
a tiny Ising problem on microsoft.simulatedannealing.cpu. 16 concurrent clients (aiohttp) do what the SDK
does per job: POST storage/sasUri, upload inputData (gzip) to Azurite, PUT jobs/{id}; then they poll
GET jobs/{id} until every job is final. Goals (issue 10): p99 GET < 20 ms, p99 PUT < 150 ms, gateway
RSS < 150 MiB. Prints a table; never asserts. Writes only under /tmp.

    .venv/bin/python benchmarks/gateway.py                 # 500 jobs, 16 clients
    .venv/bin/python benchmarks/gateway.py --jobs 100 --clients 8
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

    def _error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    async def submit(self, job_id: str, data: bytes) -> None:
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
        t = time.perf_counter()
        async with self.http.put(f"{self.base}/jobs/{job_id}", params=VERSION, json=body) as resp:
            await resp.read()
        self.put_ms.append((time.perf_counter() - t) * 1000)
        if resp.status != 201:
            self._error(f"PUT {resp.status}")

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=500, help="jobs created through the REST API (default 500)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--concurrency", type=int, default=8, help="KUANTUM_TARGET_CONCURRENCY (default 8)")
    parser.add_argument("--timeout", type=float, default=None, help="polling limit in seconds")
    args = parser.parse_args()
    timeout = args.timeout or max(300.0, args.jobs * 3.0)

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
    print(f"namespace {ns}; logs in {log_dir}; {args.jobs} jobs, {args.clients} clients", flush=True)
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
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"\n{'metric':<{width}} | {'value':<{vwidth}} | goal")
    print(f"{'-' * width}-|-{'-' * vwidth}-|-----")
    for name, value, goal in rows:
        print(f"{name:<{width}} | {value:<{vwidth}} | {goal}")


if __name__ == "__main__":
    main()
