"""The gateway's reads of QuantumJobs, QuantumSessions, Providers and QuantumWorkspaces: GETs never call the API
server.

The objects live in the typed store the operator uses too (runtime/store.py), kept current by the same
informers (runtime/informer.py: list + watch, 410 Gone -> relist, bounded reconnects). Reads hand out the
objects' bodies, which the Azure mapping echoes. Objects written through the gateway are put in at once (`put`),
so a client reading right after its own PUT sees the job before the watch event arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from kubernetes import client

from ..models.common import API_GROUP, API_VERSION
from ..objects import SessionObject, Watched
from ..runtime import namespaces as scope
from ..runtime.informer import Handler, Informers, Resource
from ..runtime.store import Store

JOBS, PROVIDERS, WORKSPACES, SESSIONS = "quantumjobs", "providers", "quantumworkspaces", "quantumsessions"
KINDS = {JOBS: "QuantumJob", PROVIDERS: "Provider", WORKSPACES: "QuantumWorkspace", SESSIONS: "QuantumSession"}


def job_id_of(job: dict[str, Any]) -> str | None:
    """The job's id as the operator assigns it: status.id, else the client's spec.id (lower-cased)."""
    found = (job.get("status") or {}).get("id") or (job.get("spec") or {}).get("id")
    return str(found).lower() if found else None


def _key(obj: dict[str, Any]) -> str:
    return f"{obj['metadata'].get('namespace') or ''}/{obj['metadata']['name']}"


class Cache:
    def __init__(self, namespaces: Iterable[str] | None = None) -> None:
        self.namespaces = tuple(namespaces or ())  # empty: all namespaces
        self.store = Store()
        self._ids: dict[tuple[str, str], str] = {}  # (namespace, job id) -> namespace/name
        self._session_ids: dict[tuple[str, str], str] = {}  # (namespace, session id) -> namespace/name
        self._informers: Informers | None = None
        self._filled_by_hand = False

    def watch(self, api_client: client.ApiClient) -> Informers:
        """Starts the informers that keep the cache current (one list + watch per kind and namespace)."""
        self._informers = Informers(api_client, self.namespaces,
                                    [(Resource(kind, API_GROUP, API_VERSION, plural), self.handler(plural))
                                     for plural, kind in KINDS.items()])
        self._informers.start()
        return self._informers

    def handler(self, plural: str) -> Handler:
        """What an informer of that kind hands its events to."""
        def handle(event_type: str, obj: dict[str, Any]) -> None:
            if event_type == "DELETED":
                self.remove(plural, obj)
            else:
                self.put(plural, obj)
        return handle

    # ----- reads -----
    def workspace(self, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.store.workspaces.get(f"{namespace}/{name}")
        return found.body if found is not None else None

    def job(self, namespace: str, workspace: str, job_id: str) -> dict[str, Any] | None:
        key = self._ids.get((namespace, job_id.lower()))
        found = self.store.jobs.get(key) if key else None
        if found is None or found.raw_spec.get("workspace") != workspace:
            return None
        return found.body

    def owner_of(self, job_id: str) -> tuple[str, str] | None:
        """(namespace, workspace) of the job with this id, in any namespace served (rare: a scan)."""
        job_id = job_id.lower()
        for (namespace, found), key in self._ids.items():
            if found == job_id:
                return namespace, str(self.store.jobs[key].raw_spec.get("workspace"))
        return None

    def jobs(self, namespace: str, workspace: str) -> list[dict[str, Any]]:
        return [j.body for j in self.store.jobs.values()
                if j.meta.namespace == namespace and j.raw_spec.get("workspace") == workspace and job_id_of(j.body)]

    def session(self, namespace: str, workspace: str, session_id: str) -> SessionObject | None:
        """The workspace's session with this id (a gateway-made one is named by it; a kubectl-made one is not)."""
        key = self._session_ids.get((namespace, session_id.lower()))
        found = self.store.sessions.get(key) if key else None
        if found is None or found.workspace != workspace or found.meta.deleting:
            return None
        return found

    def session_named(self, namespace: str, name: str) -> SessionObject | None:
        return self.store.sessions.get(f"{namespace}/{name}")

    def sessions(self, namespace: str, workspace: str) -> list[SessionObject]:
        return [s for s in self.store.sessions.values()
                if s.meta.namespace == namespace and s.workspace == workspace and not s.meta.deleting]

    def session_jobs(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [j.body for j in self.store.jobs_of_session(namespace, name) if job_id_of(j.body)]

    def providers(self, namespace: str, workspace: str) -> list[dict[str, Any]]:
        return sorted((p.body for p in self.store.providers.values()
                       if p.meta.namespace == namespace and (p.body.get("spec") or {}).get("workspace") == workspace),
                      key=lambda p: p["metadata"]["name"])

    def serves(self, namespace: str) -> bool:
        return scope.serves(self.namespaces, namespace)

    # ----- writes -----
    def put(self, plural: str, obj: dict[str, Any]) -> None:
        """Adds or replaces obj, unless the copy held is newer (a write's answer can race its watch event)."""
        table = self.store.table(KINDS[plural])
        before = table.get(_key(obj))
        held = self.store.put(KINDS[plural], obj)
        if plural == JOBS:
            self._index(before, held)
        elif plural == SESSIONS:
            self._index_session(before, held)

    def remove(self, plural: str, obj: dict[str, Any]) -> None:
        table = self.store.table(KINDS[plural])
        before = table.get(_key(obj))
        self.store.remove(KINDS[plural], obj)
        if plural == JOBS:
            self._index(before, table.get(_key(obj)))
        elif plural == SESSIONS:
            self._index_session(before, table.get(_key(obj)))

    def _index(self, before: Watched | None, after: Watched | None) -> None:
        if before is not None and (old := job_id_of(before.body)) \
                and self._ids.get((before.meta.namespace, old)) == before.meta.key:
            del self._ids[(before.meta.namespace, old)]
        if after is not None and (new := job_id_of(after.body)):
            self._ids[(after.meta.namespace, new)] = after.meta.key

    def _index_session(self, before: Watched | None, after: Watched | None) -> None:
        if isinstance(before, SessionObject) and \
                self._session_ids.get((before.meta.namespace, before.session_id)) == before.meta.key:
            del self._session_ids[(before.meta.namespace, before.session_id)]
        if isinstance(after, SessionObject):
            self._session_ids[(after.meta.namespace, after.session_id)] = after.meta.key

    # ----- sync state -----
    def mark_all_synced(self, synced: bool = True) -> None:
        """For tests and in-memory use: no informer fills it."""
        self._filled_by_hand = synced

    async def wait_synced(self, timeout: float) -> bool:
        """True once every kind was listed at least once."""
        if self._filled_by_hand:
            return True
        if self._informers is None:
            await asyncio.sleep(timeout)
            return False
        return await self._informers.wait_synced(timeout)
