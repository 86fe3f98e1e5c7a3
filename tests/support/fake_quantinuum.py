"""A loopback stand-in for Quantinuum's job API (qapi v1), with real simulated results and injectable faults.

In-process:
    with FakeQuantinuum(username="u", password="p") as fake:   # serves on 127.0.0.1, a free port
        api = QuantinuumApi(fake.url, {"username": "u", "password": "p"})
        fake.inject("error", status=503, count=2)               # or fake.expire_tokens(), ...
As a process (operator integration tests stop it by PID, SIGTERM):
    python -m tests.support.fake_quantinuum --host 127.0.0.1 --port 0 --port-file FILE --username U --password P
    curl -X POST http://127.0.0.1:$PORT/_control/faults -d '{"kind": "rate_limit", "retry_after": 1, "count": 2}'

Shapes follow pytket-quantinuum's API handler: POST /v1/login, POST /v1/job, GET /v1/job/{id},
POST /v1/job/{id}/cancel, GET /v1/machine/{name}; errors are {"error": {"code", "text"}}. GET /v1/jobs (the
user's jobs, newest first, `limit`/`offset`, a JSON list) is our assumption of qapi's listing.

Fault kinds (each consumed `count` times, -1 = until cleared; `route` such as "POST /job" narrows it):
  error (status, default 503), rate_limit (retry_after), slow (delay), drop (close without answering),
  drop_after_accept (handle, then close without answering), malformed (200 with broken JSON),
  unknown_job (404 for a known id), fail_job (the next submitted job fails: code, text).
Immediate actions: expire_tokens, revoke_refresh_tokens, set_password (password).
Control: POST/DELETE /_control/faults, POST /_control/machines {"H2-1": "offline"}, GET /_control/stats,
POST /_control/reset (counters). Control paths need no token and are not counted.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

BASE = "/v1"
MACHINES = ("H2-1", "H2-1E", "H2-1SC")
LANGUAGES = ("OPENQASM 2.0",)
MAX_SHOTS = 10_000
FAULT_KINDS = frozenset({"error", "rate_limit", "slow", "drop", "drop_after_accept", "malformed", "unknown_job",
                         "fail_job"})
ACTIONS = frozenset({"expire_tokens", "revoke_refresh_tokens", "set_password"})
FINAL = frozenset({"completed", "failed", "canceled"})

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"/login"), "POST /login"),
    ("POST", re.compile(r"/job"), "POST /job"),
    ("GET", re.compile(r"/jobs"), "GET /jobs"),
    ("GET", re.compile(r"/job/(?P<id>[^/]+)"), "GET /job/{id}"),
    ("POST", re.compile(r"/job/(?P<id>[^/]+)/cancel"), "POST /job/{id}/cancel"),
    ("GET", re.compile(r"/machine/?"), "GET /machine"),
    ("GET", re.compile(r"/machine/(?P<name>[^/]+)"), "GET /machine/{name}"),
]


@dataclass
class Schedule:
    """When jobs move on: queued -> running once both the time and the number of status reads are reached;
    running -> completed likewise (and never before the simulation has finished)."""

    queued_s: float = 0.0
    running_s: float = 0.0
    queued_polls: int = 0
    running_polls: int = 0


@dataclass
class Fault:
    kind: str
    count: int = 1
    route: str | None = None
    status: int = 503
    retry_after: float = 1.0
    delay: float = 1.0
    code: int = 2000
    text: str = "The job failed on the machine (injected)"

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> Fault:
        known = {k: v for k, v in spec.items() if k in cls.__dataclass_fields__}
        fault = cls(**known)
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        return fault


@dataclass
class _Job:
    id: str
    name: str
    machine: str
    program: str
    count: int
    user: str
    submitted: datetime
    t0: float
    simulation: Future[dict[str, list[str]]]
    fail: tuple[int, str] | None = None
    status: str = "queued"
    polls: int = 0
    started: datetime | None = None
    t_run: float = 0.0
    polls_at_run: int = 0
    finished: datetime | None = None
    results: dict[str, list[str]] | None = None
    error: dict[str, Any] | None = None


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() if moment else None


def _simulate(program: str, shots: int, seed: int) -> dict[str, list[str]]:
    from kuantum_solvers.circuits.qasm import run_qasm

    return run_qasm(program, shots, seed)


class FakeQuantinuum:
    """The fake service: state, faults and the HTTP server thread. Thread-safe; loop-agnostic."""

    def __init__(self, username: str = "user@example.com", password: str = "secret", *, host: str = "127.0.0.1",
                 port: int = 0, token_lifetime: float = 1800.0, refresh_lifetime: float = 30 * 86400.0,
                 schedule: Schedule | None = None, seed: int = 1234, cancel_running: bool = True) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fake binds loopback only")
        self.username = username
        self.password = password
        self.host, self.port = host, port
        self.token_lifetime = token_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.schedule = schedule or Schedule()
        self.cancel_running = cancel_running
        self.machine_states: dict[str, str] = dict.fromkeys(MACHINES, "online")
        self.jobs: dict[str, _Job] = {}
        self.requests: Counter[str] = Counter()  # "POST /job", "GET /job/{id}", ...
        self.paths: Counter[str] = Counter()  # "/v1/job/<id>", ...
        self.logins: Counter[str] = Counter()  # password, refresh, rejected-password, rejected-refresh
        self._faults: list[Fault] = []
        self._id_tokens: dict[str, float] = {}  # token -> expiry (epoch)
        self._refresh_tokens: dict[str, float] = {}
        self._seeds = itertools.count(seed)
        self._lock = threading.RLock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fake-quantinuum-sim")
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL a client uses as its endpoint (with the version path)."""
        return f"http://{self.host}:{self.port}{BASE}"

    @property
    def control_url(self) -> str:
        return f"http://{self.host}:{self.port}/_control"

    def start(self) -> FakeQuantinuum:
        server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        # A short poll interval: stop() returns quickly (tests start and stop one fake each).
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-quantinuum", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> FakeQuantinuum:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- control (Python API; the control endpoint calls the same) ---------------------------------------

    def inject(self, kind: str, **params: Any) -> None:
        """Queue a fault, or apply an immediate action (expire_tokens, revoke_refresh_tokens, set_password)."""
        if kind in ACTIONS:
            self._act(kind, params)
            return
        fault = Fault.from_json({"kind": kind, **params})
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(f.__dict__) for f in self._faults]

    def expire_tokens(self) -> None:
        self._act("expire_tokens", {})

    def revoke_refresh_tokens(self) -> None:
        self._act("revoke_refresh_tokens", {})

    def set_password(self, password: str) -> None:
        self._act("set_password", {"password": password})

    def set_machine_state(self, machine: str, state: str) -> None:
        with self._lock:
            self.machine_states[machine] = state

    def count(self, route: str) -> int:
        """Requests seen for a route such as "POST /job" or "GET /job/{id}"."""
        with self._lock:
            return self.requests[route]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": dict(self.requests), "paths": dict(self.paths), "logins": dict(self.logins),
                    "jobs": {j.id: j.status for j in self.jobs.values()}, "faults": self.pending_faults()}

    def reset_counters(self) -> None:
        with self._lock:
            self.requests.clear()
            self.paths.clear()
            self.logins.clear()

    def _act(self, kind: str, params: dict[str, Any]) -> None:
        with self._lock:
            if kind == "expire_tokens":
                self._id_tokens = dict.fromkeys(self._id_tokens, 0.0)
            elif kind == "revoke_refresh_tokens":
                self._refresh_tokens.clear()
            elif kind == "set_password":
                self.password = str(params.get("password") or secrets.token_hex(8))
            else:
                raise ValueError(f"unknown action {kind!r}")

    def _take_fault(self, route: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind == "fail_job" or (fault.route is not None and fault.route != route):
                    continue
                if fault.kind == "unknown_job" and "{id}" not in route:
                    continue
                return self._consume(fault)
        return None

    def _take_job_failure(self) -> tuple[int, str] | None:
        with self._lock:
            fault = next((f for f in self._faults if f.kind == "fail_job"), None)
            return (fault.code, fault.text) if fault and self._consume(fault) else None

    def _consume(self, fault: Fault) -> Fault:
        if fault.count > 0:
            fault.count -= 1
            if fault.count == 0:
                self._faults.remove(fault)
        return fault

    # --- tokens -----------------------------------------------------------------------------------------

    def _issue_id_token(self, user: str) -> str:
        exp = time.time() + self.token_lifetime
        header = _b64({"alg": "none", "typ": "JWT"})
        payload = _b64({"sub": user, "iat": time.time(), "exp": exp, "jti": uuid.uuid4().hex})
        token = f"{header}.{payload}.{secrets.token_hex(16)}"
        self._id_tokens[token] = exp
        return token

    def _token_valid(self, token: str | None) -> bool:
        with self._lock:
            exp = self._id_tokens.get(token or "")
            return exp is not None and time.time() < exp

    def login(self, body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            return 400, _error(1, "Login expects a JSON object")
        with self._lock:
            if "refresh-token" in body:
                exp = self._refresh_tokens.get(str(body["refresh-token"]))
                if exp is None or time.time() >= exp:
                    self.logins["rejected-refresh"] += 1
                    return 400, _error(2, "Invalid Refresh Token")
                self.logins["refresh"] += 1
                refresh = str(body["refresh-token"])
            elif "email" in body and "password" in body:
                if body["email"] != self.username or body["password"] != self.password:
                    self.logins["rejected-password"] += 1
                    return 401, _error(3, "Invalid email or password")
                self.logins["password"] += 1
                refresh = secrets.token_urlsafe(24)
                self._refresh_tokens[refresh] = time.time() + self.refresh_lifetime
            else:
                return 400, _error(1, "Login expects email and password, or refresh-token")
            return 200, {"id-token": self._issue_id_token(self.username), "refresh-token": refresh}

    # --- jobs -------------------------------------------------------------------------------------------

    def submit(self, body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            return 400, _error(10, "A job is a JSON object")
        machine, language, program, count = (body.get(k) for k in ("machine", "language", "program", "count"))
        if machine not in self.machine_states:
            return 400, _error(11, f"Unknown machine {machine!r}")
        if language not in LANGUAGES:
            return 400, _error(12, f"Unsupported language {language!r}")
        if not isinstance(program, str) or not program.strip():
            return 400, _error(13, "The program is empty")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_SHOTS:
            return 400, _error(14, f"count must be an integer in 1..{MAX_SHOTS}")
        job_id = uuid.uuid4().hex
        fail = self._take_job_failure()
        with self._lock:
            seed = next(self._seeds)
        simulation = self._pool.submit(_simulate, program, count, seed)
        job = _Job(id=job_id, name=str(body.get("name") or ""), machine=machine, program=program, count=count,
                   user=self.username, submitted=datetime.now(UTC), t0=time.monotonic(), simulation=simulation,
                   fail=fail)
        with self._lock:
            self.jobs[job_id] = job
        return 200, {"job": job_id}

    def job_view(self, job_id: str, *, poll: bool) -> dict[str, Any] | None:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                return None
            if poll:
                job.polls += 1
            self._advance(job)
            return self._view(job, full=True)

    def cancel(self, job_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                return 404, _error(20, f"Job {job_id} not found")
            self._advance(job)
            if job.status in FINAL:
                return 400, _error(21, f"Job {job_id} has already finished ({job.status})")
            if job.status == "queued" or self.cancel_running:
                job.status, job.finished = "canceled", datetime.now(UTC)
                job.simulation.cancel()
            return 200, {"job": job_id, "status": job.status}

    def list_jobs(self, limit: int, offset: int) -> list[dict[str, Any]]:
        with self._lock:
            ordered = sorted(self.jobs.values(), key=lambda j: j.submitted, reverse=True)
            for job in ordered[offset:offset + limit]:
                self._advance(job)
            return [self._view(j, full=False) for j in ordered[offset:offset + limit]]

    def _advance(self, job: _Job) -> None:
        sched, now = self.schedule, time.monotonic()
        if job.status == "queued" and now - job.t0 >= sched.queued_s and job.polls >= sched.queued_polls:
            job.status, job.started, job.t_run, job.polls_at_run = "running", datetime.now(UTC), now, job.polls
        if (job.status == "running" and now - job.t_run >= sched.running_s
                and job.polls - job.polls_at_run >= sched.running_polls and job.simulation.done()):
            job.finished = datetime.now(UTC)
            exc = job.simulation.exception()
            if job.fail is not None:
                job.status, job.error = "failed", {"code": job.fail[0], "text": job.fail[1]}
            elif exc is not None:
                job.status, job.error = "failed", {"code": 2001, "text": f"Compilation failed: {exc}"}
            else:
                job.status, job.results = "completed", job.simulation.result()

    def _view(self, job: _Job, *, full: bool) -> dict[str, Any]:
        view: dict[str, Any] = {"job": job.id, "name": job.name, "status": job.status, "machine": job.machine,
                                "submit-date": _iso(job.submitted), "start-date": _iso(job.started),
                                "result-date": _iso(job.finished), "count": job.count}
        if full:
            view["queue-position"] = 1 if job.status == "queued" else None
            if job.results is not None:
                view["results"] = job.results
            if job.error is not None:
                view["error"] = job.error
        return view


def _b64(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _error(code: int, text: str) -> dict[str, Any]:
    return {"error": {"code": code, "text": text}}


def _route(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    if not path.startswith(BASE + "/"):
        return None
    rest = path[len(BASE):]
    for verb, pattern, name in _ROUTES:
        match = pattern.fullmatch(rest)
        if verb == method and match:
            return name, match.groupdict()
    return None


def _handler_for(fake: FakeQuantinuum) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        service = fake

    return Handler


class _Handler(BaseHTTPRequestHandler):
    service: FakeQuantinuum
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx pools connections
    timeout = 30  # idle keep-alive connections end

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stats, not logs
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # --- plumbing -----------------------------------------------------------------------------------------

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return ...  # not JSON

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _drop(self) -> None:
        """Close the connection without an answer (the client sees a disconnect)."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have gone already
            self.connection.shutdown(socket.SHUT_RDWR)

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        body = self._body()
        if split.path.startswith("/_control"):
            self._control(method, split.path, body)
            return
        svc = self.service
        found = _route(method, split.path)
        with svc._lock:
            svc.paths[split.path] += 1
            svc.requests[found[0] if found else f"{method} ?"] += 1
        if found is None:
            self._send(404, _error(404, f"No route {method} {split.path}"))
            return
        route, args = found
        fault = svc._take_fault(route)
        if fault is not None and fault.kind != "drop_after_accept":
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif self._fault(fault, route):
                return
        if body is ...:
            self._send(400, _error(5, "The request body is not JSON"))
            return
        status, payload = self._handle(route, args, body, parse_qs(split.query))
        if fault is not None and fault.kind == "drop_after_accept":
            self._drop()
            return
        self._send(status, payload)

    def _fault(self, fault: Fault, route: str) -> bool:
        """Answers for the fault; False when the request goes on to its handler."""
        if fault.kind == "error":
            self._send(fault.status, _error(fault.status, "Service unavailable (injected)"))
        elif fault.kind == "rate_limit":
            self._send(429, _error(429, "Too many requests (injected)"), {"Retry-After": f"{fault.retry_after:g}"})
        elif fault.kind == "drop":
            self._drop()
        elif fault.kind == "malformed":
            self._send(200, b'{"job": "trunc')
        elif fault.kind == "unknown_job":
            self._send(404, _error(20, "Job not found"))
        else:
            return False
        return True

    def _handle(self, route: str, args: dict[str, str], body: Any,
                query: dict[str, list[str]]) -> tuple[int, Any]:
        svc = self.service
        if route == "POST /login":
            return svc.login(body)
        if not svc._token_valid(self.headers.get("Authorization")):
            return 401, _error(401, "Unauthorized: the id-token is missing, invalid or expired")
        if route == "POST /job":
            return svc.submit(body)
        if route == "GET /job/{id}":
            view = svc.job_view(args["id"], poll=True)
            return (200, view) if view is not None else (404, _error(20, f"Job {args['id']} not found"))
        if route == "POST /job/{id}/cancel":
            return svc.cancel(args["id"])
        if route == "GET /jobs":
            limit = _int(query, "limit", 100, 1, 1000)
            return 200, svc.list_jobs(limit, _int(query, "offset", 0, 0, 10**9))
        if route == "GET /machine":
            with svc._lock:
                return 200, [{"name": m, "state": s} for m, s in svc.machine_states.items()]
        with svc._lock:
            state = svc.machine_states.get(args["name"])
        if state is None:
            return 404, _error(30, f"Unknown machine {args['name']}")
        return 200, {"name": args["name"], "state": state}

    def _control(self, method: str, path: str, body: Any) -> None:
        svc = self.service
        try:
            if path == "/_control/faults" and method == "POST":
                for spec in body if isinstance(body, list) else [body]:
                    if not isinstance(spec, dict):
                        raise ValueError("a fault is a JSON object")
                    svc.inject(**spec)
                self._send(200, {"faults": svc.pending_faults()})
            elif path == "/_control/faults" and method == "DELETE":
                svc.clear_faults()
                self._send(200, {"faults": []})
            elif path == "/_control/machines" and method == "POST" and isinstance(body, dict):
                for machine, state in body.items():
                    svc.set_machine_state(str(machine), str(state))
                self._send(200, {"machines": dict(svc.machine_states)})
            elif path == "/_control/stats" and method == "GET":
                self._send(200, svc.stats())
            elif path == "/_control/reset" and method == "POST":
                svc.reset_counters()
                self._send(200, {})
            else:
                self._send(404, _error(404, f"No control route {method} {path}"))
        except (TypeError, ValueError) as exc:
            self._send(400, _error(400, str(exc)))


def _int(query: dict[str, list[str]], key: str, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(query[key][0])))
    except (KeyError, IndexError, ValueError):
        return default


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "localhost", "::1"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, help="write the bound port here once serving")
    parser.add_argument("--username", default="user@example.com")
    parser.add_argument("--password", default=os.environ.get("KUANTUM_FAKE_QUANTINUUM_PASSWORD", "secret"))
    parser.add_argument("--token-lifetime", type=float, default=1800.0, help="id-token lifetime, seconds")
    parser.add_argument("--queued-seconds", type=float, default=0.0)
    parser.add_argument("--running-seconds", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    fake = FakeQuantinuum(args.username, args.password, host=args.host, port=args.port,
                          token_lifetime=args.token_lifetime, seed=args.seed,
                          schedule=Schedule(queued_s=args.queued_seconds, running_s=args.running_seconds))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    fake.start()
    try:
        if args.port_file:
            tmp = args.port_file.with_name(args.port_file.name + ".tmp")
            tmp.write_text(str(fake.port))
            tmp.replace(args.port_file)  # readers never see a half-written port
        print(f"fake quantinuum serving {fake.url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
