"""`kuantum`'s access to the API server (like kubectl's) and to a workspace's storage."""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from ..runtime.client import ConfigError, KubeClient, load_api_client, run_sync
from .input import UPLOAD_BLOB, UPLOAD_CONTAINER, CliError, is_gzip

if TYPE_CHECKING:
    from ..storage.blobs import WorkspaceStorage

JOBS = "quantumjobs"
WORKSPACES = "quantumworkspaces"
SESSIONS = "quantumsessions"
_KINDS = {JOBS: "QuantumJob", WORKSPACES: "QuantumWorkspace", SESSIONS: "QuantumSession"}
# The gateway's URL space ignores the subscription; the SDK needs one that looks like a GUID.
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
# azure-quantum's own check of QuantumEndpoint (its dots are unescaped, so one-label hosts match too).
SDK_ENDPOINT = re.compile(r"https://[a-zA-Z0-9]+(?:-v2)?.quantum(?:-test)?.azure.com/$")
# A host with `-v2` after the region makes the SDK treat the workspace as a V2 one, whose get_targets() lists
# every target; for a V1 workspace it lists only providers it has classes for (target/target_factory.py).
SDK_V2_ENDPOINT = re.compile(r"https://[a-zA-Z0-9]+-v2.quantum(?:-test)?.azure.com/$")


def connection_string(namespace: str, workspace: str, api_key: str, endpoint: str) -> str:
    """What the SDK's Workspace.from_connection_string reads: the namespace is the resource group."""
    return (f"SubscriptionId={SUBSCRIPTION};ResourceGroupName={namespace};WorkspaceName={workspace};"
            f"ApiKey={api_key};QuantumEndpoint={endpoint};")


def api_error(e: ApiException) -> str:
    """The API server's own message (its Status body), else the HTTP reason."""
    try:
        message = json.loads(e.body or "").get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message or f"{e.status} {e.reason}".strip())


@dataclass
class Session:
    """The CLI's synchronous view of the shared async client (runtime/client.py), bound to one namespace."""

    api_client: client.ApiClient
    namespace: str

    @cached_property
    def kube(self) -> KubeClient:
        return KubeClient(self.api_client, workers=4)

    # ----- QuantumJobs and QuantumWorkspaces -----
    def get(self, plural: str, name: str) -> dict[str, Any]:
        obj = run_sync(self.kube.get(plural, self.namespace, name))
        if obj is None:
            raise CliError(f"{_KINDS[plural]} {name!r} not found in namespace {self.namespace!r}")
        return obj

    def exists(self, plural: str, name: str) -> bool:
        return run_sync(self.kube.get(plural, self.namespace, name)) is not None

    def list_jobs(self) -> dict[str, Any]:
        return run_sync(self.kube.list(JOBS, self.namespace))

    def list_sessions(self) -> dict[str, Any]:
        return run_sync(self.kube.list(SESSIONS, self.namespace))

    def close_session(self, name: str) -> dict[str, Any]:
        patched = run_sync(self.kube.merge_patch(SESSIONS, self.namespace, name, {"spec": {"close": True}}))
        if patched is None:
            raise CliError(f"QuantumSession {name!r} not found in namespace {self.namespace!r}")
        return patched

    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        return run_sync(self.kube.create(JOBS, self.namespace, body))

    def cancel_job(self, name: str) -> dict[str, Any]:
        patched = run_sync(self.kube.merge_patch(JOBS, self.namespace, name, {"spec": {"cancel": True}}))
        if patched is None:
            raise CliError(f"QuantumJob {name!r} not found in namespace {self.namespace!r}")
        return patched

    def api_key(self, workspace_name: str) -> str:
        """The workspace's gateway API key, from the Secret spec.gateway.apiKeySecretRef names."""
        workspace = self.get(WORKSPACES, workspace_name)
        ref = ((workspace.get("spec") or {}).get("gateway") or {}).get("apiKeySecretRef") or {}
        if not ref.get("name") or not ref.get("key"):
            raise CliError(f"workspace {workspace_name} is not served by the gateway (set "
                           "spec.gateway.apiKeySecretRef)")
        return self._secret_value(workspace_name, "spec.gateway.apiKeySecretRef", ref["name"], ref["key"])

    def _secret_value(self, workspace_name: str, field: str, name: str, key: str) -> str:
        data = run_sync(self.kube.secret_data(self.namespace, name))
        if data is None:
            raise CliError(f"workspace {workspace_name}: Secret {name} ({field}) does not exist in namespace "
                           f"{self.namespace}")
        if key not in data:
            keys = ", ".join(sorted(data)) or "none"
            raise CliError(f"workspace {workspace_name}: Secret {name} has no key {key!r} (its keys: {keys})")
        return data[key].strip()

    # ----- storage -----
    def storage(self, workspace_name: str) -> WorkspaceStorage:
        """The workspace's storage, with the connection string from its Secret (read as the operator does)."""
        from ..storage.blobs import WorkspaceStorage  # the Azure SDK: only for the commands that use storage

        workspace = self.get(WORKSPACES, workspace_name)
        ref = ((workspace.get("spec") or {}).get("storage") or {}).get("connectionStringSecretRef") or {}
        name, key = ref.get("name"), ref.get("key")
        if not name or not key:
            raise CliError(f"workspace {workspace_name}: spec.storage.connectionStringSecretRef needs name and key")
        return WorkspaceStorage(self._secret_value(workspace_name, "spec.storage.connectionStringSecretRef", name,
                                                   key))


def connect(kubeconfig: str | None, context: str | None, namespace: str | None) -> Session:
    """Like kubectl: --kubeconfig, else $KUBECONFIG, else ~/.kube/config, else in-cluster."""
    try:
        api_client, namespace = load_api_client(kubeconfig, context, namespace)
    except ConfigError as e:
        raise CliError(str(e)) from e
    return Session(api_client, namespace)


def upload(storage: WorkspaceStorage, data: bytes, input_format: str | None) -> str:
    """Uploads an input to kuantum-uploads/<uuid>/inputData and returns its plain URL (no SAS)."""
    from azure.core.exceptions import AzureError, ResourceExistsError
    from azure.storage.blob import ContentSettings

    from ..storage.blobs import blob_format, brief

    blob = f"{uuid.uuid4()}/{UPLOAD_BLOB}"
    content_type = blob_format(input_format).content_type if input_format else "application/octet-stream"
    settings = ContentSettings(content_type=content_type, content_encoding="gzip" if is_gzip(data) else None)
    container = storage.service.get_container_client(UPLOAD_CONTAINER)
    try:
        with contextlib.suppress(ResourceExistsError):
            container.create_container()
        container.upload_blob(blob, data, overwrite=True, content_settings=settings)
    except AzureError as e:
        raise CliError(f"uploading the input to storage account {storage.account_name} failed: "
                       f"{brief(e)}") from e
    return f"{storage.service.url.rstrip('/')}/{UPLOAD_CONTAINER}/{blob}"
