"""Python processes for tests, forked from one that has already imported the heavy libraries.

Every integration test starts an operator process, and about 2 CPU-seconds of each start are imports (kopf and
aiohttp, the Kubernetes client, pydantic, the Azure SDK, numpy): over a suite, minutes of a 2-core machine. A
"zygote" process per test process imports those once; each operator is then forked from it, imports only the
kuantum package (whose settings read the environment the test gives it) and runs as its own process, with its own
PID, log file, environment and working directory. `ForkedProcess` is the part of `subprocess.Popen` the tests use
(poll, wait, send_signal, terminate, kill, pid, returncode): the zygote is the child's parent and reaps it.

The zygote talks JSON lines on its stdin/stdout, imports nothing of the tests, and exits (terminating what it
forked) when its stdin closes: a test process that dies leaves nothing behind. KUANTUM_TEST_PREWARMED=0 turns it
off (every process then starts cold, as `subprocess.Popen`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

# Imported once in the zygote. Nothing here may read the environment at import in a way a test varies: the one
# such value (the Kubernetes client's default kubeconfig path) is set again in each child.
PRELOAD = ("kopf", "kubernetes", "kubernetes.client", "pydantic", "azure.storage.blob", "numpy", "httpx",
           "prometheus_client", "cryptography.x509", "yaml")
POLL_SECONDS = 0.05
ROOT = Path(__file__).resolve().parents[2]


class ForkedProcess:
    """A process the zygote forked, controlled like a `subprocess.Popen`."""

    def __init__(self, zygote: Zygote, pid: int, args: list[str]) -> None:
        self.zygote = zygote
        self.pid = pid
        self.args = args
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.zygote.returncode(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(POLL_SECONDS)
        return code

    def send_signal(self, sig: int) -> None:
        self.zygote.signal(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """The test process's side: one zygote, started on first use, stopped at exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # As a module from the repository's root (its path first, as for `python -c`): run as a script, this
        # folder would come first on its path and its operator.py would shadow the standard library's.
        self._proc = subprocess.Popen([sys.executable, "-m", __name__, *PRELOAD], cwd=ROOT, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, bufsize=1)
        self._ask({})  # answered once its imports are done

    def spawn(self, argv: list[str], env: dict[str, str], log_path: str) -> ForkedProcess:
        """Runs `python -c argv[1] argv[2:]` as a forked child, its output appended to log_path."""
        answer = self._ask({"op": "spawn", "argv": argv, "env": env, "log": log_path, "cwd": os.getcwd()})
        return ForkedProcess(self, int(answer["pid"]), [sys.executable, *argv])

    def returncode(self, pid: int) -> int | None:
        code = self._ask({"op": "poll", "pid": pid})["returncode"]
        return None if code is None else int(code)

    def signal(self, pid: int, sig: int) -> None:
        """Signals the child unless it has ended (its PID is not reused before the zygote reaps it)."""
        self._ask({"op": "signal", "pid": pid, "signal": int(sig)})

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self._proc.stdin:
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            assert self._proc.stdin and self._proc.stdout
            if request:
                self._proc.stdin.write(json.dumps(request) + "\n")
                self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the test zygote exited (code {self._proc.poll()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the test zygote: {answer['error']}")
        return answer


_zygote: Zygote | None = None
_zygote_lock = threading.Lock()


def zygote() -> Zygote | None:
    """This test process's zygote (started now if need be); None when turned off."""
    global _zygote
    if os.environ.get("KUANTUM_TEST_PREWARMED", "1") == "0":
        return None
    with _zygote_lock:
        if _zygote is None:
            _zygote = Zygote()
            atexit.register(_zygote.close)
        return _zygote


def start_python(argv: list[str], env: dict[str, str], log_path: str) -> ForkedProcess | subprocess.Popen[bytes]:
    """`python -c CODE ARGS...` (argv from "-c") with its output appended to log_path: forked from this test
    process's zygote, or started cold when that is off."""
    forker = zygote()
    if forker is not None:
        return forker.spawn(argv, env, log_path)
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, *argv], env=env, stdout=log, stderr=subprocess.STDOUT)


# ---------------------------------------------------------------------------------------------------- the zygote
def _serve(preload: list[str]) -> None:
    import importlib

    for name in preload:
        importlib.import_module(name)
    children: dict[int, int | None] = {}  # pid -> its exit code once reaped
    _answer({"ready": True})
    while line := sys.stdin.readline():
        request = json.loads(line)
        _reap(children)
        try:
            if request["op"] == "spawn":
                pid = _fork(request)
                children[pid] = None
                _answer({"pid": pid})
            elif request["op"] == "poll":
                _answer({"returncode": children[request["pid"]]})
            elif request["op"] == "signal":
                if children[request["pid"]] is None:
                    os.kill(request["pid"], request["signal"])
                _answer({})
        except Exception as e:  # a bad request: said, and the zygote goes on
            _answer({"error": f"{type(e).__name__}: {e}"})
    _end(children)  # the test process is gone: nothing it started stays


def _answer(body: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(body) + "\n")
    sys.stdout.flush()


def _reap(children: dict[int, int | None]) -> None:
    for pid, code in children.items():
        if code is None:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children[pid] = os.waitstatus_to_exitcode(status)


def _fork(request: dict[str, Any]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:  # the child: what `subprocess.Popen([python, "-c", ...], env=..., stdout=log, stderr=STDOUT)` would give
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        from kubernetes.config import kube_config

        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = os.environ.get("KUBECONFIG", "~/.kube/config")
        sys.argv = ["-c", *request["argv"][2:]]
        exec(compile(request["argv"][1], "<string>", "exec"), {"__name__": "__main__"})
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _end(children: dict[int, int | None]) -> None:
    _reap(children)
    live = [pid for pid, code in children.items() if code is None]
    for pid in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while any(code is None for code in children.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
        _reap(children)
    for pid, code in children.items():
        if code is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


if __name__ == "__main__":
    _serve(sys.argv[1:])
