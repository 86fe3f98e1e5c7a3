"""In-memory stand-ins for what the job engine talks to: the API server (`Kube`), the workspace's blob
storage (`WorkspaceStorage` / `StorageRegistry`) and a remote provider's HTTP API (`ProviderApi`).

Each one records every call, in order, in its own `calls` list and, when given one, in a shared
`Journal`, so a test can say "this write came before that submit". They keep the API server's rules
that the engine relies on: merge patches and JSON patches (the `test` op included) on the status
subresource, a bumped resourceVersion on every write, a metadata patch carrying a resourceVersion is
refused when the object moved on (`Conflict`), a write for an object that is gone raises `ObjectGone`,
creating what exists and deleting what is gone are no-ops.

The storage fake is the real `WorkspaceStorage` (its URL, gzip, SAS and locate logic run as they do in
production) over an in-memory blob service, so a test sees the bytes the operator would upload.
"""

from __future__ import annotations

import base64
import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContentSettings
from kuantum.execution.providers.api import Program, ProviderError, RemoteJob, RemoteState, RequestRejected
from kuantum.runtime.writer import Conflict, Kube, ObjectGone
from kuantum.storage.blobs import WorkspaceStorage
from kuantum.storage.registry import StorageRegistry

__all__ = [
    "AZURITE",
    "BLOB_BASE",
    "Call",
    "FakeKube",
    "FakeProviderApi",
    "FakeStorage",
    "FakeStorageRegistry",
    "Journal",
    "RemoteRecord",
    "SasRequest",
    "apply_json_patch",
    "apply_merge_patch",
]

# Azurite's public, documented development account (not a secret).
AZURITE = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
           "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
           "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;")
BLOB_BASE = "http://127.0.0.1:10000/devstoreaccount1"


@dataclass(frozen=True)
class Call:
    source: str  # kube | storage | api
    method: str
    args: dict[str, Any]


