"""The webhook server's client config: a Service reference (what the chart needs), not Kopf's https URL."""

from __future__ import annotations

import base64
import socket
from pathlib import Path
from typing import Any

import kopf
import pytest
from kopf._core.engines.admission import _inject_handler_id
from kuantum import webhooks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_client_config_replaces_the_url_by_the_service_and_keeps_the_ca_bundle() -> None:
    server = webhooks.ServiceWebhookServer(service_namespace="kuantum-system", service_name="kuantum-webhook",
                                           port=9443, host="kuantum-webhook.kuantum-system.svc")
    config = server.client_config(kopf.WebhookClientConfig(url="https://kuantum-webhook.kuantum-system.svc:9443",
                                                           caBundle="Q0E="))
    assert config == {"service": {"namespace": "kuantum-system", "name": "kuantum-webhook", "port": 9443},
                      "caBundle": "Q0E="}
    # Kopf appends each handler's id to service.path, as it does to a URL.
    assert _inject_handler_id(config, kopf.HandlerId("validate-quantumjob"))["service"] == {
        "namespace": "kuantum-system", "name": "kuantum-webhook", "port": 9443, "path": "/validate-quantumjob"}


def test_client_config_service_port_and_root_path() -> None:
    server = webhooks.ServiceWebhookServer(service_namespace="ns", service_name="svc", service_port=443,
                                           port=9443, path="hooks/")
    config = server.client_config(kopf.WebhookClientConfig(url="https://x:9443/hooks"))
    assert config == {"service": {"namespace": "ns", "name": "svc", "port": 443, "path": "/hooks"}}
    assert _inject_handler_id(config, kopf.HandlerId("h"))["service"]["path"] == "/hooks/h"


@pytest.mark.parametrize("value, expected", [("ns/name", ("ns", "name")), ("a-b/c-d", ("a-b", "c-d"))])
def test_parse_service(value: str, expected: tuple[str, str]) -> None:
    assert webhooks.parse_service(value) == expected


@pytest.mark.parametrize("value", ["name", "/name", "ns/", "ns/a/b", ""])
def test_parse_service_refuses(value: str) -> None:
    with pytest.raises(ValueError, match="NAMESPACE/NAME"):
        webhooks.parse_service(value)


async def test_running_server_yields_the_service_reference_with_its_certificate(tmp_path: Path) -> None:
    host = "kuantum-webhook.kuantum-system.svc"
    certfile, keyfile = webhooks.self_signed_certificate(host, tmp_path)
    port = _free_port()
    server = webhooks.ServiceWebhookServer(service_namespace="kuantum-system", service_name="kuantum-webhook",
                                           addr="127.0.0.1", port=port, host=host, certfile=certfile,
                                           pkeyfile=keyfile)

    async def fn(request: Any, **_: Any) -> Any:  # never called: no request is sent
        raise AssertionError(request)

    stream = server(fn)
    try:
        config = await stream.__anext__()
        assert "url" not in config
        assert config["service"] == {"namespace": "kuantum-system", "name": "kuantum-webhook", "port": port}
        assert base64.b64decode(config["caBundle"] or "") == Path(certfile).read_bytes()
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # Kopf's server listens as before
    finally:
        await stream.aclose()
