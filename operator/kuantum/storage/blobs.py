"""The workspace's blob storage, in Azure Quantum's layout: container job-<id>, blobs inputData/outputData."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import (
    BlobClient,
    BlobSasPermissions,
    BlobServiceClient,
    ContentSettings,
    generate_blob_sas,
)
from kuantum_solvers.formats.targets import CONTENT_TYPES, QIO_INPUT

from ..runtime import metrics
from .errors import StorageError

INPUT_BLOB = "inputData"
OUTPUT_BLOB = "outputData"
LOGS_BLOB = "logs"  # the solver's log, kept after its pod is gone (`kuantum logs`)
LOG_LIMIT = 1024 * 1024  # bytes of a solver's log kept: its end
_T = TypeVar("_T")
_TIMEOUT = 15  # seconds per storage call: a dead endpoint must not hang a reconcile
# Storage calls get threads of their own, as many as the operator's workers can need at once: asyncio's default
# pool has cpu_count + 4 threads (6 on 2 cores), and every reconcile's upload or output check queued for them.
_POOL = ThreadPoolExecutor(16, thread_name_prefix="kuantum-storage")


async def in_thread(call: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """A blocking storage call off the event loop, timed (kuantum_storage_request_duration_seconds)."""
    name = getattr(call, "__name__", None) or getattr(getattr(call, "func", None), "__name__", "call")
    with metrics.STORAGE_REQUEST_SECONDS.labels(call=name).time():
        return await asyncio.get_running_loop().run_in_executor(_POOL, functools.partial(call, *args, **kwargs))


class ContainerTaken(Exception):
    """The job's container was created for another job (the same id, in another namespace or an earlier job):
    a job never writes into a container another job created."""

    def __init__(self, container: str, owner: str) -> None:
        super().__init__(f"container {container} belongs to QuantumJob {owner}")
        self.container = container
        self.owner = owner


# The container's metadata names the job it was created for (Azure metadata names are C# identifiers).
OWNER_UID = "kuantumjobuid"
OWNER_NAME = "kuantumjob"
# Claiming an existing container that names no job (the SDK uploads the input before it creates the job) sets its
# metadata under a short lease, so two jobs that claim it at once cannot both win.
CLAIM_LEASE_SECONDS = 15


def brief(error: Exception, limit: int = 300) -> str:
    """The first line of a storage client's error, cut short: the SDK's messages run to many lines of
    request and response details, too long for a status message or an Event."""
    return (str(error).splitlines() or [""])[0][:limit]


@dataclass(frozen=True)
class BlobFormat:
    content_type: str
    gzip: bool


# How Azure Quantum's SDK uploads each input format: the formats' content types (the SDK's target classes'),
# QIO's problems gzip-compressed.
_FORMATS = {fmt: BlobFormat(content_type, gzip=fmt == QIO_INPUT) for fmt, content_type in CONTENT_TYPES.items()}


def blob_format(input_format: str) -> BlobFormat:
    return _FORMATS.get(input_format, BlobFormat("application/octet-stream", gzip=False))


def container_name(job_id: str) -> str:
    return f"job-{job_id}"


def parse_connection_string(conn: str) -> dict[str, str]:
    parts = {}
    for item in conn.strip().strip(";").split(";"):
        if "=" not in item:
            raise StorageError("the connection string is malformed (expected Key=Value pairs separated by ';')")
        key, _, value = item.partition("=")
        parts[key.strip()] = value.strip()
    for required in ("AccountName", "AccountKey"):
        if required not in parts:
            raise StorageError(f"the connection string has no {required}")
    return parts


class WorkspaceStorage:
    def __init__(self, connection_string: str) -> None:
        parts = parse_connection_string(connection_string)
        self.account_name = parts["AccountName"]
        self._key = parts["AccountKey"]
        try:
            self.service = BlobServiceClient.from_connection_string(
                connection_string, connection_timeout=_TIMEOUT, read_timeout=_TIMEOUT, retry_total=1)
        except ValueError as e:
            raise StorageError(f"the connection string is invalid: {e}") from e

    def check(self) -> None:
        """Proves the endpoint answers and accepts the key (an authenticated list call)."""
        try:
            next(iter(self.service.list_containers(results_per_page=1).by_page()), None)
        except AzureError as e:
            raise StorageError(f"storage account {self.account_name} is not reachable with these credentials: "
                               f"{brief(e)}") from e

    def blob_url(self, job_id: str, blob: str) -> str:
        return f"{self.service.url.rstrip('/')}/{container_name(job_id)}/{quote(blob)}"

    def claim_container(self, job_id: str, uid: str, owner: str) -> None:
        """Makes the job's container, recording the job (uid, namespace/name) in its metadata, or adopts one that
        names no job; ContainerTaken when another job's uid is recorded there."""
        container = self.service.get_container_client(container_name(job_id))
        try:
            try:
                container.create_container(metadata={OWNER_UID: uid, OWNER_NAME: owner})
                return
            except ResourceExistsError:
                pass
            recorded = container.get_container_properties().metadata or {}
            if recorded.get(OWNER_UID) == uid:
                return
            if recorded.get(OWNER_UID):
                raise ContainerTaken(container.container_name, recorded.get(OWNER_NAME) or recorded[OWNER_UID])
            lease = container.acquire_lease(lease_duration=CLAIM_LEASE_SECONDS)
            try:
                recorded = container.get_container_properties().metadata or {}
                if recorded.get(OWNER_UID) not in (None, "", uid):
                    raise ContainerTaken(container.container_name, recorded.get(OWNER_NAME) or recorded[OWNER_UID])
                container.set_container_metadata({**recorded, OWNER_UID: uid, OWNER_NAME: owner}, lease=lease)
            finally:
                with contextlib.suppress(AzureError):
                    lease.release()
        except AzureError as e:
            raise StorageError(f"creating the job's container failed: {brief(e)}") from e

    def upload_input(self, job_id: str, data: bytes, input_format: str, uid: str, owner: str) -> str:
        """Uploads the input into the job's own container (idempotent: the same bytes overwrite the same blob)
        and returns its URI."""
        fmt = blob_format(input_format)
        body = gzip.compress(data, mtime=0) if fmt.gzip else data
        self.claim_container(job_id, uid, owner)
        container = self.service.get_container_client(container_name(job_id))
        try:
            container.upload_blob(
                INPUT_BLOB, body, overwrite=True,
                content_settings=ContentSettings(content_type=fmt.content_type,
                                                 content_encoding="gzip" if fmt.gzip else None))
        except AzureError as e:
            raise StorageError(f"uploading the input failed: {brief(e)}") from e
        return self.blob_url(job_id, INPUT_BLOB)

    def upload_output(self, job_id: str, data: bytes, content_type: str) -> str:
        """Writes the output blob once: an existing one is kept (final outputs are never rewritten)."""
        client = self.service.get_blob_client(container_name(job_id), OUTPUT_BLOB)
        try:
            with contextlib.suppress(ResourceExistsError):
                client.upload_blob(data, overwrite=False, content_settings=ContentSettings(content_type=content_type))
        except AzureError as e:
            raise StorageError(f"writing the output failed: {brief(e)}") from e
        return self.blob_url(job_id, OUTPUT_BLOB)

    def upload_logs(self, job_id: str, data: bytes) -> str:
        """Writes (or rewrites: the same log again after a restart) the job's log blob; returns its URI."""
        client = self.service.get_blob_client(container_name(job_id), LOGS_BLOB)
        try:
            client.upload_blob(data, overwrite=True,
                               content_settings=ContentSettings(content_type="text/plain; charset=utf-8"))
        except AzureError as e:
            raise StorageError(f"writing the log failed: {brief(e)}") from e
        return self.blob_url(job_id, LOGS_BLOB)

    def sas_url(self, container: str, blob: str, *, write: bool, valid_for: timedelta) -> str:
        """A short-lived URL for one blob: read-only, or create/write-only (never both, never list)."""
        permission = BlobSasPermissions(create=True, write=True) if write else BlobSasPermissions(read=True)
        token = generate_blob_sas(self.account_name, container, blob, account_key=self._key,
                                  permission=permission, expiry=datetime.now(UTC) + valid_for,
                                  start=datetime.now(UTC) - timedelta(minutes=5))
        return f"{self.service.url.rstrip('/')}/{container}/{quote(blob)}?{token}"

    def locate(self, uri: str) -> tuple[str, str] | None:
        """(container, blob) when uri is a blob of this account, else None."""
        base = self.service.url.rstrip("/") + "/"
        plain = uri.split("?", 1)[0]
        if not plain.startswith(base):
            return None
        container, _, blob = plain[len(base):].partition("/")
        return (container, unquote(blob)) if container and blob else None

    def exists(self, job_id: str, blob: str) -> bool:
        try:
            return bool(self.service.get_blob_client(container_name(job_id), blob).exists())
        except AzureError as e:
            raise StorageError(f"checking blob {blob} failed: {brief(e)}") from e

    def download(self, container: str, blob: str) -> bytes:
        try:
            client: BlobClient = self.service.get_blob_client(container, blob)
            data: bytes = client.download_blob().readall()
        except ResourceNotFoundError as e:
            raise StorageError(f"blob {container}/{blob} does not exist") from e
        except AzureError as e:
            raise StorageError(f"downloading {container}/{blob} failed: {brief(e)}") from e
        return data
