"""Operator throughput on the dev cluster: QuantumJobs apply → Succeeded, API writes per job, latency, RSS.

Runs the real operator (a child process, stopped by PID) against the running dev cluster in a fresh namespace,
with a tiny Ising problem on microsoft.simulatedannealing.cpu (10 sweeps, so the solver is ~free and the
operator's overhead shows). Phases:

1. latency: jobs submitted one at a time while capacity is free; p50/p99 of Waiting → Executing as seen by a
   watch (wall clock; the status timestamps only have 1 s resolution);
2. throughput: N jobs applied at once; jobs/s from the first apply to the last Succeeded;
3. deletion: all QuantumJobs deleted while the operator runs (finalizer release, counted separately);
4. baseline (the peer): the same number of bare batch/v1 Jobs running the same `kuantum-solve` command with
   the same pod spec, no operator; jobs/s apply → Complete. The table shows operator ÷ bare.

API writes come from the operator's own `kuantum_api_writes_total{verb,resource}` counters (before/after), plus
an apiserver-side cross-check of PATCHes on quantumjobs (cluster-wide counter). Peak RSS is the operator's
VmHWM (VmRSS sampled every 0.5 s as well). Prints a table; never asserts timings. Writes only under /tmp.

    .venv/bin/python benchmarks/operator_throughput.py              # 200 jobs
    .venv/bin/python benchmarks/operator_throughput.py --full       # 1,000 jobs
    .venv/bin/python benchmarks/operator_throughput.py --jobs 50 --latency-jobs 20 --skip-baseline
    .venv/bin/python benchmarks/operator_throughput.py --full --tracing-overhead --skip-baseline
                                                    # two runs, tracing off then on: CPU s/job, p99, ratios
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import tracing_overhead  # noqa: E402
from cluster_bench import (  # noqa: E402
    PARAMS,
    SHARED_RESOURCES,
    TARGET,
    RssSampler,
    Seen,
    Watcher,
    api_writes,
    apiserver_quantumjob_patches,
    diff,
    fmt,
    namespace_gone,
    ok,
    percentile,
    print_table,
    settle_writes,
    wait_until,
)
from kuantum.catalog import targets_of  # noqa: E402
from kuantum.execution.pod import builders  # noqa: E402
from kuantum.runtime.settings import Settings  # noqa: E402
from kuantum.storage.blobs import INPUT_BLOB, WorkspaceStorage, container_name  # noqa: E402
from kubernetes import client, config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

from tests.support import devcluster  # noqa: E402
from tests.support import quantum as q  # noqa: E402
from tests.support.blobs import job_containers, remove_job_containers  # noqa: E402
from tests.support.operator import OperatorProcess  # noqa: E402

JOB_IDS: dict[str, str] = {}  # QuantumJob name -> status.id, filled by the QuantumJob watch


def qjob_state(obj: dict[str, Any]) -> str | None:
    status = obj.get("status") or {}
    if status.get("id"):
        JOB_IDS.setdefault(obj["metadata"]["name"], status["id"])
    state = status.get("state")
    return state


def pod_key(obj: Any) -> str | None:
    return (obj.metadata.labels or {}).get("kuantum.dev/job-id")


def pod_state(obj: Any) -> str | None:
    """'Started' once the kubelet reports the solver container running (or already finished)."""
    phase = obj.status.phase if obj.status else None
    return "Started" if phase in ("Running", "Succeeded", "Failed") else None


def batch_state(obj: Any) -> str | None:
    st = obj.status
    if st is None:
        return None
    for c in st.conditions or []:
        if c.status == "True" and c.type in ("Complete", "Failed"):
            return c.type
    return "Active" if st.active else None


# ---------------------------------------------------------------------------------------------- phases
def submit_qjob(api_client: client.ApiClient, ns: str, name: str) -> None:
    q.create(api_client, ns, "quantumjobs", {
        "kind": "QuantumJob", "metadata": {"name": name},
        "spec": {"workspace": "ws", "provider": "microsoft-qio", "target": TARGET, "inputParams": PARAMS,
                 "input": {"inline": q.ISING}}})


def wait_final(seen: Seen, names: list[str], states: tuple[str, ...], timeout: float) -> float | None:
    """Monotonic time the last of names reached states, or None on timeout."""
    ok = wait_until(lambda: seen.count(states, names) == len(names), timeout, interval=0.1)
    if not ok:
        return None
    return max(min(t for s, t in seen.times[n].items() if s in states) for n in names)


def left_waiting(seen: Seen, name: str) -> tuple[float | None, bool]:
    """First time the job was seen past Waiting, and whether that was Executing (not straight to a final state)."""
    with seen.lock:
        times = seen.times.get(name, {})
        found = [(t, s) for s, t in times.items() if s in ("Executing", *q.FINAL)]
    if not found:
        return None, False
    t, state = min(found)
    return t, state == "Executing"


def latency_phase(api_client: client.ApiClient, ns: str, seen: Seen, pods: Seen, count: int) -> dict[str, Any]:
    lat, apply_exec, apply_done, to_pod, missed, skipped = [], [], [], [], 0, 0
    for i in range(count):
        name = f"lat-{i:04d}"
        t_apply = time.monotonic()
        submit_qjob(api_client, ns, name)
        if wait_final(seen, [name], q.FINAL, timeout=60) is None:
            raise SystemExit(f"latency job {name} did not finish in 60 s")
        executing, was_executing = left_waiting(seen, name)
        skipped += not was_executing
        if (succeeded := seen.get(name, "Succeeded")) is not None:
            apply_done.append(succeeded - t_apply)
        waiting = seen.get(name, "Waiting")
        if executing is None:
            continue
        if waiting is None:  # never saw Waiting (a pool's warm worker took it at once; else the watch missed it)
            missed += 1
            waiting = t_apply
        lat.append(executing - waiting)
        apply_exec.append(executing - t_apply)
        started = pods.get(JOB_IDS.get(name, ""), "Started")
        if started is not None:
            to_pod.append(started - waiting)
    return {"lat": lat, "apply_exec": apply_exec, "apply_done": apply_done, "to_pod": to_pod, "missed": missed,
            "skipped": skipped}


def throughput_phase(api_client: client.ApiClient, ns: str, seen: Seen, count: int,
                     timeout: float) -> dict[str, Any]:
    names = [f"job-{i:05d}" for i in range(count)]
    t0 = time.monotonic()
    for name in names:
        submit_qjob(api_client, ns, name)
    t_applied = time.monotonic()
    t_end = wait_final(seen, names, q.FINAL, timeout=timeout)
    with seen.lock:
        states = {n: next((s for s in q.FINAL if s in seen.times.get(n, {})), "timeout") for n in names}
    queued = []
    for n in names:
        left, _ = left_waiting(seen, n)
        if left is not None:
            queued.append(left - (seen.get(n, "Waiting") or t0))
    done = sum(1 for s in states.values() if s != "timeout")
    elapsed = (t_end or time.monotonic()) - t0
    failed = [n for n, s in states.items() if s not in ("Succeeded", "timeout")]
    for name in failed:  # say why, before the namespace is deleted
        print(f"job {name} ended {states[name]}: {q.job_status(api_client, ns, name).get('errorData')}")
    return {"elapsed": elapsed, "apply_s": t_applied - t0, "done": done,
            "succeeded": sum(1 for s in states.values() if s == "Succeeded"),
            "failed": failed, "timed_out": t_end is None, "queued": queued}


def baseline_phase(api_client: client.ApiClient, ns: str, conn: str, count: int, timeout: float) -> dict[str, Any]:
    """Bare batch/v1 Jobs with the operator's pod spec, URLs passed as plain env values; no operator."""
    storage = WorkspaceStorage(conn)
    base_id = f"{ns}-baseline"
    target = targets_of("microsoft-qio")[TARGET]
    input_format = target.default_input_format
    output_format = target.output_format_for(input_format)
    storage.upload_input(base_id, json.dumps(q.ISING).encode(), input_format, uid=f"{ns}-baseline",
                         owner=f"{ns}/baseline")
    container = container_name(base_id)
    in_url = storage.sas_url(container, INPUT_BLOB, write=False, valid_for=timedelta(hours=2))
    batch = client.BatchV1Api(api_client)
    labels = {"kuantum.dev/benchmark": "baseline"}
    fake_owner = {"metadata": {"name": "x", "namespace": ns, "uid": "0"},
                  "spec": {"workspace": "ws", "provider": "microsoft-qio", "target": TARGET}}
    bodies = []
    for i in range(count):
        body = builders.solver_job(fake_owner, f"{i:05d}", target, Settings().solver_image, input_format,
                                   output_format, None, target.default_cpu, target.default_memory)
        body["metadata"] = {"name": f"bare-{i:05d}", "namespace": ns, "labels": labels}
        body["spec"]["template"]["metadata"] = {"labels": labels}
        out_url = storage.sas_url(container, f"outputData-{i}", write=True,
                                  valid_for=timedelta(hours=2))
        body["spec"]["template"]["spec"]["containers"][0]["env"] = [
            {"name": "KUANTUM_INPUT_URL", "value": in_url}, {"name": "KUANTUM_OUTPUT_URL", "value": out_url},
            {"name": "KUANTUM_PARAMS", "value": json.dumps(PARAMS)}]
        bodies.append(body)
    watcher = Watcher(batch.list_namespaced_job, batch_state, max_seconds=timeout + 60, namespace=ns,
                      label_selector="kuantum.dev/benchmark=baseline")
    watcher.start()
    watcher.ready.wait(30)
    try:
        t0 = time.monotonic()
        for body in bodies:
            batch.create_namespaced_job(ns, body)
        names = [b["metadata"]["name"] for b in bodies]
        t_end = wait_final(watcher.seen, names, ("Complete", "Failed"), timeout=timeout)
        with watcher.seen.lock:
            complete = sum(1 for n in names if "Complete" in watcher.seen.times.get(n, {}))
        elapsed = (t_end or time.monotonic()) - t0
    finally:
        watcher.stop_event.set()
        with contextlib.suppress(ApiException):
            batch.delete_collection_namespaced_job(ns, label_selector="kuantum.dev/benchmark=baseline",
                                                   propagation_policy="Background")
        with contextlib.suppress(Exception):
            storage.service.delete_container(container)
    return {"elapsed": elapsed, "complete": complete, "timed_out": t_end is None, "count": count}


