"""A solver worker on the terms of the worker contract (kuantum_solvers/formats/worker.py), run by the test: an HTTP
server on 127.0.0.1 that takes runs (checking the token and each request with the contract's own parser) and keeps
them running until the test ends them with `finish`. The real worker is tested on its own
(tests/unit/solvers/test_worker.py) and on the dev cluster; this one lets the pool backend's tests decide how each
run ends, as the job world's tests decide a solver pod's phase."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kuantum_solvers.formats import worker as wire


class FakeWorker:
    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[wire.RunRequest] = []  # every run request accepted, in order
        self.deleted: list[str] = []
        self.epochs: list[str | None] = []  # the leader epoch header of every call with the token, in order
        self.runs: dict[str, wire.RunStatus] = {}
        self.changed = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeWorker:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def finish(self, run_id: str, exit_code: int = 0, termination: str = "", log: str = "", oom: bool = False,
               timed_out: bool = False) -> None:
        """The run ends as a worker would report it (a long poll waiting on it answers now)."""
        with self.changed:
            run = self.runs[run_id]
            self.runs[run_id] = replace(run, state=wire.SUCCEEDED if exit_code == 0 else wire.FAILED,
                                        ended_at=run.started_at + 2, exit_code=exit_code, termination=termination,
                                        log=log, oom_killed=oom, timed_out=timed_out)
            self.changed.notify_all()

    def running(self) -> str | None:
        with self.changed:
            return next((run_id for run_id, run in self.runs.items() if not run.ended), None)

    def _start(self, request: wire.RunRequest) -> tuple[int, wire.RunStatus | dict[str, Any]]:
        with self.changed:
            if request.id in self.runs:
                return 200, self.runs[request.id]
            going = self.running()
            if going is not None:
                return 409, {"error": "busy", "running": going}
            self.requests.append(request)
            self.runs[request.id] = wire.RunStatus(request.id, wire.RUNNING, time.time())
            return 202, self.runs[request.id]

    def _status(self, run_id: str, wait: float) -> wire.RunStatus | None:
        deadline = time.monotonic() + min(wait, wire.MAX_WAIT_SECONDS)
        with self.changed:
            while True:
                run = self.runs.get(run_id)
                if run is None or run.ended or time.monotonic() >= deadline:
                    return run
                self.changed.wait(deadline - time.monotonic())

    def _delete(self, run_id: str) -> wire.RunStatus | None:
        with self.changed:
            run = self.runs.pop(run_id, None)
            if run is not None:
                self.deleted.append(run_id)
                if not run.ended:
                    run = replace(run, state=wire.FAILED, ended_at=time.time(), exit_code=-9)
            self.changed.notify_all()
            return run


def _handler(worker: FakeWorker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == wire.HEALTH_PATH:
                self._json(200, {"busy": worker.running()})
            elif self._authorized() and url.path == wire.RUNS_PATH:
                with worker.changed:
                    self._json(200, {"runs": [asdict(run) for run in worker.runs.values()]})
            elif self._authorized():
                wait = float(parse_qs(url.query).get("wait", ["0"])[0])
                self._status(worker._status(url.path.rsplit("/", 1)[1], wait))

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self._authorized():
                code, answer = worker._start(wire.RunRequest.from_json(body))
                self._json(code, asdict(answer) if isinstance(answer, wire.RunStatus) else answer)

        def do_DELETE(self) -> None:
            if self._authorized():
                self._status(worker._delete(urlsplit(self.path).path.rsplit("/", 1)[1]))

        def _authorized(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {worker.token}":
                worker.epochs.append(self.headers.get(wire.EPOCH_HEADER))
                return True
            self._json(401, {"error": "token"})
            return False

        def _status(self, run: wire.RunStatus | None) -> None:
            if run is None:
                self._json(404, {"error": "no such run"})
            else:
                self._json(200, asdict(run))

        def _json(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
