"""The validating webhook (kuantum/webhooks.py): what it refuses (malformed specs at create, immutable changes, but
never an update that leaves a spec as it was: the operator's own finalizer and label writes on a job created
before the webhook served), and its server's client config, a Service reference (what the chart needs), not
Kopf's https URL."""

from __future__ import annotations

import base64
import socket
from pathlib import Path
from typing import Any

import kopf
import pytest
from kopf._core.engines.admission import _inject_handler_id
from kuantum import webhooks
from kuantum.webhooks import check_job, quantumjob_validator

VALID: dict[str, Any] = {"workspace": "ws", "provider": "microsoft-qio", "target": "microsoft.simulatedannealing.cpu",
                         "input": {"inline": "{}"}}
TWO_INPUTS: dict[str, Any] = {**VALID, "input": {"inline": "x", "blobUri": "http://a/b"}}


def refusal(operation: str, spec: dict[str, Any], old_spec: dict[str, Any] | None = None) -> str | None:
    try:
        check_job(operation, spec, old_spec)
    except kopf.AdmissionError as e:
        assert e.code == 422
        return str(e)
    return None


def test_create_refuses_a_malformed_spec_and_accepts_a_valid_one() -> None:
    assert "exactly one of" in (refusal("CREATE", TWO_INPUTS) or "")
    assert refusal("CREATE", VALID) is None


def test_update_refuses_immutable_changes_and_bad_mutable_values_of_a_valid_spec() -> None:
    assert "target" in (refusal("UPDATE", {**VALID, "target": "microsoft.tabu.cpu"}, VALID) or "")
    assert refusal("UPDATE", {**VALID, "tags": "not-a-list"}, VALID) is not None
    assert refusal("UPDATE", {**VALID, "cancel": True, "tags": ["ok"]}, VALID) is None


@pytest.mark.parametrize("new_spec", [TWO_INPUTS, {**TWO_INPUTS, "cancel": True}], ids=["unchanged", "cancelled"])
def test_an_invalid_spec_from_before_the_webhook_can_still_be_finalized_and_cancelled(new_spec: dict[str, Any]) -> None:
    assert refusal("UPDATE", new_spec, TWO_INPUTS) is None


def test_an_invalid_spec_keeps_its_immutable_fields() -> None:
    assert "immutable" in (refusal("UPDATE", {**TWO_INPUTS, "target": "microsoft.tabu.cpu"}, TWO_INPUTS) or "")


def test_a_delete_is_never_refused() -> None:
    assert refusal("DELETE", TWO_INPUTS, TWO_INPUTS) is None


def test_a_namespaced_operator_judges_only_its_own_namespaces() -> None:
    validate = quantumjob_validator(["mine"])
    with pytest.raises(kopf.AdmissionError):
        validate(spec=TWO_INPUTS, namespace="mine", operation="CREATE")
    validate(spec=TWO_INPUTS, namespace="theirs", operation="CREATE")
    with pytest.raises(kopf.AdmissionError):
        quantumjob_validator([])(spec=TWO_INPUTS, namespace="anywhere", operation="CREATE")


def test_an_operator_with_an_exclusion_pattern_judges_the_other_namespaces() -> None:
    validate = quantumjob_validator(["!t-*,!bench-*"])
    validate(spec=TWO_INPUTS, namespace="t-1234", operation="CREATE")  # another operator's namespace
    with pytest.raises(kopf.AdmissionError):
        validate(spec=TWO_INPUTS, namespace="kuantum-demo", operation="CREATE")


# ---------------------------------------------------------------------------------------------- service reference
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


def test_a_new_job_with_an_id_in_use_in_its_workspace_is_refused_naming_the_job_that_holds_it() -> None:
    from kuantum.runtime.store import Store

    store = Store()
    held = "6f0d1d0e-3a43-4f4e-b0f5-1c9c1f6f1a2b"
    store.put_job({"metadata": {"name": "first", "namespace": "ns", "uid": "u1", "creationTimestamp": "2024-01-01"},
                   "spec": {**VALID, "id": held}, "status": {"id": held, "state": "Waiting"}})
    validate = quantumjob_validator([], store=lambda: store)
    with pytest.raises(kopf.AdmissionError) as refused:
        validate(spec={**VALID, "id": held.upper()}, namespace="ns", operation="CREATE", uid="u2")
    assert refused.value.code == 409
    assert "already used by QuantumJob first in workspace ws" in str(refused.value)
    validate(spec={**VALID, "id": held, "workspace": "other"}, namespace="ns", operation="CREATE", uid="u3")
    validate(spec={**VALID, "id": held}, namespace="elsewhere", operation="CREATE", uid="u4")
    validate(spec={**VALID, "id": held}, namespace="ns", operation="CREATE", uid="u1")  # itself (a retried create)
    quantumjob_validator([])(spec={**VALID, "id": held}, namespace="ns", operation="CREATE")  # no store yet
