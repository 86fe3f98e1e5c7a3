"""List + watch of the cluster's objects into a program's typed cache: the operator and the gateway run this same
code, each in its own process (the operator's store and controller, the gateway's reads; runtime/store.py parses
what it is handed into the typed views of objects.py).

An Informer lists one resource in one scope and hands on what is new, changed or gone since what it handed on
before (a relist after a gap misses no deletion), then watches from the list's resourceVersion:
- a watch that ends (its server-side timeout, a closed connection) resumes from the last resourceVersion seen;
- 410 Gone (the API server no longer serves that version: a restarted API server lost its watch cache) lists
  again;
- any other failure (connection refused while the API server is away, 404 for a custom resource while a
  just-restarted API server syncs its CRDs) is tried again after a backoff that doubles up to a bound, the cache
  keeping what it had meanwhile.
Nothing here ends the process: outliving an API server's restart needs no restart of the program.

The official client is synchronous: each informer runs its HTTP calls on a thread of its own and hands what it
reads to the event loop, where the program's handler applies it in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from .namespaces import scopes
from .plain import without_managed_fields

log = logging.getLogger("kuantum.informer")

Handler = Callable[[str, dict[str, Any]], None]  # ("ADDED" | "MODIFIED" | "DELETED", object), on the event loop


@dataclass(frozen=True)
class Resource:
    kind: str
    group: str  # "" for the core API
    version: str
    plural: str
    label_selector: str | None = None


@dataclass(frozen=True)
class Timing:
    watch_seconds: int = 60  # a watch is opened again this often: a silently dead connection never lasts long
    read_slack: float = 30.0  # past the watch's own timeout, the client gives up reading
    request_seconds: float = 60.0  # a list
    connect_seconds: float = 10.0
    backoff_first: float = 0.5  # after a failure; doubling while failures follow each other,
    backoff_max: float = 5.0  # up to this: the cache is at most this stale once the API server is back


class Gone(Exception):
    """410: the resourceVersion to resume from is no longer served."""


class WatchFailed(Exception):
    """The API server ended a watch with an error other than 410."""


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def _identity(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("uid") or ""), str(meta.get("resourceVersion") or "")


def _describe(e: BaseException) -> str:
    if isinstance(e, ApiException):
        return f"API server answered {e.status} {e.reason}"
    text = str(e).splitlines()[0][:200] if str(e) else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _list_call(api_client: client.ApiClient, resource: Resource, namespace: str | None
               ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """The official client's list function for the resource in the scope, and its positional arguments."""
    if resource.group not in ("", "batch"):
        custom = client.CustomObjectsApi(api_client)
        if namespace:
            return custom.list_namespaced_custom_object, (resource.group, resource.version, namespace,
                                                          resource.plural)
        return custom.list_cluster_custom_object, (resource.group, resource.version, resource.plural)
    api: Any = client.BatchV1Api(api_client) if resource.group == "batch" else client.CoreV1Api(api_client)
    singular = {"jobs": "job", "pods": "pod"}[resource.plural]
    if namespace:
        return getattr(api, f"list_namespaced_{singular}"), (namespace,)
    return getattr(api, f"list_{singular}_for_all_namespaces"), ()


def _checked(response: Any) -> Any:
    """The raw response, or the API server's refusal as an ApiException (unread responses are not checked)."""
    status = getattr(response, "status", 200)
    if not 200 <= status <= 299:
        reason = getattr(response, "reason", "")
        with contextlib.suppress(Exception):
            response.release_conn()
        raise ApiException(status=status, reason=reason)
    return response


