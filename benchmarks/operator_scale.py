"""Operator scale on the dev cluster: thousands of waiting QuantumJobs, many workspaces.

One namespace, the real operator as a child process (stopped by PID). Workspace `big` gets `--jobs` (5,000)
QuantumJobs behind a plan of `maxConcurrentJobs: --plan` (4); then `--workspaces` (50) small workspaces get
`--per-workspace` (20) jobs each (plan `maxConcurrentJobs: --small-plan`, 1). Every job is the same tiny Ising
problem on microsoft.simulatedannealing.cpu. Not every job is run to the end; measured:

- time from the first create until every job has a status (a watch on QuantumJobs);
- operator peak RSS (VmHWM), operator CPU seconds (/proc/PID/stat) per job, API writes per job (the
  operator's own `kuantum_api_writes_total`, before/after);
- slot freed → next job: for each of the first `--window` completions of a workspace's job, the time until
  the job that took its slot (the plan's slots are filled in queue order) had its solver Job created (the
  operator's part) and was Executing (also the cluster's: pod scheduled and started on the 2-CPU node); and,
  per job started, solver Job → its pod running (the cluster's part) and pod running → Executing (the
  operator's). Solver pods request a share of the node's allocatable CPU and memory that the pods already on it
  do not request (at most 50m and 512Mi) so that every granted slot's pod fits the node: a handover then
  measures the operator and the control plane, not pods queued by the scheduler for capacity;
- fairness: per workspace, creation → first status and → first Executing; jobs started per small workspace
  in the window and Jain's index over them (1.0 is even).

Then every QuantumJob is deleted (one DELETE each, from --threads threads) while the operator runs (finalizers
released, bounded in time; any left are stripped), the operator is stopped and the namespace deleted. Prints a
table; never asserts timings.

    .venv/bin/python benchmarks/operator_scale.py                                  # 5,000 + 50 x 20 jobs
    .venv/bin/python benchmarks/operator_scale.py --jobs 300 --workspaces 5 --per-workspace 10   # quick
    .venv/bin/python benchmarks/operator_scale.py --profile /tmp/op.txt            # py-spy, collapsed stacks
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from cluster_bench import (  # noqa: E402
    PARAMS,
    SHARED_RESOURCES,
    TARGET,
    RssSampler,
    Watcher,
    api_writes,
    cpu_seconds,
    create_all,
    delete_jobs,
    diff,
    fmt,
    namespace_gone,
    ok,
    percentile,
    print_table,
    strip_finalizers,
    wait_until,
)
from kubernetes import client, config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402
from kubernetes.utils.quantity import parse_quantity  # noqa: E402
from operator_timings import TIMED, latency_rows, timings  # noqa: E402

from tests.support import devcluster  # noqa: E402
from tests.support import quantum as q  # noqa: E402
from tests.support.blobs import job_containers, remove_job_containers  # noqa: E402
from tests.support.operator import OperatorProcess  # noqa: E402

BIG = "big"
JOB_IDS: dict[str, str] = {}  # status.id -> QuantumJob name (filled by the QuantumJob watch)


def qjob_state(obj: dict[str, Any]) -> str | None:
    status = obj.get("status") or {}
    if status.get("id"):
        JOB_IDS.setdefault(status["id"], obj["metadata"]["name"])
    state = status.get("state")
    return str(state) if state else None


def batch_key(obj: Any) -> str | None:
    """The QuantumJob a solver Job belongs to (its owner)."""
    owner = next((r.name for r in obj.metadata.owner_references or [] if r.kind == "QuantumJob"), None)
    job_id = (obj.metadata.labels or {}).get("kuantum.dev/job-id")
    return owner or (JOB_IDS.get(job_id) if job_id else None)


def pod_key(obj: Any) -> str | None:
    """The QuantumJob a solver pod belongs to (by its job-id label)."""
    job_id = (obj.metadata.labels or {}).get("kuantum.dev/job-id")
    return JOB_IDS.get(job_id) if job_id else None


def pod_state(obj: Any) -> str | None:
    """"Running" once the pod's process runs (or already ran: a short solver may be seen only at its end),
    "Scheduled" once it is bound to the node."""
    if (obj.status and obj.status.phase) in ("Running", "Succeeded", "Failed"):
        return "Running"
    return "Scheduled" if obj.spec and obj.spec.node_name else None


STAGES = ("job_to_pod", "pod_to_scheduled", "scheduled_to_running", "cluster_part", "operator_part")


def stage_latencies(seen: Any, batch_seen: Any, pod_seen: Any, names: list[str]) -> dict[str, list[float]]:
    """Per job that started: solver Job seen → its pod seen running (the cluster's part, cut into the Job
    controller's pod creation, the scheduler's binding and the node's start), and pod seen running → the
    QuantumJob seen Executing (the operator's part)."""
    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    with seen.lock, batch_seen.lock, pod_seen.lock:
        for name in names:
            launched = batch_seen.times.get(name, {}).get("Seen")
            pod = pod_seen.times.get(name, {})
            running = pod.get("Running")
            executing = left_waiting(seen, name)
            if launched is None or running is None or executing is None:
                continue
            created = min(pod.get("Seen", running), running)
            scheduled = min(pod.get("Scheduled", running), running)
            for stage, begin, end in (("job_to_pod", launched, created), ("pod_to_scheduled", created, scheduled),
                                      ("scheduled_to_running", scheduled, running),
                                      ("cluster_part", launched, running), ("operator_part", running, executing)):
                stages[stage].append(max(0.0, end - begin))
    return stages


def workspace_of(name: str) -> str:
    return BIG if name.startswith("b-") else name.split("-")[1]


def job_body(name: str, workspace: str) -> dict[str, Any]:
    return {"apiVersion": f"{q.GROUP}/{q.VERSION}", "kind": "QuantumJob", "metadata": {"name": name},
            "spec": {"workspace": workspace, "provider": "microsoft-qio", "target": TARGET, "inputParams": PARAMS,
                     "input": {"inline": q.ISING}}}


def slot_latencies(seen: Any, batch_seen: Any, names: list[str], plan: int, window: int
                   ) -> tuple[list[float], list[float]]:
    """Slot freed (a job seen final) -> the job that took the slot: solver Job created, and Executing.

    The plan's slots are filled in order: the (k + plan)-th job to start took the slot the k-th job to finish
    freed (for the first `window` finishes whose successor was seen)."""
    with seen.lock:
        finals = sorted(min(t for s, t in seen.times[n].items() if s in q.FINAL)
                        for n in names if any(s in seen.times.get(n, {}) for s in q.FINAL))
        executing = sorted(t for t in (left_waiting(seen, n) for n in names) if t is not None)
    with batch_seen.lock:
        launched = sorted(batch_seen.times[n]["Seen"] for n in names if "Seen" in batch_seen.times.get(n, {}))
    to_launch = [launched[k + plan] - t for k, t in enumerate(finals[:window])
                 if k + plan < len(launched) and launched[k + plan] >= t]
    to_exec = [executing[k + plan] - t for k, t in enumerate(finals[:window])
               if k + plan < len(executing) and executing[k + plan] >= t]
    return to_launch, to_exec


def left_waiting(seen: Any, name: str) -> float | None:
    """When the job was first seen Executing, or final (a short job may skip Executing in one status write).
    The caller holds seen.lock."""
    times = [t for s, t in seen.times.get(name, {}).items() if s == "Executing" or s in q.FINAL]
    return min(times) if times else None


def fitting_requests(core: client.CoreV1Api, args: argparse.Namespace) -> tuple[str, str]:
    """CPU and memory requests with which a pod of every slot the plans grant fits the dev node at once.

    Wider requests measure the scheduler's capacity queue instead of the handover: 54 slots of 50m are 2.7
    CPUs on a 2-CPU node, and the pods that do not fit wait in the scheduler's back-off (up to 10 s a try)."""
    slots = args.plan + args.workspaces * args.small_plan
    node = core.list_node().items[0]
    allocatable = node.status.allocatable
    # What the pods already on the node request (a Helm release, a demo) is not free for the solver pods.
    taken_cpu, taken_memory = 0.0, 0.0
    for pod in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node.metadata.name}").items:
        if pod.status.phase in ("Succeeded", "Failed"):
            continue
        for container in pod.spec.containers:
            requests = (container.resources and container.resources.requests) or {}
            taken_cpu += float(parse_quantity(requests.get("cpu", "0")))
            taken_memory += float(parse_quantity(requests.get("memory", "0")))
    free_cpu = float(parse_quantity(allocatable["cpu"])) - taken_cpu
    free_memory = float(parse_quantity(allocatable["memory"])) - taken_memory
    cpu, memory = args.solver_cpu, args.solver_memory
    if cpu == "auto":
        cpu = f"{max(1, min(50, int(free_cpu * 1000) // slots))}m"
    if memory == "auto":
        memory = f"{max(64, min(512, int(free_memory) // 2**20 // slots))}Mi"
    return cpu, memory


def jain(values: list[float]) -> float | None:
    if not values or not any(values):
        return None
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=5000, help="QuantumJobs in workspace `big` (default 5,000)")
    parser.add_argument("--workspaces", type=int, default=50, help="small workspaces (default 50)")
    parser.add_argument("--per-workspace", type=int, default=20, help="jobs per small workspace (default 20)")
    parser.add_argument("--plan", type=int, default=4, help="maxConcurrentJobs of `big`'s plan (default 4)")
    parser.add_argument("--small-plan", type=int, default=1, help="maxConcurrentJobs of the small workspaces' plan")
    parser.add_argument("--window", type=int, default=100,
                        help="completions of `big` whose slot handover is measured (default 100)")
    parser.add_argument("--window-seconds", type=float, default=420.0,
                        help="longest wait for the window's completions once every job has a status")
    parser.add_argument("--timeout", type=float, default=1200.0, help="longest wait for every job to have a status")
    parser.add_argument("--delete-seconds", type=float, default=240.0,
                        help="how long the operator gets to release the finalizers (the rest are stripped)")
    parser.add_argument("--solver-cpu", default="auto",
                        help="the solver pods' CPU request (default: the node's allocatable CPU over the slots of "
                             "all plans, at most 50m, so that every granted slot's pod fits the node; 500m, the "
                             "default of a target, lets 4 run at once on the 2-CPU dev node)")
    parser.add_argument("--solver-memory", default="auto",
                        help="the solver pods' memory request (default: the node's allocatable memory over the "
                             "slots, at most 512Mi, the default of a target)")
    parser.add_argument("--threads", type=int, default=8, help="threads creating (and deleting) objects")
    parser.add_argument("--pool", type=int, default=0, metavar="N",
                        help="KUANTUM_SOLVER_POOL_SIZE: jobs run on up to N warm workers per workspace's pool "
                             "instead of a batch Job each (default 0); the workers request what solver pods would")
    parser.add_argument("--profile", type=Path, default=None,
                        help="py-spy record the operator (collapsed stacks) from the first create to the window's end")
    args = parser.parse_args()
    total = args.jobs + args.workspaces * args.per_workspace
    if args.jobs < args.plan + 1 or total < 1:
        parser.error("--jobs must exceed --plan")

    cluster = devcluster.start()
    devcluster.install_crds(cluster)
    containers = job_containers(cluster.azurite_connection_string)
    api_client = config.new_client_from_config(config_file=cluster.kubeconfig)
    core = client.CoreV1Api(api_client)
    ns = f"bench-{uuid.uuid4().hex[:8]}"
    log_dir = Path(tempfile.mkdtemp(prefix="kuantum-bench-scale-"))
    core.create_namespace({"metadata": {"name": ns, "labels": {"kuantum.dev/benchmark": "true"}}})
    small = [f"w{i:02d}" for i in range(args.workspaces)]
    # Production timings (the tests' 1 s queue-position refresh would add writes).
    op = OperatorProcess(cluster.kubeconfig, ns, log_dir, env={"KUANTUM_QUEUE_POSITION_SECONDS": "5",
                                                               "KUANTUM_SOLVER_POOL_SIZE": str(args.pool)})
    watch_client = config.new_client_from_config(config_file=cluster.kubeconfig)
    horizon = args.timeout + args.window_seconds + 600
    watcher = Watcher(q.custom(watch_client).list_namespaced_custom_object, qjob_state, max_seconds=horizon,
                      group=q.GROUP, version=q.VERSION, namespace=ns, plural="quantumjobs")
    batch_watcher = Watcher(client.BatchV1Api(config.new_client_from_config(config_file=cluster.kubeconfig))
                            .list_namespaced_job, lambda obj: None, max_seconds=horizon, key_of=batch_key,
                            namespace=ns, label_selector="kuantum.dev/job-id")
    pod_watcher = Watcher(client.CoreV1Api(config.new_client_from_config(config_file=cluster.kubeconfig))
                          .list_namespaced_pod, pod_state, max_seconds=horizon, key_of=pod_key,
                          namespace=ns, label_selector="kuantum.dev/job-id")
    profiler: subprocess.Popen[bytes] | None = None
    res: dict[str, Any] = {"load": os.getloadavg()}
    print(f"namespace {ns}; operator log {op.log_path}; {args.jobs} jobs in {BIG} (plan {args.plan}) + "
          f"{args.workspaces} x {args.per_workspace} (plan {args.small_plan})", flush=True)
    try:
        q.storage_secret(core, ns, cluster.azurite_connection_string)
        # Providers before their workspaces: the plan's Provider is the oldest, so it counts (no built-in one).
        args.solver_cpu, args.solver_memory = fitting_requests(core, args)
        targets = [{"id": TARGET, "cpu": args.solver_cpu, "memory": args.solver_memory}]
        q.provider(api_client, ns, f"{BIG}-qio", "microsoft-qio", workspace=BIG,
                   limits={"maxConcurrentJobs": args.plan}, targets=targets)
        for ws in small:
            q.provider(api_client, ns, f"{ws}-qio", "microsoft-qio", workspace=ws,
                       limits={"maxConcurrentJobs": args.small_plan}, targets=targets)
        for ws in [BIG, *small]:
            q.workspace(api_client, ns, name=ws)
        op.start()
        assert op.proc is not None
        pid = op.proc.pid
        rss = RssSampler(pid)
        rss.start()

        def ready() -> bool:
            items = q.custom(api_client).list_namespaced_custom_object(q.GROUP, q.VERSION, ns,
                                                                       "quantumworkspaces")["items"]
            return len(items) == 1 + len(small) and all(
                (q.condition(i.get("status") or {}, "Ready") or {}).get("status") == "True" for i in items)

        if not wait_until(ready, 120, 1.0):
            raise SystemExit(f"workspaces not Ready after 120 s; see {op.log_path}")
        watcher.start()
        batch_watcher.start()
        pod_watcher.start()
        watcher.ready.wait(30)
        batch_watcher.ready.wait(30)
        pod_watcher.ready.wait(30)
        time.sleep(3)
        before, cpu0 = api_writes(op), cpu_seconds(pid)
        timing0 = timings(op)
        if args.profile is not None:
            spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
            if spy:
                profiler = subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "20",
                                             "--nonblocking", "-o", str(args.profile)],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bodies = [job_body(f"b-{i:05d}", BIG) for i in range(args.jobs)]
        bodies += [job_body(f"s-{ws}-{i:03d}", ws) for i in range(args.per_workspace) for ws in small]
        names = [b["metadata"]["name"] for b in bodies]
        print(f"creating {total} QuantumJobs from {args.threads} threads ...", flush=True)
        t0 = time.monotonic()
        created = create_all(cluster.kubeconfig, ns, bodies, args.threads, t0 + args.timeout)
        res["create_s"], res["created"] = time.monotonic() - t0, len(created)
        print(f"created {len(created)} in {res['create_s']:.0f} s; waiting for every status ...", flush=True)

        def with_status() -> int:
            with watcher.seen.lock:
                return sum(1 for n in created if len(watcher.seen.times.get(n, {})) > 1)  # more than "Seen"

        deadline = t0 + args.timeout
        while time.monotonic() < deadline and with_status() < len(created):
            time.sleep(1.0)
        res["status_s"] = time.monotonic() - t0 if with_status() == len(created) else None
        res["with_status"] = with_status()
        res["cpu_status"] = cpu_seconds(pid) - cpu0
        res["writes_status"] = diff(api_writes(op), before)
        res["timing_status"] = (timings(op), timing0)
        print(f"{res['with_status']} / {len(created)} with a status after {time.monotonic() - t0:.0f} s; "
              f"measuring slot handovers ...", flush=True)
        big_names = [n for n in names if n.startswith("b-")]

        def finished() -> int:
            return watcher.seen.count(q.FINAL, big_names)

        wait_until(lambda: finished() >= args.window + args.plan, args.window_seconds, 2.0)
        res["window_s"] = time.monotonic() - t0
        res["cpu"] = cpu_seconds(pid) - cpu0
        res["writes"] = diff(api_writes(op), before)
        res["rss_peak_kib"] = max(rss.peak_kib, rss.field_kib("VmHWM"))
        res["load_end"] = os.getloadavg()
        res["launch"], res["exec"] = slot_latencies(watcher.seen, batch_watcher.seen, big_names, args.plan,
                                                    args.window)
        res.update(stage_latencies(watcher.seen, batch_watcher.seen, pod_watcher.seen, big_names))
        res["finished_big"] = finished()
        fair: dict[str, dict[str, float | None]] = {}
        with watcher.seen.lock:
            for ws in [BIG, *small]:
                mine = [n for n in created if workspace_of(n) == ws]
                first_status = [watcher.seen.times[n].get("Waiting", 0) - created[n] for n in mine
                                if "Waiting" in watcher.seen.times.get(n, {})]
                first_exec = [t - t0 for t in (left_waiting(watcher.seen, n) for n in mine) if t is not None]
                fair[ws] = {"started": len(first_exec), "first_exec": min(first_exec) if first_exec else None,
                            "status_p50": percentile(first_status, 50)}
        res["fair"] = fair
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            with contextlib.suppress(subprocess.TimeoutExpired):
                profiler.wait(30)
            if profiler.poll() is None:
                profiler.kill()
        t_del = time.monotonic()
        try:
            if op.proc and op.proc.poll() is None:
                print("deleting every QuantumJob while the operator runs ...", flush=True)
                timing_del = timings(op)
                res["deleted"], res["delete_requests_s"] = delete_jobs(api_client, ns, args.delete_seconds,
                                                                       args.threads)
                res["timing_delete"] = (timings(op), timing_del)
        finally:
            res["delete_s"] = time.monotonic() - t_del
            watcher.stop_event.set()
            batch_watcher.stop_event.set()
            pod_watcher.stop_event.set()
            op.stop()
            res["log"] = op.log()
            res["stripped"] = strip_finalizers(cluster.kubeconfig, ns, args.threads, time.monotonic() + 300)
            with contextlib.suppress(ApiException):
                core.delete_namespace(ns)
            if not wait_until(lambda: namespace_gone(core, ns), 300, 2.0):
                print(f"warning: namespace {ns} still terminating", flush=True)
            removed = remove_job_containers(cluster.azurite_connection_string, containers)
            print(f"deleted the {removed} job blob containers this run made", flush=True)
    report(res, args, total)


