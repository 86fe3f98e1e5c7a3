"""The operator's writes and reads against the API server (official client, run in threads).

Every write goes through here so that it is counted (kuantum_api_writes_total) and so that
"already exists" and "already gone" are treated as success: the operator is idempotent.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, cast

import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from ..models.common import API_GROUP, API_VERSION
from ..objects import Watched
from . import tracing
from .client import KubeClient
from .metrics import API_WRITES
from .plain import to_plain
from .timeutil import now_iso

LOG_READ_SECONDS = 20.0  # at most this long reading one pod's log
PLURALS = {"QuantumJob": "quantumjobs", "Provider": "providers", "QuantumWorkspace": "quantumworkspaces",
           "QuantumSession": "quantumsessions"}


class ObjectGone(Exception):
    """The object a write was for no longer exists (404): whatever was to be done with it is done."""


class Conflict(Exception):
    """The write lost a race (409, or a JSON-patch test that no longer holds): reconcile again, from fresher data."""


def _api_error(e: ApiException, what: str) -> Exception:
    """404 and lost races as their own exceptions; everything else stays an ApiException."""
    if e.status == 404:
        return ObjectGone(f"{what} no longer exists")
    if e.status == 409 or (e.status == 422 and "test" in str(e.body or "").lower() and "patch" in str(e.body or "")
                           .lower()):
        return Conflict(f"{what} changed meanwhile")
    return e


class Kube:
    """The operator's writes, on the one async Kubernetes client the gateway and the CLI use too (kubeclient)."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.client = KubeClient(api_client)
        self.core = client.CoreV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.api_client = api_client

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await self.client.run(fn, *args, **kwargs)

    def _count(self, verb: str, resource: str) -> None:
        API_WRITES.labels(verb=verb, resource=resource).inc()
        tracing.mark_written()  # a reconcile that writes to the API is worth its span

    async def _settled(self, done_status: int, fn: Any, *args: Any, **kwargs: Any) -> None:
        """A create answered 409 (it exists) or a delete answered 404 (it is gone) is done, not an error."""
        try:
            await self._call(fn, *args, **kwargs)
        except ApiException as e:
            if e.status != done_status:
                raise

    # ----- reads -----
    async def read_data_object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A ConfigMap or Secret as a plain dict, or None when it does not exist."""
        try:
            if kind == "secret":
                obj = await self._call(self.core.read_namespaced_secret, name, namespace, _request_timeout=30)
            else:
                obj = await self._call(self.core.read_namespaced_config_map, name, namespace, _request_timeout=30)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        data: dict[str, Any] = to_plain(obj)
        return data

    # ----- custom resources -----
    async def patch_status(self, kind: str, namespace: str, name: str, patch: Any, json_patch: bool = False
                           ) -> dict[str, Any]:
        self._count("patch", f"{PLURALS[kind]}/status")
        headers = {"Content-Type": "application/json-patch+json"} if json_patch else None
        return await self._call(self._patch_custom, namespace, name, PLURALS[kind], patch, headers, True)

    async def write_state_guarded(self, kind: str, namespace: str, name: str, old_state: str | None,
                                  status: dict[str, Any]) -> dict[str, Any]:
        """Writes a whole status whose `state` field a state machine owns. Past the first write, a JSON-patch
        test makes the API server refuse it (Conflict) if the state moved meanwhile: a final state is never
        written over by a writer that read it before it changed."""
        if old_state is None:
            return await self.patch_status(kind, namespace, name, {"status": status})
        patch = [{"op": "test", "path": "/status/state", "value": old_state},
                 {"op": "replace", "path": "/status", "value": status}]
        return await self.patch_status(kind, namespace, name, patch, json_patch=True)

    async def patch_meta(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        self._count("patch", PLURALS[kind])
        return await self._call(self._patch_custom, namespace, name, PLURALS[kind], patch, None, False)

    def _patch_custom(self, namespace: str, name: str, plural: str, body: Any, headers: dict[str, str] | None,
                      status: bool) -> dict[str, Any]:
        content_type = (headers or {}).get("Content-Type", "application/merge-patch+json")
        custom = self.custom
        patch = custom.patch_namespaced_custom_object_status if status else custom.patch_namespaced_custom_object
        try:
            result = patch(API_GROUP, API_VERSION, namespace, plural, name, body, _content_type=content_type)
        except ApiException as e:
            raise _api_error(e, f"{plural} {namespace}/{name}") from None
        return cast(dict[str, Any], result)

    async def create_custom(self, kind: str, namespace: str, body: dict[str, Any]) -> bool:
        """True when created, False when it already existed."""
        self._count("create", PLURALS[kind])
        try:
            await self._call(self.custom.create_namespaced_custom_object, API_GROUP, API_VERSION, namespace,
                             PLURALS[kind], body)
            return True
        except ApiException as e:
            if e.status == 409:
                return False
            raise

    async def delete_custom(self, kind: str, namespace: str, name: str) -> None:
        self._count("delete", PLURALS[kind])
        await self._settled(404, self.custom.delete_namespaced_custom_object, API_GROUP, API_VERSION, namespace,
                            PLURALS[kind], name)

    # ----- children -----
    async def create_secret(self, body: dict[str, Any]) -> None:
        self._count("create", "secrets")
        await self._settled(409, self.core.create_namespaced_secret, body["metadata"]["namespace"], body)

    async def delete_secret(self, namespace: str, name: str) -> None:
        self._count("delete", "secrets")
        await self._settled(404, self.core.delete_namespaced_secret, name, namespace)

    async def create_job(self, body: dict[str, Any]) -> None:
        self._count("create", "jobs")
        await self._settled(409, self.batch.create_namespaced_job, body["metadata"]["namespace"], body)

    async def create_pod(self, body: dict[str, Any]) -> None:
        self._count("create", "pods")
        await self._settled(409, self.core.create_namespaced_pod, body["metadata"]["namespace"], body)

    async def job_exists(self, namespace: str, name: str) -> bool:
        try:
            await self._call(self.batch.read_namespaced_job, name, namespace)
            return True
        except ApiException as e:
            if e.status == 404:
                return False
            raise

    async def read_pod_log(self, namespace: str, name: str, container: str, limit: int,
                           seconds: float = LOG_READ_SECONDS) -> bytes | None:
        """The last `limit` bytes of a container's log (read whole, kept bounded: the API's limitBytes keeps the
        first bytes), or None when the pod or its log is gone. A log still streaming after `seconds` is cut there."""
        return cast(bytes | None, await self._call(self._read_log, namespace, name, container, limit, seconds))

    def _read_log(self, namespace: str, name: str, container: str, limit: int, seconds: float) -> bytes | None:
        try:
            response: Any = self.core.read_namespaced_pod_log(name, namespace, container=container,
                                                              _preload_content=False, _request_timeout=30)
        except ApiException as e:
            if e.status in (400, 404):  # the pod or its container is gone (or never ran)
                return None
            raise
        kept = bytearray()
        deadline = time.monotonic() + seconds
        try:
            for chunk in response.stream(64 * 1024):
                kept += chunk
                if len(kept) > 2 * limit:
                    del kept[:len(kept) - limit]
                if time.monotonic() > deadline:
                    kept += b"\n[kuantum: the log was still being read after %gs; cut here]\n" % seconds
                    break
        finally:
            response.release_conn()
        return bytes(kept[-limit:])

    async def delete_job(self, namespace: str, name: str) -> None:
        """Deletes a batch Job and, in the background, its pods (their processes get SIGTERM)."""
        self._count("delete", "jobs")
        await self._settled(404, self.batch.delete_namespaced_job, name, namespace,
                            body=client.V1DeleteOptions(propagation_policy="Background"))

    async def delete_pod(self, namespace: str, name: str) -> None:
        """Deletes a pod: a solver pod whose Job is already gone, or an idle worker (its process gets SIGTERM)."""
        self._count("delete", "pods")
        await self._settled(404, self.core.delete_namespaced_pod, name, namespace)

    # ----- events -----
    async def event_reasons(self, obj: Watched) -> set[str] | None:
        """The reasons of the Events recorded on obj (None when they cannot be read now)."""
        try:
            listing = await self._call(self.core.list_namespaced_event, obj.meta.namespace,
                                       field_selector=f"involvedObject.uid={obj.meta.uid}", _request_timeout=30)
        except ApiException:
            return None
        return {str(item.reason) for item in listing.items}

    async def event(self, obj: dict[str, Any] | Watched, reason: str, message: str, warning: bool = False) -> bool:
        """Records a core/v1 Event on obj; False when it could not be (never raised: an Event is not worth a
        retry loop, except a job's final one, which its caller checks)."""
        if not isinstance(obj, dict):
            obj = obj.body
        meta = obj["metadata"]
        stamp = now_iso()
        body = {
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": meta["namespace"]},
            "involvedObject": {"apiVersion": obj.get("apiVersion", f"{API_GROUP}/{API_VERSION}"),
                               "kind": obj.get("kind"), "name": meta["name"], "namespace": meta["namespace"],
                               "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message[:1024], "type": "Warning" if warning else "Normal",
            "source": {"component": "kuantum-operator"}, "reportingComponent": "kuantum-operator",
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
        }
        self._count("create", "events")
        try:
            await self._call(self.core.create_namespaced_event, meta["namespace"], body)
        except (ApiException, urllib3.exceptions.HTTPError):
            return False
        return True
