"""Blob SAS URL input/output against Azurite (skipped when no Azurite listens on 127.0.0.1:10000)."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

# Azurite's documented, public development-storage account (not a secret).
_ACCOUNT = "devstoreaccount1"
_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_ENDPOINT = f"http://127.0.0.1:10000/{_ACCOUNT}"


def _azurite_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 10000), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def container() -> Iterator[tuple[Any, str]]:
    pytest.importorskip("azure.storage.blob")
    if not _azurite_up():
        pytest.skip("Azurite is not running on 127.0.0.1:10000")
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient(account_url=_ENDPOINT, credential={"account_name": _ACCOUNT, "account_key": _KEY})
    name = f"kuantum-solver-test-{uuid.uuid4().hex[:12]}"
    client = service.create_container(name)
    yield client, name
    client.delete_container()


def _sas_url(container: str, blob: str, *, write: bool) -> str:
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    perms = BlobSasPermissions(read=True, write=write, create=write)
    sas = generate_blob_sas(_ACCOUNT, container, blob, account_key=_KEY, permission=perms,
                            expiry=datetime.now(UTC) + timedelta(minutes=10))
    return f"{_ENDPOINT}/{container}/{blob}?{sas}"


def _solve(inp: str, out: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUANTUM_TERMINATION_LOG": str(tmp_path / "log")}
    return subprocess.run(
        [sys.executable, "-m", "kuantum_solvers", "--target", "microsoft.simulatedannealing.cpu", "--input", inp,
         "--output", out, "--params", '{"params": {"sweeps": 20, "seed": 1}}'],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )


def test_gzip_blob_in_json_blob_out(container: tuple[Any, str], tmp_path: Path) -> None:
    client, name = container
    problem = {"cost_function": {"version": "1.0", "type": "ising", "terms": [{"c": 1, "ids": [0, 1]}]}}
    client.upload_blob("inputData", gzip.compress(json.dumps(problem).encode()))
    proc = _solve(_sas_url(name, "inputData", write=False), _sas_url(name, "outputData", write=True), tmp_path)
    assert proc.returncode == 0, proc.stderr
    blob = client.get_blob_client("outputData")
    assert blob.get_blob_properties().content_settings.content_type == "application/json"
    assert json.loads(blob.download_blob().readall())["cost"] == -1.0


def test_missing_input_blob(container: tuple[Any, str], tmp_path: Path) -> None:
    _, name = container
    out_url = _sas_url(name, "outputData", write=True)
    proc = _solve(_sas_url(name, "nope", write=False), out_url, tmp_path)
    assert proc.returncode == 2
    last = json.loads(proc.stderr.strip().splitlines()[-1])
    assert last["code"] == "InputNotFound"
    assert "sig=" not in last["message"]  # SAS tokens never leak into messages
