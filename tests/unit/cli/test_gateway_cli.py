"""`kuantum connection-string`: the SDK's own parser accepts what it prints."""

from __future__ import annotations

from typing import Any

import pytest
from azure.quantum import Workspace
from kuantum.cli import main as cli
from kuantum.cli import session as cli_kube
from kuantum.runtime.client import KubeClient


class FakeKube(KubeClient):
    def __init__(self, objects: dict[str, Any], secrets: dict[str, dict[str, str]]) -> None:
        self.objects, self.secrets = objects, secrets

    async def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get(name)

    async def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.secrets.get(name)


def session(gateway: bool = True, secret: dict[str, str] | None = None) -> cli_kube.Session:
    spec: dict[str, Any] = {"storage": {"connectionStringSecretRef": {"name": "s", "key": "c"}}}
    if gateway:
        spec["gateway"] = {"apiKeySecretRef": {"name": "api", "key": "key"}}
    s = cli_kube.Session(None, "team-a")
    s.__dict__["kube"] = FakeKube({"demo": {"spec": spec}}, {"api": secret} if secret is not None else {})
    return s


def test_connection_string_is_what_the_sdk_reads(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "connect", lambda *_: session(secret={"key": "k-123\n"}))
    assert cli.main(["connection-string", "demo", "--endpoint", "https://eastus-v2-quantum-azure-com"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    ws = Workspace.from_connection_string(out.strip())
    assert (ws.resource_group, ws.name, ws.location) == ("team-a", "demo", "eastus")
    assert "ApiKey=k-123;" in out
    # A V2 workspace to the SDK: get_targets() lists every target, not only the providers it has classes for.
    assert ws._connection_params.workspace_kind.value == "V2"


def test_an_endpoint_without_v2_lists_fewer_targets_and_says_so(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "connect", lambda *_: session(secret={"key": "k"}))
    assert cli.main(["connection-string", "demo", "--endpoint", "https://eastus-quantum-azure-com"]) == 0
    out, err = capsys.readouterr()
    assert Workspace.from_connection_string(out.strip())._connection_params.workspace_kind.value == "V1"
    assert "warning" in err and "-v2" in err


@pytest.mark.parametrize(("args", "sess", "message"), [
    (["--endpoint", "http://127.0.0.1:8480/"], session(secret={"key": "k"}), "only https endpoints"),
    (["--endpoint", "https://eastus.quantum.azure.com/"], session(gateway=False), "not served by the gateway"),
    (["--endpoint", "https://eastus.quantum.azure.com/"], session(), "Secret api"),
    (["--endpoint", "https://eastus.quantum.azure.com/"], session(secret={"other": "x"}), "no key 'key'"),
])
def test_connection_string_errors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                  args: list[str], sess: cli_kube.Session, message: str) -> None:
    monkeypatch.setattr(cli, "connect", lambda *_: sess)
    assert cli.main(["connection-string", "demo", *args]) == 1
    assert message in capsys.readouterr().err


def test_endpoints_the_sdk_refuses_get_a_warning(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "connect", lambda *_: session(secret={"key": "k"}))
    assert cli.main(["connection-string", "demo", "--endpoint", "https://gateway.example.com:8443"]) == 0
    assert "warning" in capsys.readouterr().err
