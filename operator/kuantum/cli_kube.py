"""`kuantum`'s access to the API server (like kubectl's) and to a workspace's storage."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.blob import ContentSettings
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from .cli_input import UPLOAD_BLOB, UPLOAD_CONTAINER, CliError, is_gzip
from .kubeapi import Kube
from .models.common import API_GROUP, API_VERSION
from .storage import WorkspaceStorage, blob_format
from .storage_registry import StorageNotConfigured, StorageRegistry

JOBS = "quantumjobs"
WORKSPACES = "quantumworkspaces"
TIMEOUT = 30  # seconds per API call
_SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_KINDS = {JOBS: "QuantumJob", WORKSPACES: "QuantumWorkspace"}


def api_error(e: ApiException) -> str:
    """The API server's own message (its Status body), else the HTTP reason."""
    try:
        message = json.loads(e.body or "").get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message or f"{e.status} {e.reason}".strip())


def _kubeconfig_namespace(kubeconfig: str | None, context: str | None) -> str | None:
    contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
    if context and chosen is None:
        raise CliError(f"context {context!r} is not in the kubeconfig")
    return cast(str | None, ((chosen or {}).get("context") or {}).get("namespace"))


@dataclass
class Session:
    api_client: client.ApiClient
    namespace: str

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api_client)

    # ----- QuantumJobs and QuantumWorkspaces -----
    def get(self, plural: str, name: str) -> dict[str, Any]:
        try:
            obj = self.custom.get_namespaced_custom_object(API_GROUP, API_VERSION, self.namespace, plural, name,
                                                           _request_timeout=TIMEOUT)
        except ApiException as e:
            if e.status == 404:
                raise CliError(f"{_KINDS[plural]} {name!r} not found in namespace {self.namespace!r}") from e
            raise
        return cast(dict[str, Any], obj)

    def exists(self, plural: str, name: str) -> bool:
        try:
            self.get(plural, name)
        except CliError:
            return False
        return True

    def list_jobs(self) -> dict[str, Any]:
        result = self.custom.list_namespaced_custom_object(API_GROUP, API_VERSION, self.namespace, JOBS,
                                                           _request_timeout=TIMEOUT)
        return cast(dict[str, Any], result)

    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        created = self.custom.create_namespaced_custom_object(API_GROUP, API_VERSION, self.namespace, JOBS, body,
                                                              _request_timeout=TIMEOUT)
        return cast(dict[str, Any], created)

    def cancel_job(self, name: str) -> dict[str, Any]:
        try:
            patched = self.custom.patch_namespaced_custom_object(
                API_GROUP, API_VERSION, self.namespace, JOBS, name, {"spec": {"cancel": True}},
                _content_type="application/merge-patch+json", _request_timeout=TIMEOUT)
        except ApiException as e:
            if e.status == 404:
                raise CliError(f"QuantumJob {name!r} not found in namespace {self.namespace!r}") from e
            raise
        return cast(dict[str, Any], patched)

    # ----- storage -----
    def storage(self, workspace_name: str) -> WorkspaceStorage:
        """The workspace's storage, with the connection string from its Secret (read as the operator does)."""
        workspace = self.get(WORKSPACES, workspace_name)
        workspace.setdefault("metadata", {}).setdefault("namespace", self.namespace)
        try:
            conn = asyncio.run(StorageRegistry(Kube(self.api_client)).connection_string(workspace))
        except StorageNotConfigured as e:
            raise CliError(f"workspace {workspace_name}: {e.message}") from e
        return WorkspaceStorage(conn)


def connect(kubeconfig: str | None, context: str | None, namespace: str | None) -> Session:
    """Like kubectl: --kubeconfig, else $KUBECONFIG, else ~/.kube/config, else in-cluster."""
    if kubeconfig and not Path(kubeconfig).is_file():
        raise CliError(f"kubeconfig {kubeconfig} does not exist")
    if kubeconfig or os.environ.get("KUBECONFIG") or Path("~/.kube/config").expanduser().is_file():
        try:
            namespace = namespace or _kubeconfig_namespace(kubeconfig, context)
            api_client = config.new_client_from_config(config_file=kubeconfig, context=context, persist_config=False)
        except config.ConfigException as e:
            raise CliError(f"cannot load the kubeconfig: {e}") from e
    else:
        try:
            config.load_incluster_config()
        except config.ConfigException as e:
            raise CliError("no kubeconfig: pass --kubeconfig or set KUBECONFIG") from e
        api_client = client.ApiClient()
        if not namespace and _SA_NAMESPACE.is_file():
            namespace = _SA_NAMESPACE.read_text().strip()
    return Session(api_client, namespace or "default")


def upload(storage: WorkspaceStorage, data: bytes, input_format: str | None) -> str:
    """Uploads an input to kuantum-uploads/<uuid>/inputData and returns its plain URL (no SAS)."""
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
                       f"{str(e).splitlines()[0][:300]}") from e
    return f"{storage.service.url.rstrip('/')}/{UPLOAD_CONTAINER}/{blob}"
