"""The workspace's blob storage in memory: the real `WorkspaceStorage` (its URL, gzip, SAS and locate logic run as
they do in production) over an in-memory blob service, so a test sees the bytes the operator would upload; and a
`StorageRegistry` that reads the workspace's Secret through the (fake) Kube as the real one does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContentSettings
from kuantum.runtime.writer import Kube
from kuantum.storage.blobs import WorkspaceStorage
from kuantum.storage.registry import StorageRegistry

from tests.support.journal import Call, Journal

__all__ = ["AZURITE", "BLOB_BASE", "FakeStorage", "FakeStorageRegistry", "SasRequest", "StoredBlob"]

# Azurite's public, documented development account (not a secret).
AZURITE = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
           "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
           "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;")
BLOB_BASE = "http://127.0.0.1:10000/devstoreaccount1"


@dataclass(frozen=True)
class SasRequest:
    container: str
    blob: str
    write: bool
    valid_for: timedelta
    url: str


@dataclass
class StoredBlob:
    data: bytes
    content_type: str | None
    content_encoding: str | None


class _Download:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def readall(self) -> bytes:
        return self._data


class _BlobClient:
    def __init__(self, service: _BlobService, container: str, blob: str) -> None:
        self.service, self.container, self.blob = service, container, blob

    def upload_blob(self, data: bytes, overwrite: bool = False, content_settings: ContentSettings | None = None
                    ) -> None:
        self.service.upload(self.container, self.blob, bytes(data), overwrite, content_settings)

    def exists(self) -> bool:
        self.service.record("exists", container=self.container, blob=self.blob)
        return (self.container, self.blob) in self.service.blobs

    def download_blob(self) -> _Download:
        self.service.record("download", container=self.container, blob=self.blob)
        found = self.service.blobs.get((self.container, self.blob))
        if found is None:
            raise ResourceNotFoundError(f"{self.container}/{self.blob} not found")
        return _Download(found.data)


class _Lease:
    def release(self) -> None:
        pass


class _ContainerClient:
    def __init__(self, service: _BlobService, name: str) -> None:
        self.service, self.name = service, name
        self.container_name = name

    def create_container(self, metadata: dict[str, str] | None = None) -> None:
        self.service.record("create_container", container=self.name)
        if self.name in self.service.containers:
            raise ResourceExistsError(f"container {self.name} exists")
        self.service.containers.add(self.name)
        self.service.metadata[self.name] = dict(metadata or {})

    def get_container_properties(self) -> Any:
        return SimpleNamespace(metadata=dict(self.service.metadata.get(self.name, {})))

    def acquire_lease(self, lease_duration: int = -1) -> _Lease:
        return _Lease()

    def set_container_metadata(self, metadata: dict[str, str], lease: Any = None) -> None:
        self.service.record("set_container_metadata", container=self.name, metadata=metadata)
        self.service.metadata[self.name] = dict(metadata)

    def upload_blob(self, name: str, data: bytes, overwrite: bool = False,
                    content_settings: ContentSettings | None = None) -> None:
        self.service.upload(self.name, name, bytes(data), overwrite, content_settings)


class _BlobService:
    """The subset of azure.storage.blob.BlobServiceClient that WorkspaceStorage uses, in memory."""

    def __init__(self, url: str, journal: Journal, calls: list[Call]) -> None:
        self.url = url
        self.containers: set[str] = set()
        self.metadata: dict[str, dict[str, str]] = {}  # container -> its metadata
        self.blobs: dict[tuple[str, str], StoredBlob] = {}
        self._journal = journal
        self._calls = calls

    def record(self, method: str, **args: Any) -> None:
        self._calls.append(self._journal.record("storage", method, **args))

    def upload(self, container: str, blob: str, data: bytes, overwrite: bool,
               content_settings: ContentSettings | None) -> None:
        self.record("upload", container=container, blob=blob, data=data, overwrite=overwrite,
                    content_type=content_settings.content_type if content_settings else None,
                    content_encoding=content_settings.content_encoding if content_settings else None)
        if not overwrite and (container, blob) in self.blobs:
            raise ResourceExistsError(f"{container}/{blob} exists")
        self.containers.add(container)
        self.blobs[(container, blob)] = StoredBlob(
            data, content_settings.content_type if content_settings else None,
            content_settings.content_encoding if content_settings else None)

    def get_container_client(self, name: str) -> _ContainerClient:
        return _ContainerClient(self, name)

    def get_blob_client(self, container: str, blob: str) -> _BlobClient:
        return _BlobClient(self, container, blob)

    def list_containers(self, results_per_page: int = 1) -> _Pages:
        return _Pages()


class _Pages:
    def by_page(self) -> Any:
        return iter([[]])


class FakeStorage(WorkspaceStorage):
    """The real WorkspaceStorage (URLs, gzip, SAS tokens) over an in-memory blob service.

    `sas_requests` lists every SAS URL asked for (container, blob, write flag, validity, the URL).
    """

    def __init__(self, journal: Journal | None = None, connection_string: str = AZURITE) -> None:
        super().__init__(connection_string)
        self.journal = journal or Journal()
        self.calls: list[Call] = []
        self.fake = _BlobService(BLOB_BASE, self.journal, self.calls)
        self.service = self.fake
        self.sas_requests: list[SasRequest] = []

    @property
    def blobs(self) -> dict[tuple[str, str], StoredBlob]:
        return self.fake.blobs

    def put_blob(self, container: str, blob: str, data: bytes, content_type: str = "application/json") -> None:
        """A blob written by someone else (the solver pod, a user's upload)."""
        self.fake.containers.add(container)
        self.fake.blobs[(container, blob)] = StoredBlob(data, content_type, None)

    def uploads(self) -> list[Call]:
        return [c for c in self.calls if c.method == "upload"]

    def sas_url(self, container: str, blob: str, *, write: bool, valid_for: timedelta) -> str:
        url = super().sas_url(container, blob, write=write, valid_for=valid_for)
        self.sas_requests.append(SasRequest(container, blob, write, valid_for, url))
        self.calls.append(self.journal.record("storage", "sas_url", container=container, blob=blob, write=write,
                                              valid_for=valid_for))
        return url


class FakeStorageRegistry(StorageRegistry):
    """Reads the workspace's connection-string Secret through the (fake) Kube as the real registry does,
    then hands out the one FakeStorage: a missing Secret or key still makes the workspace not ready."""

    def __init__(self, kube: Kube, storage: FakeStorage) -> None:
        super().__init__(kube)
        self.storage = storage

    async def for_workspace(self, workspace: dict[str, Any], fresh: bool = False) -> WorkspaceStorage:
        await self.connection_string(workspace)
        return self.storage
