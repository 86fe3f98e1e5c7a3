"""Remote (IonQ) jobs on the dev cluster: operator API writes and provider HTTP requests per job, operator RSS.

N QuantumJobs on `ionq.simulator` against the loopback IonQ test server (tests/support/fake_ionq.py, run as
a process; every answer delayed by --latency, jobs queued --wait s and running --run s at the provider).
The real operator runs as a child process in a fresh `bench-*` namespace; both are stopped by PID and the
namespace is deleted at the end. Prints a `metric | value | goal | ok?` table; never asserts.

    .venv/bin/python benchmarks/remote_jobs.py                 # 500 jobs, 50 ms answers, done in ~10 s each
    .venv/bin/python benchmarks/remote_jobs.py --jobs 1000     # the RSS goal is stated at 1,000
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from cluster_bench import SHARED_RESOURCES, api_writes, diff, fmt, ok, print_table  # noqa: E402
from kubernetes import client, config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

from tests.support import devcluster  # noqa: E402
from tests.support import quantum as q  # noqa: E402
from tests.support.fakes import fake_process  # noqa: E402
from tests.support.operator import OperatorProcess  # noqa: E402

KEY = "bench-ionq-key"
BELL = {"qubits": 2, "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]}


class PeakRss(threading.Thread):
    """VmHWM of a process, read until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kib, self.stop_event = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(0.5):
            with contextlib.suppress(OSError, ValueError, IndexError):
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith(("VmHWM:", "VmRSS:")):
                        self.peak_kib = max(self.peak_kib, int(line.split()[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds every provider answer takes")
    parser.add_argument("--wait", type=float, default=4.0, help="seconds a job is queued at the provider")
    parser.add_argument("--run", type=float, default=6.0, help="seconds a job runs at the provider")
    parser.add_argument("--timeout", type=float, default=900.0, help="limit for all jobs to finish")
    args = parser.parse_args()

    cluster = devcluster.start()
    devcluster.install_crds(cluster)
    api_client = config.new_client_from_config(config_file=cluster.kubeconfig)
    core = client.CoreV1Api(api_client)
    ns = f"bench-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": ns}})
    work = Path(tempfile.mkdtemp(prefix="kuantum-bench-remote-"))
    res: dict[str, Any] = {}
    try:
        with fake_process("tests.support.fake_ionq", ["--api-key", KEY, "--wait", str(args.wait), "--run",
                                                      str(args.run)], work) as ionq:
            ionq.control("POST", "faults", {"kind": "slow", "delay": args.latency, "count": -1, "path": "/v0.4/*"})
            q.storage_secret(core, ns, cluster.azurite_connection_string)
            q.workspace(api_client, ns)
            core.create_namespaced_secret(ns, {"metadata": {"name": "ionq"},  # type: ignore[arg-type]
                                               "stringData": {"apiKey": KEY}})
            q.create(api_client, ns, "providers", {"kind": "Provider", "metadata": {"name": "ionq"}, "spec": {
                "workspace": "ws", "providerId": "ionq", "endpoint": f"{ionq.base}/v0.4",
                "credentialsSecretRef": {"name": "ionq", "key": "apiKey"}, "billingPlan": {"name": "bench"}}})
            # Remote jobs wait at the provider, not on this machine: no per-target cap of local solver pods.
            op = OperatorProcess(cluster.kubeconfig, ns, work,
                                 env={"KUANTUM_TARGET_CONCURRENCY": str(max(4, args.jobs))}).start()
            assert op.proc is not None
            rss = PeakRss(op.proc.pid)
            rss.start()
            try:
                time.sleep(3)
                before, http_before = api_writes(op), _provider_requests(ionq.control("GET", "counts"))
                started = time.monotonic()
                for i in range(args.jobs):
                    q.create(api_client, ns, "quantumjobs", {"kind": "QuantumJob", "metadata": {"name": f"r-{i}"},
                             "spec": {"workspace": "ws", "provider": "ionq", "target": "ionq.simulator",
                                      "input": {"inline": BELL}, "inputParams": {"shots": 100}}})
                res["states"] = _wait_all_final(api_client, ns, args.jobs, args.timeout)
                res["elapsed"] = time.monotonic() - started
                time.sleep(2)
                res["writes"] = diff(api_writes(op), before)
                counts = ionq.control("GET", "counts")
                res["http"] = _provider_requests(counts) - http_before
                res["remote_jobs"] = counts["jobs"]
                q.delete_all_jobs(api_client, ns, timeout=max(60.0, args.jobs * 0.5))
            finally:
                rss.stop_event.set()
                res["rss_mib"] = rss.peak_kib / 1024
                op.stop()
    finally:
        with contextlib.suppress(ApiException):
            core.delete_namespace(ns)
    _report(res, args)


def _provider_requests(counts: dict[str, Any]) -> int:
    return sum(int(v) for k, v in counts["counts"].items() if " /v0.4/" in k and "/backends" not in k)


def _wait_all_final(api_client: client.ApiClient, ns: str, count: int, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    states: dict[str, int] = {}
    while time.monotonic() < deadline:
        items = q.custom(api_client).list_namespaced_custom_object(q.GROUP, q.VERSION, ns, "quantumjobs")["items"]
        states = {}
        for item in items:
            state = (item.get("status") or {}).get("state") or "None"
            states[state] = states.get(state, 0) + 1
        if sum(states.get(s, 0) for s in q.FINAL) >= count:
            break
        time.sleep(2)
    return states


def _report(res: dict[str, Any], args: argparse.Namespace) -> None:
    n = args.jobs
    writes = {k: v for k, v in res.get("writes", {}).items() if k[1] not in SHARED_RESOURCES}
    non_events = sum(v for k, v in writes.items() if k[1] != "events")
    states = res.get("states", {})
    rows = [
        (f"succeeded / all ({n} jobs; provider answers in {args.latency * 1000:.0f} ms, jobs done in "
         f"{args.wait + args.run:.0f} s)", f"{states.get('Succeeded', 0)} / {n}", f"{n} / {n}",
         ok(states.get("Succeeded", 0) == n)),
        ("provider jobs created", str(res.get("remote_jobs")), str(n), ok(res.get("remote_jobs") == n)),
        ("operator API writes/job excl. events", fmt(non_events / n), "<= 8", ok(non_events / n <= 8)),
        ("HTTP requests to the provider/job", fmt(res.get("http", 0) / n), "<= 6", ok(res.get("http", 0) / n <= 6)),
        ("operator peak RSS", fmt(res.get("rss_mib"), " MiB", 1), "< 250 MiB at 1,000 jobs",
         ok((res.get("rss_mib") or 0) < 250) + ("" if n >= 1000 else f" ({n} jobs)")),
        ("all jobs final after", fmt(res.get("elapsed"), " s", 1), "", ""),
    ]
    for (verb, resource), v in sorted(writes.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        rows.append((f"  {verb} {resource} /job", fmt(v / n), "", ""))
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