# ---------------------------------------------------------------------------------------------- main
def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat fields 14 and 15, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200, help="QuantumJobs in the throughput phase (default 200)")
    parser.add_argument("--full", action="store_true", help="1,000 jobs (the RSS goal is stated at 1,000)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="KUANTUM_TARGET_CONCURRENCY for the operator (default 8; the node has 2 CPUs and "
                             "each solver pod requests 500m, so at most 4 pods run at once)")
    parser.add_argument("--latency-jobs", type=int, default=30, help="jobs submitted one at a time (default 30)")
    parser.add_argument("--baseline-jobs", type=int, default=None,
                        help="bare batch/v1 Jobs for the peer (default: --jobs, at most 200)")
    parser.add_argument("--skip-baseline", action="store_true", help="no bare batch/v1 Job peer")
    parser.add_argument("--timeout", type=float, default=None, help="throughput phase limit in seconds")
    parser.add_argument("--pool", type=int, default=0, metavar="N",
                        help="KUANTUM_SOLVER_POOL_SIZE for the operator: jobs run on up to N warm solver workers "
                             "instead of a batch Job each (default 0); one warm-up job starts a worker first")
    parser.add_argument("--tracing-overhead", action="store_true",
                        help="run twice, tracing off then on (an OTLP/HTTP receiver in this process, on the dev "
                             "node's address, takes the operator's and the solver pods' spans), and print the "
                             "operator's CPU s/job and p99 Waiting→Executing of both and their ratio")
    args = parser.parse_args()
    jobs = 1000 if args.full else args.jobs
    if jobs < 1 or args.latency_jobs < 0:
        parser.error("--jobs must be >= 1 and --latency-jobs >= 0")
    cluster = devcluster.start()
    devcluster.install_crds(cluster)
    if not args.tracing_overhead:
        res = measure(cluster, args, jobs, {})
        if not args.skip_baseline and "tp" in res:
            baseline_jobs = args.baseline_jobs if args.baseline_jobs is not None else min(jobs, 200)
            try:
                res["base"] = baseline(cluster, baseline_jobs)
            except Exception as e:  # the operator's table is still worth printing
                print(f"baseline phase failed: {type(e).__name__}: {e}")
        report(res, jobs, args)
        return
    runs, spans = tracing_overhead.measure_off_and_on(lambda env: measure(cluster, args, jobs, env))
    for mode, res in runs.items():
        print(f"\n== tracing {mode}")
        report(res, jobs, args)
    tracing_overhead.report(runs, jobs, args.latency_jobs, spans)


def baseline(cluster: devcluster.Cluster, count: int) -> dict[str, Any]:
    api_client = config.new_client_from_config(config_file=cluster.kubeconfig)
    core = client.CoreV1Api(api_client)
    ns = f"bench-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": ns, "labels": {"kuantum.dev/benchmark": "true"}}})
    print(f"baseline phase: {count} bare batch/v1 Jobs, no operator ...", flush=True)
    try:
        return baseline_phase(api_client, ns, cluster.azurite_connection_string, count,
                              timeout=max(300.0, count * 3.0))
    finally:
        with contextlib.suppress(ApiException):
            core.delete_namespace(ns)
        wait_until(lambda: namespace_gone(core, ns), 120, 1.0)


