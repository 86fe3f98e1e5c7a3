"""Blob SAS URL input/output against Azurite.

Uses the Azurite on 127.0.0.1:10000 when one answers (the dev cluster's), else starts `azurite-blob`
(installed by `make tools`) on a free port for this module. Without either the tests fail and say
what is missing; KUANTUM_SKIP_AZURITE_TESTS=1 skips them explicitly instead.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import stop

# Azurite's documented, public development-storage account (not a secret).
_ACCOUNT = "devstoreaccount1"
_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_DEV_PORT = 10000
_START_WAIT = 60.0  # upper bound for a starting Azurite to accept connections (not a timing assertion)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _azurite_binary() -> str | None:
    cache = Path(os.environ.get("KUANTUM_CACHE", Path.home() / ".cache" / "kuantum"))
    for candidate in (shutil.which("azurite-blob"), cache / "bin" / "azurite-blob",
                      cache / "azurite" / "node_modules" / ".bin" / "azurite-blob"):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("KUANTUM_SKIP_AZURITE_TESTS") == "1":
        pytest.skip("KUANTUM_SKIP_AZURITE_TESTS=1: blob I/O against Azurite not tested")
    if _listening(_DEV_PORT):
        yield f"http://127.0.0.1:{_DEV_PORT}/{_ACCOUNT}"
        return
    binary = _azurite_binary()
    if binary is None:
        pytest.fail("these tests need Azurite: none listens on 127.0.0.1:10000 and no azurite-blob binary was "
                    "found (on PATH or under ~/.cache/kuantum); run `make tools` (npm install of azurite@3), "
                    "or set KUANTUM_SKIP_AZURITE_TESTS=1 to skip them explicitly")
    port = _free_port()
    location = tmp_path_factory.mktemp("azurite")
    log = (location / "azurite.log").open("w")
    proc = subprocess.Popen([binary, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(location),
                             "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + _START_WAIT
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{binary} did not start (exit code {proc.poll()}): "
                            f"{(location / 'azurite.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/{_ACCOUNT}"
    finally:
        stop(proc)
        log.close()


@pytest.fixture
def container(endpoint: str) -> Iterator[tuple[Any, str, str]]:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient(account_url=endpoint, credential={"account_name": _ACCOUNT, "account_key": _KEY})
    name = f"kuantum-solver-test-{uuid.uuid4().hex[:12]}"
    client = service.create_container(name)
    yield client, name, endpoint
    client.delete_container()


def _sas_url(endpoint: str, container: str, blob: str, *, write: bool) -> str:
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    perms = BlobSasPermissions(read=True, write=write, create=write)
    sas = generate_blob_sas(_ACCOUNT, container, blob, account_key=_KEY, permission=perms,
                            expiry=datetime.now(UTC) + timedelta(minutes=10))
    return f"{endpoint}/{container}/{blob}?{sas}"


def _solve(inp: str, out: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUANTUM_TERMINATION_LOG": str(tmp_path / "log")}
    return subprocess.run(
        [sys.executable, "-m", "kuantum_solvers", "--target", "microsoft.simulatedannealing.cpu", "--input", inp,
         "--output", out, "--params", '{"params": {"sweeps": 20, "seed": 1}}'],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )


def test_gzip_blob_in_json_blob_out(container: tuple[Any, str, str], tmp_path: Path) -> None:
    client, name, endpoint = container
    problem = {"cost_function": {"version": "1.0", "type": "ising", "terms": [{"c": 1, "ids": [0, 1]}]}}
    client.upload_blob("inputData", gzip.compress(json.dumps(problem).encode()))
    proc = _solve(_sas_url(endpoint, name, "inputData", write=False),
                  _sas_url(endpoint, name, "outputData", write=True), tmp_path)
    assert proc.returncode == 0, proc.stderr
    blob = client.get_blob_client("outputData")
    assert blob.get_blob_properties().content_settings.content_type == "application/json"
    result = json.loads(blob.download_blob().readall())
    assert result["cost"] == -1.0
    assert result["configuration"]["0"] == -result["configuration"]["1"]  # c = +1: the spins disagree


def test_missing_input_blob(container: tuple[Any, str, str], tmp_path: Path) -> None:
    client, name, endpoint = container
    out_url = _sas_url(endpoint, name, "outputData", write=True)
    proc = _solve(_sas_url(endpoint, name, "nope", write=False), out_url, tmp_path)
    assert proc.returncode == 2
    last = json.loads(proc.stderr.strip().splitlines()[-1])
    assert last["code"] == "InputNotFound"
    assert "sig=" not in last["message"]  # SAS tokens never leak into messages
    assert not client.get_blob_client("outputData").exists(), "no output is written when the input is missing"