def report(res: dict[str, Any], args: argparse.Namespace, total: int) -> None:
    # Per job: per job the operator got to (a status) when the bound came first, not per job created.
    created = res.get("with_status") or res.get("created") or total
    rows: list[tuple[str, str, str, str]] = []
    load = res["load"]
    rows.append((f"jobs: {args.jobs} in one workspace (plan {args.plan}) + {args.workspaces} x {args.per_workspace}"
                 f" (plan {args.small_plan}), solver pods request {args.solver_cpu} CPU, {args.solver_memory}; "
                 f"load avg at start "
                 f"{load[0]:.1f} (per job: per job with a status)",
                 f"{res.get('created')} created", str(total), ok(res.get("created") == total)))
    rows.append((f"  load avg at the end of the window {res.get('load_end', (0.0,))[0]:.1f}", "", "", ""))
    rows.append(("  creating them took (threads)", f"{fmt(res.get('create_s'), ' s', 1)} ({args.threads})", "", ""))
    rows.append(("time from the first create until every job has a status", fmt(res.get("status_s"), " s", 1),
                 "", f"{res.get('with_status')} / {res.get('created')}"))
    peak = res.get("rss_peak_kib", 0) / 1024
    rows.append(("operator peak RSS (VmHWM)", fmt(peak, " MiB", 1), "< 400 MiB", ok(0 < peak < 400)))
    rows.append(("operator CPU s/job until every job has a status", fmt(res.get("cpu_status", 0) / created, "", 4),
                 "", ""))
    rows.append(("operator CPU s/job over the whole run", fmt(res.get("cpu", 0) / created, "", 4),
                 "", f"{fmt(res.get('cpu'), ' s', 0)} in {fmt(res.get('window_s'), ' s', 0)}"))
    for label, key in (("until every job has a status", "writes_status"), ("over the whole run", "writes")):
        w = {k: v for k, v in res.get(key, {}).items() if k[1] not in SHARED_RESOURCES}
        non_events = sum(v for k, v in w.items() if k[1] != "events")
        rows.append((f"API writes/job excl. events, {label}", fmt(non_events / created), "<= 8",
                     ok(non_events / created <= 8)))
        rows.append(("  incl. events", fmt(sum(w.values()) / created), "", ""))
        if key == "writes":
            for (verb, resource), v in sorted(w.items(), key=lambda kv: (kv[0][1], kv[0][0])):
                rows.append((f"  {verb} {resource} /job", fmt(v / created, "", 3), "", ""))
            for (verb, resource), v in sorted(res.get(key, {}).items()):
                if resource in SHARED_RESOURCES:
                    rows.append((f"  {verb} {resource} (whole run)", fmt(v, "", 0), "", ""))
    launch, execs = res.get("launch", []), res.get("exec", [])
    rows.append((f"slot freed → next job's solver Job created p50 / p99 (n={len(launch)})",
                 f"{fmt(percentile(launch, 50), ' s')} / {fmt(percentile(launch, 99), ' s')}", "", ""))
    p99 = percentile(execs, 99)
    rows.append((f"slot freed → next job Executing p50 / p99 (n={len(execs)})",
                 f"{fmt(percentile(execs, 50), ' s')} / {fmt(p99, ' s')}", "p99 < 1 s",
                 ok(p99 is not None and p99 < 1)))
    for label, key in (("the cluster's part: solver Job → its pod running", "cluster_part"),
                       ("  Job controller: solver Job → its pod created", "job_to_pod"),
                       ("  scheduler: pod created → bound to the node", "pod_to_scheduled"),
                       ("  node: bound → process running, reported", "scheduled_to_running"),
                       ("the operator's part: pod running → job Executing", "operator_part")):
        values = res.get(key, [])
        rows.append((f"  {label} p50 / p99 (n={len(values)}, {BIG})",
                     f"{fmt(percentile(values, 50), ' s')} / {fmt(percentile(values, 99), ' s')}", "", ""))
    rows.append((f"  {BIG}'s jobs finished in the window", str(res.get("finished_big")), "", ""))
    fair = res.get("fair", {})
    small = {ws: v for ws, v in fair.items() if ws != BIG}
    if small:
        started = [float(v["started"] or 0) for v in small.values()]
        firsts = [v["first_exec"] for v in small.values() if v["first_exec"] is not None]
        status = [v["status_p50"] for v in small.values() if v["status_p50"] is not None]
        index = jain(started)
        rows.append((f"fairness: Jain's index of jobs started per small workspace (n={len(started)})",
                     fmt(index, "", 3), "1.0 is even", ""))
        rows.append(("  jobs started per small workspace min / mean / max",
                     f"{min(started):.0f} / {sum(started) / len(started):.1f} / {max(started):.0f}", "", ""))
        rows.append((f"  jobs started in {BIG}", str((fair.get(BIG) or {}).get("started")), "", ""))
        rows.append(("  small workspaces with a job Executing", f"{len(firsts)} / {len(small)}", "", ""))
        rows.append(("  first create → a small workspace's first job Executing min / max",
                     _range(firsts), "", ""))
        rows.append(("  create → Waiting p50 per small workspace, min / max",
                     _range(status), "", ""))
        big_status = (fair.get(BIG) or {}).get("status_p50")
        rows.append((f"  create → Waiting p50 in {BIG}", fmt(big_status, " s", 1), "", ""))
    rows.append((f"jobs deleted (finalizer released by the operator) within {args.delete_seconds:.0f} s",
                 f"{res.get('deleted')} / {res.get('created')}", "",
                 f"{fmt(res.get('delete_s'), ' s', 0)}; {res.get('stripped', 0)} stripped by hand"))
    rows.append((f"  of that time: the DELETE requests ({args.threads} threads)",
                 fmt(res.get("delete_requests_s"), " s", 1), "", ""))
    for phase, label in (("timing_status", "until every job has a status"), ("timing_delete", "while deleting")):
        if phase in res:
            after, before = res[phase]
            rows.append((f"where the operator's time went {label}", "", "", ""))
            for metric, title in TIMED:
                rows += latency_rows(title, after[metric], before[metric])
    lines = res.get("log", "").splitlines()
    errors = sum(1 for line in lines if " ERROR " in line or " CRITICAL " in line)
    tracebacks = sum(1 for x in lines if x.startswith("Traceback"))
    rows.append(("operator ERROR lines / tracebacks", f"{errors} / {tracebacks}", "0 / 0", ok(errors == 0)))
    print()
    print_table(rows)


def _range(values: list[float]) -> str:
    return f"{fmt(min(values) if values else None, ' s', 1)} / {fmt(max(values) if values else None, ' s', 1)}"


if __name__ == "__main__":
    main()