class Informer:
    """One resource in one scope (a namespace, or all namespaces; `accept` filters those served)."""

    def __init__(self, api_client: client.ApiClient, resource: Resource, namespace: str | None, handler: Handler,
                 accept: Callable[[str], bool] | None = None, timing: Timing | None = None) -> None:
        self.resource = resource
        self.namespace = namespace
        self.where = f"in {namespace}" if namespace else "in all namespaces"
        self._handler = handler
        self._accept = accept
        self._timing = timing or Timing()
        self._fn, self._args = _list_call(api_client, resource, namespace)
        self._known: dict[str, dict[str, Any]] = {}  # namespace/name -> the object last handed on
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None
        self.synced = asyncio.Event()  # set once the first list was handed on
        self.failures = 0  # in a row
        self.last_error: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def emit(item: tuple[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: the program is ending
                self._stop.set()

        self._task = loop.create_task(self._consume(queue), name=f"kuantum-informer-{self.resource.plural}")
        self._thread = threading.Thread(target=self._run, args=(emit,), daemon=True,
                                        name=f"kuantum-informer-{self.resource.plural}")
        self._thread.start()

    async def stop(self) -> None:
        """Stops handing on (the thread ends with its current request: at most a watch timeout, a daemon)."""
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # ------------------------------------------------------------------ the event loop's side
    async def _consume(self, queue: asyncio.Queue[tuple[str, Any]]) -> None:
        while True:
            kind, payload = await queue.get()
            try:
                if kind == "LIST":
                    self.replace(payload)
                else:
                    self.apply(kind, payload)
            except Exception:  # a handler's failure must not end the stream of every later event
                log.exception("%s %s: handling a %s failed", self.resource.plural, self.where, kind)

    def _serves(self, obj: dict[str, Any]) -> bool:
        return self._accept is None or self._accept(str((obj.get("metadata") or {}).get("namespace") or ""))

    def replace(self, items: Sequence[dict[str, Any]]) -> None:
        """After a (re)list: hands on what is gone (its last known object), then what is new or changed."""
        listed = {_key(item): without_managed_fields(item) for item in items if self._serves(item)}
        for key in [k for k in self._known if k not in listed]:
            self._handler("DELETED", self._known.pop(key))
        for key, item in listed.items():
            before = self._known.get(key)
            self._known[key] = item
            if before is None:
                self._handler("ADDED", item)
            elif _identity(before)[0] != _identity(item)[0]:  # deleted and made again under the same name
                self._handler("DELETED", before)
                self._handler("ADDED", item)
            elif _identity(before)[1] != _identity(item)[1]:
                self._handler("MODIFIED", item)
        self.synced.set()

    def apply(self, event_type: str, obj: dict[str, Any]) -> None:
        if not self._serves(obj):
            return
        obj = without_managed_fields(obj)
        if event_type == "DELETED":
            self._known.pop(_key(obj), None)
        else:
            self._known[_key(obj)] = obj
        self._handler(event_type, obj)

    # ------------------------------------------------------------------ the thread's side
    def _run(self, emit: Callable[[tuple[str, Any]], None]) -> None:
        timing = self._timing
        version: str | None = None  # None: list (again)
        while not self._stop.is_set():
            try:
                if version is None:
                    items, version = self._list()
                    emit(("LIST", items))
                    self.failures, self.last_error = 0, None
                version = self._watch(version, emit)
            except Gone as e:
                log.info("Restarting the watch-stream for %s %s: 410 Gone (%s); listing again", self.resource.plural,
                         self.where, e)
                version = None
            except Exception as e:
                if self._stop.is_set():
                    return
                self.failures += 1
                self.last_error = _describe(e)
                delay = min(timing.backoff_max, timing.backoff_first * 2 ** min(self.failures - 1, 16))
                # A watch that failed resumes from where it was (410 then says it is too late); a list lists again.
                # One line when it starts failing and one every tenth try after (an outage is not a log flood).
                level = logging.WARNING if self.failures == 1 or self.failures % 10 == 0 else logging.DEBUG
                log.log(level, "the watch of %s %s failed %d time(s) in a row (%s); trying again in %.1f s",
                        self.resource.plural, self.where, self.failures, self.last_error, delay)
                self._stop.wait(delay)

    def _selector(self) -> dict[str, Any]:
        return {"label_selector": self.resource.label_selector} if self.resource.label_selector else {}

    def _list(self) -> tuple[list[dict[str, Any]], str]:
        timing = self._timing
        response = _checked(self._fn(*self._args, **self._selector(), _preload_content=False,
                                     _request_timeout=(timing.connect_seconds, timing.request_seconds)))
        listing = json.loads(response.data)
        return list(listing.get("items") or []), str(listing["metadata"]["resourceVersion"])

    def _watch(self, version: str, emit: Callable[[tuple[str, Any]], None]) -> str:
        """Hands on the events of one watch from version; returns the last resourceVersion seen."""
        timing = self._timing
        try:
            response = _checked(self._fn(
                *self._args, **self._selector(), watch=True, resource_version=version, allow_watch_bookmarks=True,
                timeout_seconds=timing.watch_seconds, _preload_content=False,
                _request_timeout=(timing.connect_seconds, timing.watch_seconds + timing.read_slack)))
        except ApiException as e:
            if e.status == 410:
                raise Gone(str(e.reason)) from e
            raise
        try:
            for line in iter_resp_lines(response):
                if self._stop.is_set():
                    break
                if not line:
                    continue
                event = json.loads(line)
                event_type, obj = event.get("type"), event.get("object") or {}
                if event_type == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone(str(obj.get("message") or "Gone"))
                    raise WatchFailed(f"{obj.get('code')} {obj.get('reason')}: {obj.get('message')}")
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if event_type in ("ADDED", "MODIFIED", "DELETED"):
                    emit((event_type, obj))
        finally:
            with contextlib.suppress(Exception):
                response.release_conn()
        self.failures = 0
        return version


class Informers:
    """A program's informers: one per resource and scope, the scopes from its `-n` values (namespaces.py)."""

    def __init__(self, api_client: client.ApiClient, namespaces: Sequence[str],
                 handlers: Sequence[tuple[Resource, Handler]], timing: Timing | None = None) -> None:
        watched, accept = scopes(namespaces)
        # Connections of their own: a watch holds one for minutes, never one that a write waits for.
        self._api_client = client.ApiClient(configuration=api_client.configuration)
        self.all = [Informer(self._api_client, resource, namespace, handler, accept, timing)
                    for resource, handler in handlers for namespace in watched]
        pool = self._api_client.rest_client.pool_manager.connection_pool_kw
        pool["maxsize"] = max(len(self.all) + 2, pool.get("maxsize") or 1)

    def start(self) -> None:
        for informer in self.all:
            informer.start()

    async def wait_synced(self, timeout: float | None = None) -> bool:
        """True once every informer handed on its first list (False when timeout passed first)."""
        if self.synced:
            return True
        try:
            await asyncio.wait_for(asyncio.gather(*(i.synced.wait() for i in self.all)), timeout)
        except TimeoutError:
            return False
        return True

    @property
    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.all)

    def state(self) -> dict[str, Any]:
        """Per resource and scope: listed at least once, and the failures in a row with the last one."""
        return {f"{i.resource.plural} {i.where}": {"synced": i.synced.is_set(), "failures": i.failures,
                                                   **({"error": i.last_error} if i.last_error else {})}
                for i in self.all}

    async def stop(self) -> None:
        for informer in self.all:
            await informer.stop()
        with contextlib.suppress(Exception):
            self._api_client.close()