def measure(cluster: devcluster.Cluster, args: argparse.Namespace, jobs: int, env: dict[str, str]
            ) -> dict[str, Any]:
    """One run of the operator in a fresh namespace: the latency, throughput and deletion phases."""
    timeout = args.timeout or max(300.0, jobs * 3.0)
    containers = job_containers(cluster.azurite_connection_string)
    api_client = config.new_client_from_config(config_file=cluster.kubeconfig)
    watch_client = config.new_client_from_config(config_file=cluster.kubeconfig)
    core = client.CoreV1Api(api_client)
    ns = f"bench-{uuid.uuid4().hex[:8]}"
    log_dir = Path(tempfile.mkdtemp(prefix="kuantum-bench-"))
    core.create_namespace({"metadata": {"name": ns, "labels": {"kuantum.dev/benchmark": "true"}}})
    # KUANTUM_QUEUE_POSITION_SECONDS: the operator's default, not the tests' 1, so writes are as in production
    op = OperatorProcess(cluster.kubeconfig, ns, log_dir, env={
        "KUANTUM_TARGET_CONCURRENCY": str(args.concurrency), "KUANTUM_SOLVER_POOL_SIZE": str(args.pool),
        "KUANTUM_QUEUE_POSITION_SECONDS": str(Settings().queue_position_seconds), **env})
    watcher = Watcher(q.custom(watch_client).list_namespaced_custom_object, qjob_state,
                      max_seconds=timeout + args.latency_jobs * 60 + 600,
                      group=q.GROUP, version=q.VERSION, namespace=ns, plural="quantumjobs")
    pod_client = config.new_client_from_config(config_file=cluster.kubeconfig)
    pod_watcher = Watcher(client.CoreV1Api(pod_client).list_namespaced_pod, pod_state,
                          max_seconds=timeout + args.latency_jobs * 60 + 600, key_of=pod_key,
                          namespace=ns, label_selector="kuantum.dev/job-id")
    rss = None
    res: dict[str, Any] = {}
    print(f"namespace {ns}; operator log {op.log_path}; {jobs} jobs, {args.latency_jobs} latency jobs, "
          f"concurrency {args.concurrency}{'; ' + ', '.join(env) if env else ''}", flush=True)
    try:
        try:
            op.start()
            assert op.proc is not None
            rss = RssSampler(op.proc.pid)
            rss.start()
            q.storage_secret(core, ns, cluster.azurite_connection_string)
            q.workspace(api_client, ns)

            def ready() -> bool:
                provs = q.custom(api_client).list_namespaced_custom_object(
                    q.GROUP, q.VERSION, ns, "providers")["items"]
                objs = [q.get(api_client, ns, "quantumworkspaces", "ws"),
                        next((p for p in provs if p["spec"].get("providerId") == "microsoft-qio"), None)]
                conds = [q.condition((o or {}).get("status") or {}, "Ready") or {} for o in objs]
                return all(c.get("status") == "True" for c in conds)

            if not wait_until(ready, 60, 0.5):
                raise SystemExit(f"workspace/provider not Ready after 60 s; see {op.log_path}")
            watcher.start()
            pod_watcher.start()
            watcher.ready.wait(30)
            pod_watcher.ready.wait(30)
            if args.pool:  # a worker started and warm, as a pool in use has; not measured
                submit_qjob(api_client, ns, "warm-up")
                if wait_final(seen=watcher.seen, names=["warm-up"], states=q.FINAL, timeout=180) is None:
                    raise SystemExit(f"the warm-up job did not finish in 180 s; see {op.log_path}")
            time.sleep(2)  # let setup writes settle
            before = api_writes(op)
            server_before = apiserver_quantumjob_patches(api_client)
            cpu_before = cpu_seconds(op.proc.pid)

            print(f"latency phase: {args.latency_jobs} jobs one at a time ...", flush=True)
            res["lat"] = latency_phase(api_client, ns, watcher.seen, pod_watcher.seen, args.latency_jobs)
            mid = settle_writes(op)
            print(f"throughput phase: {jobs} jobs ...", flush=True)
            res["tp"] = throughput_phase(api_client, ns, watcher.seen, jobs, timeout)
            after = settle_writes(op)
            res["cpu_s"] = cpu_seconds(op.proc.pid) - cpu_before
            server_after = apiserver_quantumjob_patches(api_client)
            res["writes"] = diff(after, before)
            res["writes_lat"], res["writes_tp"] = diff(mid, before), diff(after, mid)
            res["server_patches"] = (server_after - server_before) if None not in (server_after, server_before) \
                else None  # type: ignore[operator]

            print("deletion phase ...", flush=True)
            t_del = time.monotonic()
            q.delete_all_jobs(api_client, ns, timeout=max(60.0, jobs * 0.5))
            res["delete_s"] = time.monotonic() - t_del
            res["delete_writes"] = diff(settle_writes(op, quiet_for=1.0), after)
            res["rss_peak_kib"] = max(rss.peak_kib, rss.field_kib("VmHWM"))
            res["rss_last_kib"] = rss.field_kib("VmRSS")
        finally:
            watcher.stop_event.set()
            pod_watcher.stop_event.set()
            if rss is not None:
                rss.stop_event.set()
            if op.proc and op.proc.poll() is None:
                with contextlib.suppress(Exception):
                    q.delete_all_jobs(api_client, ns, timeout=60)  # while the operator runs: finalizers released
            op.stop()
            res["log"] = op.log()
    finally:
        with contextlib.suppress(ApiException):
            core.delete_namespace(ns)
        gone = wait_until(lambda: namespace_gone(core, ns), 120, 1.0)
        if not gone:
            print(f"warning: namespace {ns} still terminating", flush=True)
        removed = remove_job_containers(cluster.azurite_connection_string, containers)
        print(f"deleted the {removed} job blob containers this run made", flush=True)
    return res


