"""The gateway's reads of QuantumJobs, Providers and QuantumWorkspaces: GETs never call the API server.

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

from ..jobs.duplicates import holder_of
from ..models.common import API_GROUP, API_VERSION
from ..runtime import namespaces as scope
from ..runtime.informer import Handler, Informers, Resource
from ..runtime.store import Store

JOBS, PROVIDERS, WORKSPACES = "quantumjobs", "providers", "quantumworkspaces"
KINDS = {JOBS: "QuantumJob", PROVIDERS: "Provider", WORKSPACES: "QuantumWorkspace"}


def job_id_of(job: dict[str, Any]) -> str | None:
    """The job's id as the operator assigns it: status.id, else the client's spec.id (lower-cased)."""
    found = (job.get("status") or {}).get("id") or (job.get("spec") or {}).get("id")
    return str(found).lower() if found else None


class Cache:
    def __init__(self, namespaces: Iterable[str] | None = None) -> None:
        self.namespaces = tuple(namespaces or ())  # empty: all namespaces
        self.store = Store()
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
        """The job that holds this id in the workspace (of several asking for it, the one the operator runs)."""
        found = holder_of(self.store.jobs_with_id(namespace, workspace, job_id.lower()))
        return found.body if found is not None else None

    def owner_of(self, job_id: str) -> tuple[str, str] | None:
        """(namespace, workspace) of the job with this id, in any namespace served (rare: a scan)."""
        job_id = job_id.lower()
        for namespace, workspace, found in self.store.ids:
            if found == job_id:
                return namespace, workspace
        return None

    def jobs(self, namespace: str, workspace: str) -> list[dict[str, Any]]:
        return [j.body for j in self.store.jobs.values()
                if j.meta.namespace == namespace and j.raw_spec.get("workspace") == workspace and job_id_of(j.body)]

    def providers(self, namespace: str, workspace: str) -> list[dict[str, Any]]:
        return sorted((p.body for p in self.store.providers.values()
                       if p.meta.namespace == namespace and (p.body.get("spec") or {}).get("workspace") == workspace),
                      key=lambda p: p["metadata"]["name"])

    def serves(self, namespace: str) -> bool:
        return scope.serves(self.namespaces, namespace)

    # ----- writes -----
    def put(self, plural: str, obj: dict[str, Any]) -> None:
        """Adds or replaces obj, unless the copy held is newer (a write's answer can race its watch event)."""
        self.store.put(KINDS[plural], obj)

    def remove(self, plural: str, obj: dict[str, Any]) -> None:
        self.store.remove(KINDS[plural], obj)

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
