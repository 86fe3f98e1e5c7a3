"""`kuantum logs JOB`: a job's solver log. While the job runs, its pod's log, followed until the solver exits (a job
on a pool's warm worker has no pod of its own: its log is shown when it ends); once
the job is final, the log the operator kept in the job's container (`status.logsUri`, blob `job-<id>/logs`: the
last MiB), which outlives the pod."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from kubernetes import client
from kubernetes.client.rest import ApiException

from ..models.common import LABEL_JOB_ID
from ..models.job import FINAL_STATES
from .input import CliError
from .session import JOBS, Session

POLL_SECONDS = 1.0
CONTAINER = "solver"


def _status(job: dict[str, Any]) -> dict[str, Any]:
    return dict(job.get("status") or {})


def pods_of(session: Session, job_id: str) -> list[dict[str, Any]]:
    """The job's solver pods, oldest first (a pod the Job controller replaced is older)."""
    core = client.CoreV1Api(session.api_client)
    listed = core.list_namespaced_pod(session.namespace, label_selector=f"{LABEL_JOB_ID}={job_id}",
                                      _request_timeout=30)
    pods = [session.api_client.sanitize_for_serialization(p) for p in listed.items]
    return sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "")


def _started(pod: dict[str, Any]) -> bool:
    """Whether the solver container has started (before that the API server has no log to serve)."""
    return any((cs.get("state") or {}).get("running") or (cs.get("state") or {}).get("terminated")
               for cs in (pod.get("status") or {}).get("containerStatuses") or [])


def pod_log(session: Session, pod: dict[str, Any], follow: bool) -> Iterator[bytes]:
    core = client.CoreV1Api(session.api_client)
    try:
        response: Any = core.read_namespaced_pod_log(pod["metadata"]["name"], session.namespace, container=CONTAINER,
                                                     follow=follow, _preload_content=False,
                                                     _request_timeout=None if follow else 60)
    except ApiException as e:
        if e.status in (400, 404):  # gone meanwhile, or not started after all
            return
        raise
    try:
        yield from response.stream(16 * 1024)
    finally:
        response.release_conn()


def kept_log(session: Session, job: dict[str, Any]) -> bytes:
    status, workspace = _status(job), str((job.get("spec") or {}).get("workspace"))
    storage = session.storage(workspace)
    located = storage.locate(str(status["logsUri"]))
    if located is None:
        raise CliError(f"the log {status['logsUri']} is not in workspace {workspace}'s storage account "
                       f"{storage.account_name}")
    return storage.download(*located)


def show(session: Session, name: str, follow: bool, wait_timeout: float, out: BinaryIO | None = None,
         clock: Callable[[], float] = time.monotonic, poll: float = POLL_SECONDS) -> int:
    out = out or sys.stdout.buffer
    deadline = clock() + wait_timeout
    while True:
        job = session.get(JOBS, name)
        status = _status(job)
        final = status.get("state") in FINAL_STATES
        if final and status.get("logsUri"):
            out.write(kept_log(session, job))
            out.flush()
            return 0
        pods = pods_of(session, status["id"]) if status.get("id") else []
        pod = pods[-1] if pods else None
        if pod is not None and _started(pod):
            for chunk in pod_log(session, pod, follow=follow and not final):
                out.write(chunk)
                out.flush()
            return 0
        if final:
            raise CliError(_no_log(name, status))
        if status.get("providerJobId"):
            raise CliError(f"job {name} runs at its provider ({status['providerJobId']}): it has no solver log")
        if not follow and status.get("state") == "Executing":
            raise CliError(f"job {name} runs on a warm solver worker: its log is kept when it ends (without "
                           "--no-follow, waits for it)")
        if not follow:
            raise CliError(f"job {name} is {status.get('state') or 'not yet seen by the operator'}: its solver has "
                           "not started, no log yet (without --no-follow, waits for it)")
        if clock() >= deadline:
            raise CliError(f"timed out after {wait_timeout:g}s waiting for job {name}'s solver to start "
                           f"(state: {status.get('state') or 'none yet'})")
        time.sleep(poll)


def _no_log(name: str, status: dict[str, Any]) -> str:
    if status.get("providerJobId"):
        return f"job {name} ran at its provider ({status['providerJobId']}): it has no solver log"
    if not status.get("beginExecutionTime"):
        return f"job {name} is {status.get('state')} and never ran: it has no log"
    return f"job {name} is {status.get('state')}; its solver's log was not kept and its pod is gone"