class Journal:
    """Calls of all fakes sharing it, in the order they happened."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def record(self, source: str, method: str, **args: Any) -> Call:
        call = Call(source, method, args)
        self.calls.append(call)
        return call

    def index(self, predicate: Callable[[Call], bool]) -> int:
        """Position of the first call matching predicate (ValueError when none does)."""
        for i, call in enumerate(self.calls):
            if predicate(call):
                return i
        raise ValueError("no such call")

    def methods(self, source: str | None = None) -> list[str]:
        return [c.method for c in self.calls if source is None or c.source == source]


# ---------------------------------------------------------------------------------------------- patches
def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (null removes a key; lists are replaced)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"bad JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def apply_json_patch(doc: dict[str, Any], ops: list[dict[str, Any]], what: str) -> dict[str, Any]:
    """RFC 6902 (add, remove, replace, test); a failing test raises Conflict, as Kube maps the API server's 422."""
    result = copy.deepcopy(doc)
    for op in ops:
        parts = _pointer(op["path"])
        kind = op["op"]
        try:
            parent = _parent(result, parts)
            last = parts[-1]
            if kind == "test":
                current = parent[int(last)] if isinstance(parent, list) else parent[last]
                if current != op["value"]:
                    raise Conflict(f"{what} changed meanwhile (test {op['path']} == {op['value']!r} failed)")
            elif kind in ("add", "replace"):
                if kind == "replace" and not isinstance(parent, list) and last not in parent:
                    raise Conflict(f"{what}: replace of missing {op['path']}")
                if isinstance(parent, list):
                    index = len(parent) if last == "-" else int(last)
                    if kind == "add":
                        parent.insert(index, copy.deepcopy(op["value"]))
                    else:
                        parent[index] = copy.deepcopy(op["value"])
                else:
                    parent[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                if isinstance(parent, list):
                    parent.pop(int(last))
                else:
                    del parent[last]
            else:
                raise ValueError(f"unsupported JSON patch op {kind!r}")
        except (KeyError, IndexError, TypeError) as e:
            raise Conflict(f"{what}: JSON patch {op} does not apply ({e!r})") from None
    return result


# ---------------------------------------------------------------------------------------------- kube
class FakeKube(Kube):
    """The API server, in memory. Objects are addressed as (kind, namespace, name); data objects
    (Secrets, ConfigMaps) as ("secret" | "configmap", namespace, name), as `read_data_object` takes them.

    `fail_next[method]` is a list of exceptions raised, one per call, before the call does anything.
    """

    def __init__(self, journal: Journal | None = None) -> None:  # no super().__init__: no API client
        self.journal = journal or Journal()
        self.calls: list[Call] = []
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.data_objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}  # created by the operator
        self.batch_jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}  # created by the operator (a pool's workers)
        self.events: list[dict[str, Any]] = []
        self.refuse_events = False  # the API server refuses Event creation (e.g. while it starts)
        self.pod_logs: dict[tuple[str, str], bytes] = {}  # (namespace, pod) -> its container's log
        self.fail_next: dict[str, list[Exception]] = {}
        self._rv = itertools.count(1000)

    # ----- helpers for tests -----
    def _record(self, method: str, **args: Any) -> None:
        call = self.journal.record("kube", method, **copy.deepcopy(args))
        self.calls.append(call)
        queued = self.fail_next.get(method)
        if queued:
            raise queued.pop(0)

    def next_rv(self) -> str:
        return str(next(self._rv))

    def add(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Puts an object as a user (kubectl apply) would; returns the stored copy (with a resourceVersion)."""
        obj = copy.deepcopy(body)
        obj.setdefault("kind", kind)
        obj["metadata"]["resourceVersion"] = self.next_rv()
        obj["metadata"].setdefault("generation", 1)
        self.objects[(kind, obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj
        return copy.deepcopy(obj)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self.objects.get((kind, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def add_secret(self, namespace: str, name: str, data: dict[str, str]) -> None:
        self.data_objects[("secret", namespace, name)] = {
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": self.next_rv()},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}

    def add_configmap(self, namespace: str, name: str, data: dict[str, str]) -> None:
        self.data_objects[("configmap", namespace, name)] = {
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": self.next_rv()}, "data": dict(data)}

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def writes(self) -> list[Call]:
        """Every call that changes something (all but reads)."""
        return [c for c in self.calls if c.method not in ("read_data_object", "job_exists")]

    def reset_calls(self) -> None:
        self.calls.clear()

    # ----- reads -----
    async def read_data_object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        self._record("read_data_object", kind=kind, namespace=namespace, name=name)
        obj = self.data_objects.get((kind, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    # ----- custom resources -----
    def _existing(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        obj = self.objects.get((kind, namespace, name))
        if obj is None:
            raise ObjectGone(f"{kind} {namespace}/{name} no longer exists")
        return obj

    async def patch_status(self, kind: str, namespace: str, name: str, patch: Any, json_patch: bool = False
                           ) -> dict[str, Any]:
        self._record("patch_status", kind=kind, namespace=namespace, name=name, patch=patch, json_patch=json_patch)
        current = self._existing(kind, namespace, name)
        what = f"{kind} {namespace}/{name}"
        patched = apply_json_patch(current, patch, what) if json_patch else apply_merge_patch(current, patch)
        updated = copy.deepcopy(current)
        if patched.get("status") is None:  # the status subresource changes status only
            updated.pop("status", None)
        else:
            updated["status"] = patched["status"]
        updated["metadata"]["resourceVersion"] = self.next_rv()
        self.objects[(kind, namespace, name)] = updated
        return copy.deepcopy(updated)

    async def patch_meta(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        self._record("patch_meta", kind=kind, namespace=namespace, name=name, patch=patch)
        current = self._existing(kind, namespace, name)
        patch = copy.deepcopy(patch)
        wanted = (patch.get("metadata") or {}).pop("resourceVersion", None)
        if wanted is not None and wanted != current["metadata"].get("resourceVersion"):
            raise Conflict(f"{kind} {namespace}/{name} changed meanwhile (resourceVersion {wanted} is stale)")
        patched = apply_merge_patch(current, patch)
        patched["status"] = copy.deepcopy(current.get("status"))  # the main resource ignores status
        if patched["status"] is None:
            patched.pop("status")
        patched["metadata"]["resourceVersion"] = self.next_rv()
        if patched["metadata"].get("deletionTimestamp") and not patched["metadata"].get("finalizers"):
            del self.objects[(kind, namespace, name)]  # the last finalizer went: the object is gone
        else:
            self.objects[(kind, namespace, name)] = patched
        return copy.deepcopy(patched)

    async def create_custom(self, kind: str, namespace: str, body: dict[str, Any]) -> bool:
        self._record("create_custom", kind=kind, namespace=namespace, body=body)
        if (kind, namespace, body["metadata"]["name"]) in self.objects:
            return False
        self.add(kind, {**body, "metadata": {**body["metadata"], "namespace": namespace}})
        return True

    async def delete_custom(self, kind: str, namespace: str, name: str) -> None:
        self._record("delete_custom", kind=kind, namespace=namespace, name=name)
        obj = self.objects.get((kind, namespace, name))
        if obj is None:
            return
        if obj["metadata"].get("finalizers"):
            obj["metadata"].setdefault("deletionTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
            obj["metadata"]["resourceVersion"] = self.next_rv()
        else:
            del self.objects[(kind, namespace, name)]

    # ----- children -----
    async def create_secret(self, body: dict[str, Any]) -> None:
        self._record("create_secret", body=body)
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        if (namespace, name) not in self.secrets:
            self.secrets[(namespace, name)] = copy.deepcopy(body)
            self.add_secret(namespace, name, dict(body.get("stringData") or {}))  # readable, as the API server serves

    async def delete_secret(self, namespace: str, name: str) -> None:
        self._record("delete_secret", namespace=namespace, name=name)
        if self.secrets.pop((namespace, name), None) is not None:
            self.data_objects.pop(("secret", namespace, name), None)

    async def create_job(self, body: dict[str, Any]) -> None:
        self._record("create_job", body=body)
        self.batch_jobs.setdefault((body["metadata"]["namespace"], body["metadata"]["name"]), copy.deepcopy(body))

    async def job_exists(self, namespace: str, name: str) -> bool:
        self._record("job_exists", namespace=namespace, name=name)
        return (namespace, name) in self.batch_jobs

    async def delete_job(self, namespace: str, name: str) -> None:
        self._record("delete_job", namespace=namespace, name=name)
        self.batch_jobs.pop((namespace, name), None)

    async def create_pod(self, body: dict[str, Any]) -> None:
        self._record("create_pod", body=body)
        self.pods.setdefault((body["metadata"]["namespace"], body["metadata"]["name"]), copy.deepcopy(body))

    async def delete_pod(self, namespace: str, name: str) -> None:
        self._record("delete_pod", namespace=namespace, name=name)
        self.pods.pop((namespace, name), None)

    async def read_pod_log(self, namespace: str, name: str, container: str, limit: int,
                           seconds: float = 20.0) -> bytes | None:
        """A read, not journalled: None (no log) unless a test put one in pod_logs."""
        found = self.pod_logs.get((namespace, name))
        return None if found is None else found[-limit:]

    # ----- events -----
    async def event_reasons(self, obj: Any) -> set[str] | None:
        self._record("event_reasons", namespace=obj.meta.namespace, name=obj.meta.name)
        return {e["reason"] for e in self.events
                if (e["namespace"], e["name"]) == (obj.meta.namespace, obj.meta.name)}

    async def event(self, obj: Any, reason: str, message: str, warning: bool = False) -> bool:
        if not isinstance(obj, dict):
            obj = obj.body  # a typed view from the store
        meta = obj["metadata"]
        self._record("event", kind=obj.get("kind"), namespace=meta["namespace"], name=meta["name"], reason=reason,
                     message=message, warning=warning)
        if self.refuse_events:
            return False
        self.events.append({"kind": obj.get("kind"), "namespace": meta["namespace"], "name": meta["name"],
                            "reason": reason, "message": message, "type": "Warning" if warning else "Normal"})
        return True


# ---------------------------------------------------------------------------------------------- storage
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


# ---------------------------------------------------------------------------------------------- provider API
@dataclass
class RemoteRecord:
    id: str
    program: Program
    state: RemoteState = RemoteState.WAITING
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    failure_code: str | None = None
    failure_message: str | None = None
    results: bytes = b'{"histogram":{"0":0.5,"3":0.5}}'


class FakeProviderApi:
    """A provider's API in memory (the ProviderApi protocol of kuantum.execution.providers.api).

    Jobs live in `jobs`; tests move them with `set_state`. Faults: `fail_next[method]` is a list of
    exceptions raised one per call before the call does anything; `accept_then_fail` (a list) makes
    the next submits create the job and then raise the given error, as a connection dropped after the
    provider accepted the job does.
    """

    def __init__(self, journal: Journal | None = None) -> None:
        self.journal = journal or Journal()
        self.calls: list[Call] = []
        self.jobs: dict[str, RemoteRecord] = {}
        self.fail_next: dict[str, list[Exception]] = {}
        self.accept_then_fail: list[ProviderError] = []
        self.availability_map: dict[str, str] = {}
        self.closed = False
        self._ids = itertools.count(1)

    def _record(self, method: str, **args: Any) -> None:
        self.calls.append(self.journal.record("api", method, **args))
        queued = self.fail_next.get(method)
        if queued:
            raise queued.pop(0)

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def set_state(self, remote_id: str, state: RemoteState, code: str | None = None, message: str | None = None
                  ) -> None:
        record = self.jobs[remote_id]
        record.state = state
        record.failure_code, record.failure_message = code, message

    def _view(self, record: RemoteRecord) -> RemoteJob:
        return RemoteJob(id=record.id, state=record.state, created=record.created, marker=record.program.marker,
                         failure_code=record.failure_code, failure_message=record.failure_message)

    async def submit(self, program: Program) -> str:
        self._record("submit", program=program)
        remote_id = f"remote-{next(self._ids)}"
        self.jobs[remote_id] = RemoteRecord(remote_id, program)
        if self.accept_then_fail:
            raise self.accept_then_fail.pop(0)
        return remote_id

    async def find(self, marker: str, not_before: datetime) -> RemoteJob | None:
        self._record("find", marker=marker, not_before=not_before)
        for record in sorted(self.jobs.values(), key=lambda r: r.created, reverse=True):
            if record.created < not_before:
                break
            if record.program.marker == marker:
                return self._view(record)
        return None

    async def get(self, remote_id: str) -> RemoteJob:
        self._record("get", remote_id=remote_id)
        record = self.jobs.get(remote_id)
        if record is None:
            raise RequestRejected("NotFound", f"no job {remote_id}", 404)
        return self._view(record)

    async def cancel(self, remote_id: str) -> None:
        self._record("cancel", remote_id=remote_id)
        record = self.jobs.get(remote_id)
        if record is not None and record.state in (RemoteState.WAITING, RemoteState.EXECUTING):
            record.state = RemoteState.CANCELLED

    async def results(self, remote_id: str, program: Program) -> bytes:
        self._record("results", remote_id=remote_id)
        return self.jobs[remote_id].results

    async def availability(self) -> dict[str, str]:
        self._record("availability")
        return dict(self.availability_map)

    async def aclose(self) -> None:
        self.closed = True
