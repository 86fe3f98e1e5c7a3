"""`kuantum-solve-worker`: a warm solver worker, the pod that a pool keeps up to take jobs one at a time (the
worker contract, formats/worker.py).

A solver pod per job pays a container's start and about a second of CPU for python, numpy and numba's kernels
before its job begins: on 2 cores that caps a node near one job a second. A worker pays it once. Each run is a
process forked from a fork server that imported and warmed the engines (warm.py), so it starts in milliseconds,
runs `kuantum-solve` exactly as a pod would (the pod contract's arguments and environment; seeded results are the
same), and ends with the process: no job's data outlives its run, and a run the OOM killer takes leaves the worker
up. Numba's fork-safe threading layer (workqueue) is chosen for that, before numba is imported.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kuantum_solvers.formats import contract
from kuantum_solvers.formats import worker as wire
from kuantum_solvers.resources import oom_kills

WARM_MODULE = "kuantum_solvers.warm"
LOG_LIMIT = 1024 * 1024  # bytes of a run's log kept: its end (the operator stores it beside the output)
ENDED_KEPT = 64  # ended runs remembered until the operator deletes them (it reads each one's end once)
TERMINATION_LOG_ENV = "KUANTUM_TERMINATION_LOG"  # where cli.py writes a failed run's termination message
KILL_WAIT_SECONDS = 30.0  # a killed run's end, waited for by a delete
IDLE_CHECK_SECONDS = 1.0


@dataclass
class _Run:
    request: wire.RunRequest
    process: Any  # multiprocessing's Process, from the fork server
    started_at: float
    folder: str
    oom_kills_before: int | None
    cancelled: bool = False
    timed_out: bool = False

    @property
    def log_path(self) -> str:
        return os.path.join(self.folder, "log")

    @property
    def termination_path(self) -> str:
        return os.path.join(self.folder, "termination")


class Busy(Exception):
    def __init__(self, running: str) -> None:
        super().__init__(f"busy with run {running}")
        self.running = running


class Fenced(Exception):
    """A call from an operator replica that no longer leads: its epoch is below one the worker was already sent."""

    def __init__(self, epoch: int, highest: int) -> None:
        super().__init__(f"leader epoch {epoch} is stale: the worker was already asked by epoch {highest}")
        self.highest = highest


class Worker:
    """The runs: at most one going, the ended ones kept until deleted. Thread-safe (the HTTP server's threads)."""

    def __init__(self, scratch: str) -> None:
        self.scratch = scratch
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload([WARM_MODULE])
        self.changed = threading.Condition()
        self.current: _Run | None = None
        self.ended: OrderedDict[str, wire.RunStatus] = OrderedDict()
        self.ready = threading.Event()
        self.last_asked = time.monotonic()  # the last request but a health check
        self.epoch = 0  # the highest leader epoch sent (wire.EPOCH_HEADER): calls with a lower one are refused

    def idle_for(self) -> float:
        """Seconds with no run going and no request (health checks aside): 0 while a run goes."""
        with self.changed:
            return 0.0 if self.current is not None else time.monotonic() - self.last_asked

    def asked(self) -> None:
        with self.changed:
            self.last_asked = time.monotonic()

    def warm(self) -> None:
        """Starts the fork server (which imports warm.py) and forks one empty process from it: ready after."""
        process = self.context.Process(target=_nothing)
        process.start()
        process.join()
        self.ready.set()

    def start(self, request: wire.RunRequest, epoch: int | None = None) -> tuple[bool, wire.RunStatus]:
        """(True, status) for a run started now; (False, status) for this id's run already known."""
        with self.changed:
            self._admit(epoch)
            known = self._status(request.id)
            if known is not None:
                return False, known
            if self.current is not None:
                raise Busy(self.current.request.id)
            folder = tempfile.mkdtemp(prefix="run-", dir=self.scratch)
            run = _Run(request, None, time.time(), folder, oom_kills())
            run.process = self.context.Process(target=_run_in_child, args=(request, run.log_path, run.termination_path),
                                               name=f"run-{request.id}")
            run.process.start()
            self.current = run
            threading.Thread(target=self._watch, args=(run,), name=f"watch-{request.id}", daemon=True).start()
            print(f"kuantum-solve-worker: run {request.id} ({request.target}) started, pid {run.process.pid}",
                  file=sys.stderr, flush=True)
            return True, self._running_status(run)

    def status(self, run_id: str, wait: float = 0.0) -> wire.RunStatus | None:
        deadline = time.monotonic() + min(max(wait, 0.0), wire.MAX_WAIT_SECONDS)
        with self.changed:
            while True:
                found = self._status(run_id)
                left = deadline - time.monotonic()
                if found is None or found.ended or left <= 0:
                    return found
                self.changed.wait(left)

    def delete(self, run_id: str, epoch: int | None = None) -> wire.RunStatus | None:
        """Kills the run if it is going (and waits for its end), then forgets it."""
        with self.changed:
            self._admit(epoch)
            run = self.current if self.current is not None and self.current.request.id == run_id else None
            if run is not None:
                run.cancelled = True
                _kill(run)
                deadline = time.monotonic() + KILL_WAIT_SECONDS
                while self.current is run and time.monotonic() < deadline:
                    self.changed.wait(deadline - time.monotonic())
            return self.ended.pop(run_id, None)

    def runs(self, epoch: int | None = None) -> list[wire.RunStatus]:
        """Every run known (the going one first), without logs. A new leader's listing fences its predecessors:
        under the same lock as a start, so a start of theirs is either listed here or refused after."""
        with self.changed:
            self._admit(epoch)
            going = [self._running_status(self.current)] if self.current is not None else []
            return going + [replace(status, log="") for status in self.ended.values()]

    def busy_with(self) -> str | None:
        with self.changed:
            return self.current.request.id if self.current is not None else None

    # ------------------------------------------------------------------------------------------ internals
    def _admit(self, epoch: int | None) -> None:
        """Refuses a stale leader's call; a newer leader's raises the epoch. Called holding self.changed."""
        if epoch is None:
            return
        if epoch < self.epoch:
            raise Fenced(epoch, self.epoch)
        self.epoch = epoch

    def _status(self, run_id: str) -> wire.RunStatus | None:
        if self.current is not None and self.current.request.id == run_id:
            return self._running_status(self.current)
        return self.ended.get(run_id)

    @staticmethod
    def _running_status(run: _Run) -> wire.RunStatus:
        return wire.RunStatus(run.request.id, wire.RUNNING, run.started_at)

    def _watch(self, run: _Run) -> None:
        run.process.join(run.request.timeout_seconds)
        if run.process.exitcode is None:  # past the job's timeoutSeconds
            run.timed_out = True
            _kill(run)
        run.process.join()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(run.process.pid, signal.SIGKILL)  # nothing the run started outlives it
        status = _ended_status(run)
        _remove(run.folder)
        print(f"kuantum-solve-worker: run {run.request.id} {status.state}, exit {status.exit_code}"
              + (" (OOM-killed)" if status.oom_killed else "") + (" (timed out)" if status.timed_out else ""),
              file=sys.stderr, flush=True)
        with self.changed:
            self.ended[run.request.id] = status
            while len(self.ended) > ENDED_KEPT:
                self.ended.popitem(last=False)
            self.current = None
            self.changed.notify_all()


def _nothing() -> None:
    pass


def _run_in_child(request: wire.RunRequest, log_path: str, termination_path: str) -> None:
    """The run, in a process forked from the warm fork server: `kuantum-solve` on the pod contract's terms, its
    output (stdout and stderr) into the run's log, in a process group of its own (killed whole when it ends)."""
    os.setsid()
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.environ.update({contract.INPUT_URL_ENV: request.input_url, contract.OUTPUT_URL_ENV: request.output_url,
                       contract.PARAMS_ENV: request.params, TERMINATION_LOG_ENV: termination_path,
                       **contract.tracing_env(request.traceparent, request.otlp_endpoint)})
    from kuantum_solvers import cli

    sys.exit(cli.main(contract.solver_args(request.target, request.input_format, request.output_format)))


def _kill(run: _Run) -> None:
    if run.process.exitcode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(run.process.pid, signal.SIGKILL)


def _ended_status(run: _Run) -> wire.RunStatus:
    code = run.process.exitcode
    killed = code == -signal.SIGKILL and not run.cancelled and not run.timed_out
    after = oom_kills() if killed else None
    oom = killed and after is not None and run.oom_kills_before is not None and after > run.oom_kills_before
    return replace(Worker._running_status(run), state=wire.SUCCEEDED if code == 0 else wire.FAILED,
                   ended_at=time.time(), exit_code=code, termination=_read(run.termination_path, 4096).strip(),
                   oom_killed=oom, timed_out=run.timed_out, log=_read(run.log_path, LOG_LIMIT))


def _read(path: str, limit: int) -> str:
    """The last `limit` bytes of a file ("" if it is not there)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - limit))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _remove(folder: str) -> None:
    for name in ("log", "termination"):
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:
            pass
    try:
        os.rmdir(folder)
    except OSError:
        pass


# ---------------------------------------------------------------------------------------------- HTTP
def handler_for(worker: Worker, token: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == wire.HEALTH_PATH:
                if worker.ready.is_set():
                    self._answer(200, {"busy": worker.busy_with()})
                else:
                    self._answer(503, {"error": "warming up"})
                return
            if url.path == wire.RUNS_PATH:
                if self._authorized():
                    with self._fencing():
                        self._answer(200, {"runs": [asdict(status) for status in worker.runs(self._epoch())]})
                return
            run_id = self._run_id(url.path)
            if run_id is None or not self._authorized():
                return
            try:
                wait = float(parse_qs(url.query).get("wait", ["0"])[0])
            except ValueError:
                self._answer(400, {"error": "wait must be a number of seconds"})
                return
            self._status(worker.status(run_id, wait), run_id)

        def do_POST(self) -> None:
            if urlsplit(self.path).path != wire.RUNS_PATH:
                self._answer(404, {"error": f"no such path: {self.path}"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 < length <= wire.MAX_REQUEST_BYTES:
                self.close_connection = True  # its body is not read: nothing more can be on this connection
                self._answer(400, {"error": f"a run request is 1 to {wire.MAX_REQUEST_BYTES} bytes"})
                return
            body = self.rfile.read(length)  # before any answer: the connection carries the next request after it
            if not self._authorized():
                return
            try:
                request = wire.RunRequest.from_json(body)
            except wire.ContractError as e:
                self._answer(400, {"error": str(e)})
                return
            if not worker.ready.is_set():
                self._answer(503, {"error": "warming up"})
                return
            try:
                with self._fencing():
                    started, status = worker.start(request, self._epoch())
                    self._send(202 if started else 200, status.to_json())
            except Busy as e:
                self._answer(409, {"error": str(e), "running": e.running})

        def do_DELETE(self) -> None:
            run_id = self._run_id(urlsplit(self.path).path)
            if run_id is None or not self._authorized():
                return
            with self._fencing():
                self._status(worker.delete(run_id, self._epoch()), run_id)

        def _run_id(self, path: str) -> str | None:
            prefix = wire.RUNS_PATH + "/"
            if not path.startswith(prefix) or "/" in path[len(prefix):] or len(path) == len(prefix):
                self._answer(404, {"error": f"no such path: {path}"})
                return None
            return path[len(prefix):]

        def _epoch(self) -> int | None:
            value = self.headers.get(wire.EPOCH_HEADER)
            if value is None:
                return None
            try:
                return int(value)
            except ValueError:
                raise Fenced(-1, worker.epoch) from None  # not an epoch: nothing it asks is done

        @contextlib.contextmanager
        def _fencing(self) -> Iterator[None]:
            try:
                yield
            except Fenced as e:
                self._answer(412, {"error": str(e), "epoch": e.highest})

        def _authorized(self) -> bool:
            given = self.headers.get("Authorization", "")
            if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                worker.asked()
                return True
            self._answer(401, {"error": "a worker takes requests with its pool's token only"})
            return False

        def _status(self, status: wire.RunStatus | None, run_id: str) -> None:
            if status is None:
                self._answer(404, {"error": f"no run {run_id}"})
            else:
                self._send(200, status.to_json())

        def _answer(self, code: int, body: dict[str, Any]) -> None:
            import json

            self._send(code, json.dumps(body).encode())

        def _send(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass  # a line per request would bury the runs' lines

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kuantum-solve-worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: every one)")
    parser.add_argument("--port", type=int, default=wire.PORT)
    parser.add_argument("--scratch", default=None, help="folder for the runs' logs (default: the temp folder)")
    parser.add_argument("--idle-exit", type=float, default=0.0, metavar="SECONDS",
                        help="exit (code 0) after this long with no run and no request: a worker whose operator "
                             "is gone (uninstalled) frees its node's resources by itself (default 0: never)")
    args = parser.parse_args(argv)
    token = os.environ.get(wire.TOKEN_ENV, "")
    if not token:
        print(f"kuantum-solve-worker: {wire.TOKEN_ENV} is not set; a worker takes runs only with its pool's token",
              file=sys.stderr)
        return 1
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")  # fork-safe; read when numba is imported
    worker = Worker(args.scratch or tempfile.gettempdir())
    server = ThreadingHTTPServer((args.host, args.port), handler_for(worker, token))
    server.daemon_threads = True
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    print(f"kuantum-solve-worker: listening on {args.host}:{server.server_address[1]}", file=sys.stderr, flush=True)
    worker.warm()
    while not stop.wait(IDLE_CHECK_SECONDS):
        if args.idle_exit and worker.idle_for() > args.idle_exit:
            print(f"kuantum-solve-worker: idle for {args.idle_exit:g} s, exiting", file=sys.stderr, flush=True)
            break
    server.shutdown()
    running = worker.busy_with()
    if running is not None:
        worker.delete(running)
    return 0


if __name__ == "__main__":
    sys.exit(main())
