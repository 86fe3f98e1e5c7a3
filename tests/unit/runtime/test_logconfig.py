"""The operator's log lines: one format, no secrets at any level."""

from __future__ import annotations

import json
import logging

import pytest
from kuantum.runtime import logconfig


@pytest.fixture
def root_handlers():  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    yield
    root.handlers[:] = saved
    root.setLevel(level)


@pytest.mark.parametrize("text", [
    "GET https://a.blob.core.windows.net/job-1/inputData?sv=2023&se=2026&sp=r&sig=AbC%2Fd3f%3D",
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqF==;BlobEndpoint=x",
    "headers {'x-ms-quantum-api-key': 'k3y-value', 'Accept': 'json'}",
    "Authorization: apiKey s3cr3t-ionq",
    'body {"apiKey": "s3cr3t-ionq", "password": "hunter2"}',
])
def test_redact_removes_every_secret_value(text: str) -> None:
    clean = logconfig.redact(text)
    for secret in ("AbC%2Fd3f%3D", "Eby8vdM02xNOcqF==", "k3y-value", "s3cr3t-ionq", "hunter2"):
        assert secret not in clean
    assert "***" in clean


def test_one_handler_and_json_lines_without_secrets(root_handlers: None, capsys: pytest.CaptureFixture[str]) -> None:
    logconfig.configure(verbose=True, log_format="json")
    logconfig.configure(verbose=True, log_format="json")  # configuring twice must not add a second handler
    streams = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)
               and type(h).__module__.startswith("kopf")]
    assert len(streams) == 1
    logging.getLogger("kuantum.test").debug("uploading to %s", "http://x/c/b?sp=w&sig=T0P-SECRET")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert "T0P-SECRET" not in lines[0] and "sig=***" in record["message"]


def test_kopf_per_event_lines_are_debug_only(root_handlers: None) -> None:
    logconfig.configure(verbose=False, log_format="text")
    assert not logging.getLogger("kopf.objects").isEnabledFor(logging.INFO)
    assert logging.getLogger("kuantum.job").isEnabledFor(logging.INFO)
    logconfig.configure(verbose=True, log_format="text")
    assert logging.getLogger("kopf.objects").isEnabledFor(logging.DEBUG)
