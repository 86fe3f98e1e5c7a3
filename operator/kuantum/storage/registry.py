"""Connects each workspace to its storage, from the Secret its spec names. Cached briefly."""

from __future__ import annotations

import base64
import time

from ..objects import WorkspaceObject
from ..runtime.writer import Kube
from .blobs import WorkspaceStorage, in_thread

_CACHE_SECONDS = 30.0
# A storage that answered is not asked again for this long: a workspace is reconciled on every change of its
# jobs, and each check is a round trip to the storage (991 of them while 1,900 jobs were deleted).
_CHECK_SECONDS = 30.0


class StorageNotConfigured(Exception):
    """The Secret or its key is missing: the workspace is not Ready (reason in .reason)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class StorageRegistry:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._cache: dict[tuple[str, str], tuple[float, str, WorkspaceStorage]] = {}
        self._answered: dict[tuple[str, str], tuple[float, WorkspaceStorage]] = {}  # last check that succeeded

    async def connection_string(self, workspace: WorkspaceObject) -> str:
        namespace = workspace.meta.namespace
        if workspace.spec is None:
            raise StorageNotConfigured("InvalidSpec", workspace.spec_error or "spec: invalid")
        ref = workspace.spec.storage.connectionStringSecretRef
        name, key = ref.name, ref.key
        secret = await self.kube.read_data_object("secret", namespace, name)
        if secret is None:
            raise StorageNotConfigured("SecretNotFound", f"Secret {name} (spec.storage.connectionStringSecretRef) "
                                                         f"does not exist in namespace {namespace}")
        value = (secret.get("data") or {}).get(key)
        if value is None:
            keys = ", ".join(sorted(secret.get("data") or {})) or "none"
            raise StorageNotConfigured("SecretKeyNotFound", f"Secret {name} has no key {key!r} (its keys: {keys})")
        return base64.b64decode(value).decode().strip()

    async def for_workspace(self, workspace: WorkspaceObject, fresh: bool = False) -> WorkspaceStorage:
        """The storage of a workspace; raises StorageNotConfigured or StorageError."""
        key = (workspace.meta.namespace, workspace.meta.name)
        cached = self._cache.get(key)
        if cached and not fresh and time.monotonic() - cached[0] < _CACHE_SECONDS:
            return cached[2]
        conn = await self.connection_string(workspace)
        storage = cached[2] if cached and cached[1] == conn else WorkspaceStorage(conn)
        self._cache[key] = (time.monotonic(), conn, storage)
        return storage

    async def check(self, workspace: WorkspaceObject) -> WorkspaceStorage:
        """The workspace's storage, proved reachable: its Secret is read every time, the storage itself asked at
        most every _CHECK_SECONDS while it answers with the same credentials (a failure is never remembered, so
        a recovery shows at the next retry)."""
        key = (workspace.meta.namespace, workspace.meta.name)
        storage = await self.for_workspace(workspace, fresh=True)
        answered = self._answered.pop(key, None)
        if answered is None or answered[1] is not storage or time.monotonic() - answered[0] >= _CHECK_SECONDS:
            await in_thread(storage.check)
            answered = (time.monotonic(), storage)
        self._answered[key] = answered
        return storage
