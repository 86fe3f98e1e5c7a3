"""An in-memory API server for the job engine (`Kube`).

It records every call, in order, in its `calls` list and, when given one, in a shared `Journal`
(tests/support/journal.py). It keeps the API server's rules that the engine relies on: merge patches and JSON
patches (the `test` op included) on the status subresource, a bumped resourceVersion on every write, a metadata
patch carrying a resourceVersion is refused when the object moved on (`Conflict`), a write for an object that is
gone raises `ObjectGone`, creating what exists and deleting what is gone are no-ops.

The workspace's blob storage is tests/support/fake_storage.py; a remote provider's API,
tests/support/fake_provider_api.py.
"""

from __future__ import annotations

import base64
import copy
import itertools
from datetime import UTC, datetime
from typing import Any

from kuantum.runtime.writer import Conflict, Kube, ObjectGone

from tests.support.journal import Call, Journal

__all__ = ["FakeKube", "apply_json_patch", "apply_merge_patch"]


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
