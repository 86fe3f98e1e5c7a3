"""Watch-fed, in-memory copies of QuantumJobs, Providers and QuantumWorkspaces: GETs never call the API server.

`Cache` itself is plain data (unit tests fill it directly); `run_watches` keeps it current from
list+watch streams. Objects written through the gateway are put in at once (`put`), so a client
reading right after its own PUT sees the job before the watch event arrives.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from typing import Any

from ..runtime.client import KubeClient

log = logging.getLogger("kuantum.gateway.cache")

JOBS, PROVIDERS, WORKSPACES = "quantumjobs", "providers", "quantumworkspaces"
KINDS = (JOBS, PROVIDERS, WORKSPACES)
Key = tuple[str, str]  # (namespace, name)


def job_id_of(job: dict[str, Any]) -> str | None:
    """The job's id as the operator assigns it: status.id, else the client's spec.id (lower-cased)."""
    found = (job.get("status") or {}).get("id") or (job.get("spec") or {}).get("id")
    return str(found).lower() if found else None


def _version(obj: dict[str, Any]) -> int | None:
    try:
        return int(obj["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return None


def _key(obj: dict[str, Any]) -> Key:
    return obj["metadata"].get("namespace") or "", obj["metadata"]["name"]


class Cache:
    def __init__(self, namespaces: Iterable[str] | None = None) -> None:
        self.namespaces = frozenset(namespaces or ())  # empty: all namespaces
        self.objects: dict[str, dict[Key, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self._job_ids: dict[tuple[str, str], Key] = {}  # (namespace, job id) -> key
        self._synced: dict[str, asyncio.Event] = {}

    # ----- reads -----
    def workspace(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects[WORKSPACES].get((namespace, name))

    def job(self, namespace: str, workspace: str, job_id: str) -> dict[str, Any] | None:
        key = self._job_ids.get((namespace, job_id.lower()))
        job = self.objects[JOBS].get(key) if key else None
        if job is None or (job.get("spec") or {}).get("workspace") != workspace:
            return None
        return job

    def owner_of(self, job_id: str) -> tuple[str, str] | None:
        """(namespace, workspace) of the job with this id, in any namespace served (rare: a scan)."""
        job_id = job_id.lower()
        for (namespace, found), key in self._job_ids.items():
            if found == job_id:
                return namespace, str((self.objects[JOBS][key].get("spec") or {}).get("workspace"))
        return None

    def jobs(self, namespace: str, workspace: str) -> list[dict[str, Any]]:
        return [j for (ns, _), j in self.objects[JOBS].items()
                if ns == namespace and (j.get("spec") or {}).get("workspace") == workspace and job_id_of(j)]

    def providers(self, namespace: str, workspace: str) -> list[dict[str, Any]]:
        return sorted((p for (ns, _), p in self.objects[PROVIDERS].items()
                       if ns == namespace and (p.get("spec") or {}).get("workspace") == workspace),
                      key=lambda p: p["metadata"]["name"])

    def serves(self, namespace: str) -> bool:
        return not self.namespaces or namespace in self.namespaces

    # ----- writes -----
    def put(self, kind: str, obj: dict[str, Any]) -> None:
        """Adds or replaces obj, unless the copy held is newer (a write's answer can race its watch event)."""
        key = _key(obj)
        held = self.objects[kind].get(key)
        if held is not None:
            old, new = _version(held), _version(obj)
            if old is not None and new is not None and new < old:
                return
        if kind == JOBS:
            self._unindex(key)
            job_id = job_id_of(obj)
            if job_id:
                self._job_ids[(key[0], job_id)] = key
        self.objects[kind][key] = obj

    def remove(self, kind: str, obj: dict[str, Any]) -> None:
        key = _key(obj)
        if kind == JOBS:
            self._unindex(key)
        self.objects[kind].pop(key, None)

    def replace_all(self, kind: str, namespace: str | None, items: list[dict[str, Any]]) -> None:
        """After a (re)list: exactly these objects (of that namespace, or of all)."""
        for key in [k for k in self.objects[kind] if namespace is None or k[0] == namespace]:
            self.remove(kind, self.objects[kind][key])
        for item in items:
            self.put(kind, item)

    def _unindex(self, key: Key) -> None:
        held = self.objects[JOBS].get(key)
        job_id = job_id_of(held) if held else None
        if job_id and self._job_ids.get((key[0], job_id)) == key:
            del self._job_ids[(key[0], job_id)]

    # ----- sync state -----
    def synced_event(self, kind: str, namespace: str | None) -> asyncio.Event:
        return self._synced.setdefault(f"{kind}/{namespace or '*'}", asyncio.Event())

    def mark_all_synced(self) -> None:
        """For tests and in-memory use: no watch will fill it."""
        for kind in KINDS:
            for ns in self.namespaces or {None}:
                self.synced_event(kind, ns).set()

    async def wait_synced(self, timeout: float) -> bool:
        """True once every kind was listed at least once."""
        events = [self.synced_event(kind, ns) for kind in KINDS for ns in (self.namespaces or {None})]
        if all(e.is_set() for e in events):  # the common case: no task, no timer per request
            return True
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), timeout)
        except TimeoutError:
            return False
        return True


async def run_watches(cache: Cache, kube: KubeClient, stop: threading.Event) -> None:
    """Feeds the cache from one list+watch per kind (and namespace, when restricted) until cancelled."""
    async def feed(kind: str, namespace: str | None) -> None:
        async for event, payload in kube.list_and_watch(kind, namespace, stop):
            if event == "SYNC":
                cache.replace_all(kind, namespace, payload)
                cache.synced_event(kind, namespace).set()
            elif event == "DELETED":
                cache.remove(kind, payload)
            else:
                cache.put(kind, payload)

    namespaces: list[str | None] = [*sorted(cache.namespaces)] or [None]
    await asyncio.gather(*(feed(kind, ns) for kind in KINDS for ns in namespaces))
