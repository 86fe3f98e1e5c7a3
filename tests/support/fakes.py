"""The providers' loopback test servers as processes, as the operator reaches real providers: over HTTP."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.processes import stop


@dataclass
class FakeServer:
    base: str  # http://127.0.0.1:PORT
    proc: subprocess.Popen[bytes]

    def control(self, method: str, name: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}/_control/{name}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
        return json.loads(text) if text.strip() else None


@contextmanager
def fake_process(module: str, args: list[str], workdir: Path) -> Iterator[FakeServer]:
    """Starts `python -m module --host 127.0.0.1 --port 0 --port-file F ...`; stops it by its PID."""
    port_file = workdir / f"{module.rsplit('.', 1)[-1]}.port"
    port_file.unlink(missing_ok=True)
    log = open(workdir / f"{module.rsplit('.', 1)[-1]}.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", module, "--host", "127.0.0.1", "--port", "0",
                             "--port-file", str(port_file), *args], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{module} did not start: {(workdir / (module.rsplit('.', 1)[-1] + '.log'))}")
            time.sleep(0.05)
        yield FakeServer(f"http://127.0.0.1:{int(port_file.read_text().strip())}", proc)
    finally:
        stop(proc)
        log.close()