def report(res: dict[str, Any], jobs: int, args: argparse.Namespace) -> None:
    rows: list[tuple[str, str, str, str]] = []
    tp, lat = res["tp"], res["lat"]
    n_jobs = jobs + args.latency_jobs
    op_rate = tp["done"] / tp["elapsed"] if tp["elapsed"] > 0 else None
    rows.append((f"operator jobs/s apply→final ({jobs} jobs, conc {args.concurrency})", fmt(op_rate, "", 2),
                 "", ""))
    rows.append(("  succeeded / failed / unfinished", f"{tp['succeeded']} / {len(tp['failed'])} / "
                 f"{jobs - tp['done']}", f"{jobs} / 0 / 0", ok(tp["succeeded"] == jobs)))
    rows.append(("  apply of all jobs took", fmt(tp["apply_s"], " s"), "", ""))
    base = res.get("base")
    if base:
        b_rate = base["complete"] / base["elapsed"] if base["elapsed"] > 0 else None
        rows.append((f"bare batch/v1 Job jobs/s apply→Complete ({base['count']} jobs)", fmt(b_rate), "", ""))
        rows.append(("  bare complete / total", f"{base['complete']} / {base['count']}", "", ""))
        ratio = op_rate / b_rate if op_rate and b_rate else None
        rows.append(("operator ÷ bare Job throughput", fmt(ratio, "x"), "", ""))
    w = res["writes"]
    per_job = {k: v for k, v in w.items() if k[1] not in SHARED_RESOURCES}
    events = sum(v for k, v in per_job.items() if k[1] == "events")
    non_events = sum(v for k, v in per_job.items() if k[1] != "events")
    rows.append((f"API writes/job excl. events ({n_jobs} jobs)", fmt(non_events / n_jobs), "<= 8",
                 ok(non_events / n_jobs <= 8)))
    rows.append(("API writes/job incl. events", fmt((non_events + events) / n_jobs), "<= 8",
                 ok((non_events + events) / n_jobs <= 8)))
    for (verb, resource), v in sorted(per_job.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        rows.append((f"  {verb} {resource} /job", fmt(v / n_jobs), "", ""))
    for label, key, count in (("latency phase (never queued)", "writes_lat", args.latency_jobs),
                              ("throughput phase (queued)", "writes_tp", jobs)):
        phase = {k: v for k, v in res.get(key, {}).items() if k[1] not in SHARED_RESOURCES}
        if count:
            status = sum(v for k, v in phase.items() if k[1] == "quantumjobs/status")
            rows.append((f"  {label}: writes/job excl. events (status patches)",
                         f"{fmt(sum(v for k, v in phase.items() if k[1] != 'events') / count)} "
                         f"({fmt(status / count)})", "", ""))
    shared = {k: v for k, v in w.items() if k[1] in SHARED_RESOURCES}
    for (verb, resource), v in sorted(shared.items()):
        rows.append((f"  {verb} {resource} (whole run, not per job)", fmt(v, "", 0), "", ""))
    if res.get("server_patches") is not None:
        op_qj = sum(v for (verb, r), v in per_job.items() if verb == "patch" and r.startswith("quantumjobs"))
        rows.append(("  cross-check: apiserver PATCH quantumjobs /job (cluster-wide)",
                     fmt(res["server_patches"] / n_jobs), f"≈ {op_qj / n_jobs:.2f} (operator count)", ""))
    dw = {k: v for k, v in res.get("delete_writes", {}).items() if k[1] not in SHARED_RESOURCES}
    rows.append(("API writes/job at deletion (finalizer release etc.)", fmt(sum(dw.values()) / n_jobs), "", ""))
    for (verb, resource), v in sorted(dw.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        rows.append((f"  {verb} {resource} /job at deletion", fmt(v / n_jobs), "", ""))
    rows.append(("  deleting all jobs took", fmt(res.get("delete_s"), " s"), "", ""))
    p50, p99 = percentile(lat["lat"], 50), percentile(lat["lat"], 99)
    n = len(lat["lat"])
    rows.append((f"Waiting→Executing p50, capacity free (n={n}, watch)", fmt(p50, " s", 3), "", ""))
    rows.append((f"Waiting→Executing p99, capacity free (n={n}, watch)", fmt(p99, " s", 3), "< 1 s",
                 ok(p99 is not None and p99 < 1.0)))
    if lat["skipped"]:
        rows.append(("  jobs never seen Executing (went Waiting→final in one write)", f"{lat['skipped']} / {n}",
                     "", ""))
    rows.append(("  Waiting→solver pod started p50 / p99 (pod watch)",
                 f"{fmt(percentile(lat['to_pod'], 50), ' s', 3)} / {fmt(percentile(lat['to_pod'], 99), ' s', 3)}",
                 "", ""))
    rows.append(("  apply→Executing p50 / p99, capacity free",
                 f"{fmt(percentile(lat['apply_exec'], 50), ' s', 3)} / "
                 f"{fmt(percentile(lat['apply_exec'], 99), ' s', 3)}", "", ""))
    done = lat.get("apply_done") or []
    rows.append((f"apply→Succeeded p50 / p99, capacity free (n={len(done)})",
                 f"{fmt(percentile(done, 50), ' s', 3)} / {fmt(percentile(done, 99), ' s', 3)}", "p50 <= 3 s",
                 ok((percentile(done, 50) or float("inf")) <= 3.0)))
    if lat["missed"] and args.pool:  # a warm worker takes a job in its first reconcile: one write, Executing
        rows.append(("  jobs started in their first reconcile (never Waiting; from the apply)", str(lat["missed"]),
                     "", ""))
    elif lat["missed"]:
        rows.append(("  jobs whose Waiting state the watch never saw", str(lat["missed"]), "0", ok(False)))
    rows.append(("  Waiting→Executing p50 / p99 in throughput phase (queued)",
                 f"{fmt(percentile(tp['queued'], 50), ' s')} / {fmt(percentile(tp['queued'], 99), ' s')}", "", ""))
    lines = res.get("log", "").splitlines()
    errors = sum(1 for line in lines if " ERROR " in line or " CRITICAL " in line)
    rows.append((f"operator log lines/job at INFO ({len(lines)} lines, {n_jobs} jobs)", fmt(len(lines) / n_jobs),
                 "<= 4", ok(len(lines) / n_jobs <= 4)))
    rows.append(("  ERROR lines / tracebacks in the operator log",
                 f"{errors} / {sum(1 for line in lines if line.startswith('Traceback'))}", "0 / 0",
                 ok(errors == 0 and not any(line.startswith("Traceback") for line in lines))))
    peak = res.get("rss_peak_kib", 0) / 1024
    goal_note = "< 250 MiB at 1,000 jobs"
    rows.append((f"operator peak RSS (VmHWM, {n_jobs} jobs)", fmt(peak, " MiB", 1), goal_note,
                 ok(peak < 250) + ("" if jobs >= 1000 else " (<1,000 jobs)")))
    rows.append(("  operator RSS at the end", fmt(res.get("rss_last_kib", 0) / 1024, " MiB", 1), "", ""))
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
