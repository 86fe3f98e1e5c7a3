"""A loopback stand-in for IonQ's public job API (v0.3 and v0.4), with real results and injectable faults.

It follows the API as IonQ's own client (qiskit-ionq 0.5.x for v0.3, 1.x for v0.4) uses it:
`Authorization: apiKey <key>`; POST /jobs; GET /jobs (newest first, `limit`/`next` paging,
`{"jobs": [...], "next"}`); GET /jobs/{id}; PUT /jobs/{id}/status/cancel; DELETE /jobs/{id};
GET /jobs/{id}/results (v0.3) and GET /jobs/{id}/results/probabilities (v0.4, linked from the job's
`results.probabilities.url`); GET /backends and /backends/{name} (no key needed, as at
IonQ). Results are the exact probabilities of the local statevector simulator
(`kuantum_solvers.circuits`). Jobs move queued -> running -> completed on a schedule (seconds after
submit; `hold` keeps them queued until released).

Faults, injected at runtime (Python: `server.inject(kind, ...)`; HTTP: POST /_control/faults with
the same fields as JSON), each for the next `count` requests matching `method` and the glob `path`:
  status     answer `status` (default 503) with an IonQ error body
  429        answer 429 with `retry_after` ("2" or an HTTP date) in Retry-After
  slow       wait `delay` seconds, then answer normally
  drop       handle the request (a POST /jobs creates the job) and then close the connection unanswered
  malformed  answer 200 with `body` (default: broken JSON)
  404        answer 404 Not Found, as for an unknown job id
  401        answer 401, as for a wrong key
  fail       (no count) the next `jobs` submitted jobs fail with `code`/`message` when they would complete
Other control endpoints (no key needed, never counted): GET /_control/counts, POST /_control/reset,
POST /_control/schedule {"wait", "run", "hold"}, POST /_control/release {"id"?},
POST /_control/backends [{"backend", "status", "degraded"?}], POST /_control/key {"key"}.

In process: `with FakeIonQ(api_key=...) as server: server.url("v0.4")` (also `async with`).
As a process: `python -m tests.support.fake_ionq --host 127.0.0.1 --port 0 --port-file F --api-key K`
writes the chosen port to F once it listens; SIGTERM/SIGINT stop it. It binds loopback only.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import os
import signal
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

VERSIONS = ("v0.3", "v0.4")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
BROKEN_JSON = '{"id": "truncated'
DEFAULT_BACKENDS = [
    {"backend": "simulator", "status": "available", "qubits": 29},
    {"backend": "qpu.aria-1", "status": "available", "qubits": 25},
    {"backend": "qpu.forte-1", "status": "available", "qubits": 36, "degraded": True},
    {"backend": "qpu.harmony", "status": "retired", "qubits": 11},
]
FAULT_KINDS = ("status", "429", "slow", "drop", "malformed", "404", "401")


@dataclass
class Fault:
    kind: str
    count: int = 1
    method: str | None = None
    path: str | None = None  # fnmatch glob on the request path, e.g. "*/jobs" or "/v0.4/jobs/*"
    status: int = 503
    retry_after: str = "1"
    delay: float = 1.0
    body: str = BROKEN_JSON

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or fnmatch.fnmatchcase(path, self.path)


@dataclass
class Job:
    id: str
    version: str
    body: dict[str, Any]
    submitted: float  # time.time()
    probabilities: dict[str, float]
    qubits: int
    failure: dict[str, str] | None = None
    canceled_at: float | None = None
    released_at: float | None = None  # set when the schedule holds jobs
    stats: dict[str, Any] = field(default_factory=dict)


class FakeIonQ:
    """IonQ's API on 127.0.0.1 in a background thread."""

    def __init__(self, api_key: str = "fake-ionq-key", *, host: str = "127.0.0.1", port: int = 0,
                 wait: float = 0.05, run: float = 0.05, hold: bool = False) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"the fake IonQ server binds loopback only, not {host!r}")
        self.api_key = api_key
        self.host, self.port = host, port
        self.wait, self.run, self.hold = wait, run, hold
        self.jobs: dict[str, Job] = {}
        self.order: list[str] = []  # submit order; listed newest first
        self.counts: Counter[str] = Counter()  # "METHOD /path" -> requests received (faulted ones too)
        self.faults: list[Fault] = []
        self.fail_next: list[dict[str, str]] = []
        self.backends: list[dict[str, Any]] = [dict(b) for b in DEFAULT_BACKENDS]
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeIonQ:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server((self.host, self.port), handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-ionq", daemon=True)
        self._thread.start()
        threading.Thread(target=_warm_up, name="fake-ionq-warmup", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> FakeIonQ:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeIonQ:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    def url(self, version: str = "v0.4") -> str:
        return f"http://{self.host}:{self.port}/{version}"

    # --- control (Python API; the HTTP control endpoints call these) ------------------------------

    def inject(self, kind: str, count: int = 1, **options: Any) -> None:
        if kind == "fail":
            with self.lock:
                for _ in range(int(options.get("jobs", 1))):
                    self.fail_next.append({"code": str(options.get("code", "SimulationError")),
                                           "error": str(options.get("message", "the simulation failed"))})
            return
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (known: {', '.join((*FAULT_KINDS, 'fail'))})")
        known = {k: v for k, v in options.items() if k in ("method", "path", "status", "retry_after", "delay", "body")}
        if "retry_after" in known:
            known["retry_after"] = str(known["retry_after"])
        with self.lock:
            self.faults.append(Fault(kind, int(count), **known))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self.fail_next.clear()

    def reset(self) -> None:
        with self.lock:
            self.clear_faults()
            self.jobs.clear()
            self.order.clear()
            self.counts.clear()
            self.backends = [dict(b) for b in DEFAULT_BACKENDS]

    def set_schedule(self, wait: float | None = None, run: float | None = None, hold: bool | None = None) -> None:
        with self.lock:
            self.wait = self.wait if wait is None else float(wait)
            self.run = self.run if run is None else float(run)
            self.hold = self.hold if hold is None else bool(hold)

    def release(self, job_id: str | None = None) -> None:
        """Lets held jobs (one, or all) start their wait/run schedule now."""
        with self.lock:
            for job in self.jobs.values():
                if (job_id is None or job.id == job_id) and job.released_at is None:
                    job.released_at = time.time()

    def count(self, method: str | None = None, path: str = "*") -> int:
        with self.lock:
            return sum(n for key, n in self.counts.items()
                       if (method is None or key.split(" ", 1)[0] == method.upper())
                       and fnmatch.fnmatchcase(key.split(" ", 1)[1], path))

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count > 0 and fault.matches(method, path):
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # --- the job model ------------------------------------------------------------------------------

    def status(self, job: Job, now: float | None = None) -> str:
        """The job's status string in its API version, from the schedule."""
        now = time.time() if now is None else now
        if job.canceled_at is not None:
            return "canceled"
        start = job.submitted if not self.hold else job.released_at
        queued = "ready" if job.version == "v0.3" else "submitted"
        if start is None or now < start + self.wait:
            return queued
        if now < start + self.wait + self.run:
            return "running" if job.version == "v0.3" else "started"
        return "failed" if job.failure else "completed"

    def _times(self, job: Job) -> tuple[float | None, float | None]:
        base = job.submitted if not self.hold else job.released_at
        if base is None:
            return None, None
        return base + self.wait, base + self.wait + self.run

    def job_json(self, job: Job) -> dict[str, Any]:
        status = self.status(job)
        started, ended = self._times(job)
        done = status in ("completed", "failed", "canceled")
        body = job.body
        if job.version == "v0.3":
            out: dict[str, Any] = {
                "id": job.id, "status": status, "request": int(job.submitted), "name": body.get("name"),
                "target": body.get("target"), "metadata": body.get("metadata"), "shots": body.get("shots", 100),
                "qubits": job.qubits, "noise": body.get("noise", {"model": "ideal"}),
                "gate_counts": job.stats.get("gate_counts"),
            }
            if status not in ("ready",) and started is not None:
                out["start"] = int(started)
            if done and ended is not None and status != "canceled":
                out["response"] = int(ended)
                out["execution_time"] = int(self.run * 1000)
            if status == "completed":
                out["results_url"] = f"/v0.3/jobs/{job.id}/results"
            if status == "failed":
                out["failure"] = job.failure
            return out
        out = {
            "id": job.id, "status": status, "type": body.get("type", "ionq.circuit.v1"),
            "backend": body.get("backend"), "dry_run": False, "name": body.get("name"),
            "metadata": body.get("metadata"), "session_id": None, "parent_job_id": None, "child_job_ids": None,
            "submitted_at": _iso(job.submitted),
            "started_at": _iso(started) if started is not None and status not in ("submitted",) else None,
            "completed_at": _iso(ended) if done and ended is not None and status != "canceled" else None,
            "execution_duration_ms": int(self.run * 1000) if status in ("completed", "failed") else None,
            "shots": body.get("shots", 100), "noise": body.get("noise", {"model": "ideal"}),
            "failure": job.failure if status == "failed" else None,
            "settings": body.get("settings", {}), "stats": job.stats, "output": {},
            "results": ({"probabilities": {"url": f"/v0.4/jobs/{job.id}/results/probabilities"}}
                        if status == "completed" else None),
        }
        return out

    def create(self, version: str, body: dict[str, Any]) -> Job:
        """Validates a POST /jobs body like IonQ does and runs the circuit on the local simulator."""
        from kuantum_solvers.circuits.ionq import run_ionq
        from kuantum_solvers.formats.errors import SolverError

        target_key = "target" if version == "v0.3" else "backend"
        backend = body.get(target_key)
        if not isinstance(backend, str) or not backend:
            raise _ApiError(400, f'"{target_key}" is required')
        if backend not in {b["backend"] for b in self.backends}:
            raise _ApiError(400, f"{target_key} {backend!r} is not a known backend")
        if version == "v0.4" and body.get("type", "ionq.circuit.v1") != "ionq.circuit.v1":
            raise _ApiError(400, f"job type {body.get('type')!r} is not supported here")
        program = body.get("input")
        if not isinstance(program, dict):
            raise _ApiError(400, '"input" must be a circuit object')
        if version == "v0.3" and program.get("format", "ionq.circuit.v0") != "ionq.circuit.v0":
            raise _ApiError(400, f"input format {program.get('format')!r} is not supported")
        metadata = body.get("metadata")
        if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > 10
                                     or not all(isinstance(v, str) and len(v) <= 400 for v in metadata.values())):
            raise _ApiError(400, "metadata must be at most 10 string values of at most 400 characters")
        shots = body.get("shots", 100)
        if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
            raise _ApiError(400, '"shots" must be a positive integer')
        circuit = {k: v for k, v in program.items() if k != "format"}
        if circuit.get("gateset", "qis") == "qis":  # IonQ's qis "zz" is the solver's "rzz"
            circuit["circuit"] = [dict(op, gate="rzz") if isinstance(op, dict) and op.get("gate") == "zz" else op
                                  for op in circuit.get("circuit") or []]
        try:
            histogram = run_ionq(circuit)["histogram"]
        except SolverError as exc:
            raise _ApiError(400, f"invalid circuit: {exc.message}") from exc
        ops = circuit.get("circuit") or []
        two = sum(1 for op in ops if isinstance(op, dict) and (len(op.get("targets", [])) + len(op.get("controls", []))
                                                                + ("control" in op)) > 1)
        job = Job(id=str(uuid.uuid4()), version=version, body=body, submitted=time.time(), probabilities=histogram,
                  qubits=int(circuit["qubits"]),
                  stats={"qubits": int(circuit["qubits"]), "circuits": 1,
                         "gate_counts": {"1q": len(ops) - two, "2q": two}})
        with self.lock:
            if self.fail_next:
                job.failure = self.fail_next.pop(0)
            self.jobs[job.id] = job
            self.order.append(job.id)
        return job


def _warm_up() -> None:
    """Loads the simulator's compiled kernels once, so the first submit answers quickly."""
    with contextlib.suppress(Exception):
        from kuantum_solvers.circuits.ionq import run_ionq

        run_ionq({"qubits": 2, "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]})


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


_REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": _REASONS.get(status, "Error"), "message": message, "statusCode": status}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # dropped connections are expected
        pass


class _Handler(BaseHTTPRequestHandler):
    fake: FakeIonQ
    protocol_version = "HTTP/1.1"  # keep-alive, as IonQ's API: clients reuse connections
    server_version = "fake-ionq"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the counts say what happened
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- plumbing -----------------------------------------------------------------------------------

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None, raw: str | None = None) -> None:
        data = (raw if raw is not None else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise _ApiError(400, f"request body is not JSON: {exc}") from exc

    def _drop(self) -> None:
        """Closes the connection without an answer (the client sees a dropped connection)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _handle(self, method: str) -> None:
        fake = self.fake
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        if path.startswith("/_control/"):
            self._control(method, path, parse_qs(url.query))
            return
        with fake.lock:
            fake.counts[f"{method} {path}"] += 1
        fault = fake.take_fault(method, path)
        body: Any = None
        try:
            body = self._read_json() if method in ("POST", "PUT") else None
        except _ApiError as exc:
            self._send(exc.status, _error_body(exc.status, exc.message))
            return
        if fault is not None:
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind == "status":
                self._send(fault.status, _error_body(fault.status, "injected server error"))
                return
            elif fault.kind == "429":
                self._send(429, _error_body(429, "rate limit exceeded"), {"Retry-After": fault.retry_after})
                return
            elif fault.kind == "404":
                self._send(404, _error_body(404, "Resource not found"))
                return
            elif fault.kind == "401":
                self._send(401, _error_body(401, "Invalid key provided"))
                return
            elif fault.kind == "malformed":
                self._send(200, None, raw=fault.body)
                return
        auth = self.headers.get("Authorization") or ""
        public = method == "GET" and "/backends" in path  # IonQ serves backend status without a key
        if auth != f"apiKey {fake.api_key}" and not (public and not auth):
            self._send(401, _error_body(401, "Invalid key provided" if auth else "No API key provided"))
            return
        try:
            status, answer = self._route(method, path, parse_qs(url.query), body)
        except _ApiError as exc:
            status, answer = exc.status, _error_body(exc.status, exc.message)
        if fault is not None and fault.kind == "drop":
            self._drop()
            return
        self._send(status, answer)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        fake = self.fake
        parts = path.strip("/").split("/")
        if not parts or parts[0] not in VERSIONS:
            raise _ApiError(404, f"no route {path}")
        version, rest = parts[0], parts[1:]
        if rest == ["backends"] and method == "GET":
            return 200, self._backends(version)
        if len(rest) == 2 and rest[0] == "backends" and method == "GET":
            found = [b for b in self._backends(version) if b["backend"] == rest[1]]
            if not found:
                raise _ApiError(404, f"backend {rest[1]!r} not found")
            return 200, found[0]
        if rest == ["jobs"] and method == "POST":
            if not isinstance(body, dict):
                raise _ApiError(400, "request body must be a job object")
            job = fake.create(version, body)
            if version == "v0.3":
                return 200, {"id": job.id, "status": "ready", "request": int(job.submitted)}
            return 201, {"id": job.id, "status": "submitted", "session_id": None}
        if rest == ["jobs"] and method == "GET":
            return 200, self._list(version, query)
        if len(rest) >= 2 and rest[0] == "jobs":
            with fake.lock:
                hit = fake.jobs.get(rest[1])
            if hit is None or hit.version != version:
                raise _ApiError(404, "Job not found")
            job = hit
            tail = rest[2:]
            if not tail and method == "GET":
                return 200, fake.job_json(job)
            if not tail and method == "DELETE":
                with fake.lock:
                    fake.jobs.pop(job.id, None)
                    fake.order.remove(job.id)
                return 200, {"id": job.id, "status": "deleted"}
            if tail == ["status", "cancel"] and method == "PUT":
                with fake.lock:
                    status = fake.status(job)
                    if status in ("completed", "failed"):
                        raise _ApiError(400, f"job {job.id} has already {status} and cannot be canceled")
                    if job.canceled_at is None:
                        job.canceled_at = time.time()
                return 200, {"id": job.id, "status": "canceled"}
            results_path = ["results"] if version == "v0.3" else ["results", "probabilities"]
            if tail == results_path and method == "GET":
                if fake.status(job) != "completed":
                    raise _ApiError(400, f"job {job.id} is {fake.status(job)}: results are not available")
                return 200, dict(job.probabilities)
        raise _ApiError(404, f"no route {method} {path}")

    def _backends(self, version: str) -> list[dict[str, Any]]:
        out = []
        with self.fake.lock:
            for entry in self.fake.backends:
                item = {"average_queue_time": 0, **entry}
                item["last_updated"] = int(time.time()) if version == "v0.3" else _iso(time.time())
                if version == "v0.3" and item["status"] not in ("available", "unavailable"):
                    item["status"] = "unavailable"  # v0.3 knows only these two
                out.append(item)
        return out

    def _list(self, version: str, query: dict[str, list[str]]) -> dict[str, Any]:
        fake = self.fake
        try:
            limit = max(1, min(int((query.get("limit") or ["25"])[0]), 1000))
        except ValueError as exc:
            raise _ApiError(400, "limit must be an integer") from exc
        cursor = (query.get("next") or [""])[0]
        with fake.lock:
            ids = [i for i in reversed(fake.order) if fake.jobs[i].version == version]
            start = 0
            if cursor:
                if cursor not in ids:
                    raise _ApiError(400, "invalid next cursor")
                start = ids.index(cursor) + 1
            page = ids[start:start + limit]
            jobs = [fake.job_json(fake.jobs[i]) for i in page]
        out: dict[str, Any] = {"jobs": jobs}
        if start + limit < len(ids):
            out["next"] = page[-1]
        return out

    def _control(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        fake = self.fake
        try:
            body = self._read_json() if method in ("POST", "PUT") else None
            name = path.removeprefix("/_control/")
            if name == "counts" and method == "GET":
                with fake.lock:
                    self._send(200, {"counts": dict(fake.counts), "jobs": len(fake.jobs)})
                return
            if name == "faults" and method == "POST":
                items = body if isinstance(body, list) else [body]
                for item in items:
                    if not isinstance(item, dict) or "kind" not in item:
                        raise _ApiError(400, 'a fault is {"kind": ..., "count": ..., ...}')
                    options = {k: v for k, v in item.items() if k not in ("kind", "count")}
                    fake.inject(str(item["kind"]), int(item.get("count", 1)), **options)
            elif name == "faults" and method == "DELETE":
                fake.clear_faults()
            elif name == "reset" and method == "POST":
                fake.reset()
            elif name == "schedule" and method == "POST":
                body = body or {}
                fake.set_schedule(body.get("wait"), body.get("run"), body.get("hold"))
            elif name == "release" and method == "POST":
                fake.release((body or {}).get("id"))
            elif name == "backends" and method == "POST":
                if not isinstance(body, list):
                    raise _ApiError(400, "backends is a list of {backend, status}")
                with fake.lock:
                    fake.backends = [dict(b) for b in body]
            elif name == "key" and method == "POST":
                fake.api_key = str((body or {}).get("key", ""))
            else:
                raise _ApiError(404, f"no control {method} {path}")
        except (_ApiError, ValueError, TypeError) as exc:
            status = exc.status if isinstance(exc, _ApiError) else 400
            self._send(status, _error_body(status, str(exc)))
            return
        self._send(200, {"ok": True})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A loopback fake of IonQ's job API (v0.3 and v0.4)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the port here once listening")
    parser.add_argument("--api-key", default=os.environ.get("FAKE_IONQ_API_KEY", "fake-ionq-key"))
    parser.add_argument("--wait", type=float, default=0.5, help="seconds a job stays queued")
    parser.add_argument("--run", type=float, default=0.5, help="seconds a job runs")
    parser.add_argument("--hold", action="store_true", help="keep jobs queued until POST /_control/release")
    args = parser.parse_args(argv)
    server = FakeIonQ(args.api_key, host=args.host, port=args.port, wait=args.wait, run=args.run, hold=args.hold)
    server.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.port_file:
        tmp = f"{args.port_file}.tmp"
        with open(tmp, "w") as fh:
            fh.write(str(server.port))
        os.replace(tmp, args.port_file)  # readers never see a half-written port
    print(f"fake IonQ listening on {server.url('v0.4')} and {server.url('v0.3')}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
