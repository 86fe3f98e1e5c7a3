"""`storage/sasUri`: short-lived SAS URLs into the workspace's own storage, only for `job-*` containers.

A container SAS may create and write blobs (the SDK uploads inputData with it) but not read or list;
a blob SAS may only read (the SDK downloads outputData with it). The account key stays in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from ..storage.blobs import WorkspaceStorage, brief, parse_connection_string
from ..storage.errors import StorageError
from .auth import Secrets
from .errors import ApiError, bad_request

SAS_LIFETIME = timedelta(minutes=30)  # the SDK asks again when less than 5 minutes are left
_CONTAINER = re.compile(r"^job-[a-z0-9][a-z0-9-]{0,58}$")


class StorageAccess:
    """WorkspaceStorage per connection string (the Secret is read through Secrets, cached briefly)."""

    def __init__(self, secrets: Secrets) -> None:
        self.secrets = secrets
        self._storages: dict[str, tuple[WorkspaceStorage, str]] = {}

    async def storage(self, namespace: str, workspace: dict[str, Any]) -> tuple[WorkspaceStorage, str]:
        """(storage, account key); ApiError 503 when the workspace's storage is not configured."""
        ref = ((workspace.get("spec") or {}).get("storage") or {}).get("connectionStringSecretRef") or {}
        conn = await self.secrets.value(namespace, ref)
        if not conn:
            raise ApiError(503, "StorageNotConfigured",
                           f"workspace {workspace['metadata']['name']} has no usable storage connection string")
        held = self._storages.get(conn)
        if held is None:
            try:
                held = (WorkspaceStorage(conn), parse_connection_string(conn)["AccountKey"])
            except StorageError as e:
                raise ApiError(503, "StorageNotConfigured", str(e)) from None
            if len(self._storages) > 256:  # rotated connection strings must not pile up
                self._storages.clear()
            self._storages[conn] = held
        return held

    async def sas_uri(self, namespace: str, workspace: dict[str, Any], body: Any) -> str:
        if not isinstance(body, dict) or not isinstance(body.get("containerName"), str):
            raise bad_request("containerName is required")
        container, blob = body["containerName"], body.get("blobName")
        if not _CONTAINER.match(container):
            raise ApiError(403, "Forbidden", f"container {container!r}: only job-* containers are served")
        if blob is not None and (not isinstance(blob, str) or not blob or blob.startswith("/")):
            raise bad_request("blobName must be a blob name")
        storage, key = await self.storage(namespace, workspace)
        if blob:
            return storage.sas_url(container, blob, write=False, valid_for=SAS_LIFETIME)
        await asyncio.to_thread(_create_container, storage, container)
        token = generate_container_sas(storage.account_name, container, account_key=key,
                                       permission=ContainerSasPermissions(create=True, write=True),
                                       expiry=datetime.now(UTC) + SAS_LIFETIME,
                                       start=datetime.now(UTC) - timedelta(minutes=5))
        return f"{storage.service.url.rstrip('/')}/{container}?{token}"


def _create_container(storage: WorkspaceStorage, container: str) -> None:
    try:
        with contextlib.suppress(ResourceExistsError):
            storage.service.get_container_client(container).create_container()
    except AzureError as e:
        raise ApiError(503, "StorageUnavailable",
                       f"creating container {container} failed: {brief(e, 200)}") from None
