"""QuantumWorkspace reconciler: storage reachable, Microsoft QIO provider added, providers and job counts."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from ..catalog import QIO, canonical_provider_id
from ..conditions import remove_condition, set_condition
from ..lookup import jobs_of_workspace, providers_with_id
from ..models import API_GROUP, API_VERSION, QuantumWorkspaceStatus
from ..models.common import FINALIZER
from ..models.workspace import WorkspaceProvider
from ..statemachine import is_final
from ..storage import StorageError
from ..storage_registry import StorageNotConfigured
from ..store import key_of
from ..timeutil import now_iso
from .context import Context
from .throttle import ThrottledStatusWriter

log = logging.getLogger("kuantum.workspace")
MAX_RETRY_SECONDS = 300.0


def qio_provider_manifest(workspace: dict[str, Any]) -> dict[str, Any]:
    meta = workspace["metadata"]
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": "Provider",
        "metadata": {
            "name": f"{meta['name']}-microsoft-qio", "namespace": meta["namespace"],
            "labels": {"kuantum.dev/workspace": meta["name"], "app.kubernetes.io/managed-by": "kuantum"},
            "ownerReferences": [{"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": "QuantumWorkspace",
                                 "name": meta["name"], "uid": meta["uid"], "controller": True,
                                 "blockOwnerDeletion": True}],
        },
        "spec": {"workspace": meta["name"], "providerId": QIO, "billingPlan": {"name": "default"}},
    }


class WorkspaceReconciler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.failures: Counter[str] = Counter()
        self.writer = ThrottledStatusWriter(ctx, "QuantumWorkspace", min_interval=10.0)

    async def reconcile(self, key: str) -> None:
        ws = self.ctx.store.workspaces.get(key)
        if ws is None:
            return
        if ws["metadata"].get("deletionTimestamp"):
            await self._on_deletion(ws)
            return
        ws = await self._ensure_finalizer(ws)
        meta = ws["metadata"]
        old = QuantumWorkspaceStatus.model_validate(ws.get("status") or {})
        new = old.model_copy(deep=True)
        now, generation = now_iso(), meta.get("generation")
        reason, message = "StorageReady", "storage is reachable with the workspace's credentials"
        try:
            storage = await self.ctx.storages.check(ws)
            new.storageAccount = storage.account_name
        except StorageNotConfigured as e:
            reason, message = e.reason, e.message
        except StorageError as e:
            reason, message = "StorageUnreachable", str(e)
        ready = reason == "StorageReady"
        new.conditions = set_condition(new.conditions, "StorageReady", ready, reason, message, now, generation)
        new.conditions = set_condition(new.conditions, "Ready", ready, reason if not ready else "Ready",
                                       message if not ready else "the workspace is ready", now, generation)
        if ready:
            new.conditions = remove_condition(new.conditions, "Reconciling")
        else:
            new.conditions = set_condition(new.conditions, "Reconciling", True, reason, "retrying with backoff",
                                           now, generation)
        await self._ensure_qio_provider(ws)
        new.providers = self._providers(ws)
        new.jobCounts = self._job_counts(ws)
        new.observedGeneration = generation
        await self._write(ws, old, new)
        if ready:
            self.failures.pop(key, None)
        else:
            self.failures[key] += 1
            delay = min(MAX_RETRY_SECONDS, 5.0 * 2 ** (self.failures[key] - 1))
            self.ctx.enqueue_after("QuantumWorkspace", key, delay)

    async def _ensure_finalizer(self, ws: dict[str, Any]) -> dict[str, Any]:
        """Deleting a workspace cancels its jobs first (as Azure Quantum does): the finalizer holds the
        workspace, and with it its storage credentials, until every job of it is final."""
        meta = ws["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER in finalizers:
            return ws
        updated = await self.ctx.kube.patch_meta("QuantumWorkspace", meta["namespace"], meta["name"], {
            "metadata": {"finalizers": [*finalizers, FINALIZER], "resourceVersion": meta.get("resourceVersion")}})
        self.ctx.store.put("QuantumWorkspace", updated)
        return updated

    async def _on_deletion(self, ws: dict[str, Any]) -> None:
        meta = ws["metadata"]
        if FINALIZER not in (meta.get("finalizers") or []):
            return
        active = [key_of(job) for job in jobs_of_workspace(self.ctx.store, meta["namespace"], meta["name"])
                  if not is_final((job.get("status") or {}).get("state"))]
        if active:
            old = QuantumWorkspaceStatus.model_validate(ws.get("status") or {})
            message = (f"the workspace is being deleted: cancelling its {len(active)} active job(s) first "
                       "(a job that cannot be cancelled while executing runs to completion)")
            new = old.model_copy(deep=True)
            new.conditions = set_condition(new.conditions, "Terminating", True, "CancellingJobs", message, now_iso(),
                                           meta.get("generation"))
            if new != old:
                await self.ctx.kube.patch_status("QuantumWorkspace", meta["namespace"], meta["name"],
                                                 {"status": new.model_dump(mode="json", exclude_none=True)})
                await self.ctx.kube.event(ws, "CancellingJobs", message, warning=True)
            for key in active:
                self.ctx.enqueue("QuantumJob", key)
            self.ctx.enqueue_after("QuantumWorkspace", key_of(ws), 5.0)
            return
        remaining = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        await self.ctx.kube.patch_meta("QuantumWorkspace", meta["namespace"], meta["name"],
                                       {"metadata": {"finalizers": remaining}})

    async def _ensure_qio_provider(self, ws: dict[str, Any]) -> None:
        """Microsoft QIO is added to every workspace, as in Azure Quantum."""
        meta = ws["metadata"]
        if providers_with_id(self.ctx.store, meta["namespace"], meta["name"], QIO):
            return
        if await self.ctx.kube.create_custom("Provider", meta["namespace"], qio_provider_manifest(ws)):
            await self.ctx.kube.event(ws, "ProviderAdded", f"added provider {QIO} ({meta['name']}-microsoft-qio)")

    def _providers(self, ws: dict[str, Any]) -> list[WorkspaceProvider]:
        meta = ws["metadata"]
        result = []
        for body in self.ctx.store.providers.values():
            spec = body.get("spec") or {}
            if body["metadata"]["namespace"] != meta["namespace"] or spec.get("workspace") != meta["name"]:
                continue
            conds = (body.get("status") or {}).get("conditions") or []
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)
            canonical = canonical_provider_id(str(spec.get("providerId", ""))) or str(spec.get("providerId"))
            result.append(WorkspaceProvider(name=body["metadata"]["name"], providerId=canonical, ready=ready))
        return sorted(result, key=lambda p: p.name)

    def _job_counts(self, ws: dict[str, Any]) -> dict[str, int]:
        meta = ws["metadata"]
        counts = Counter((job.get("status") or {}).get("state") or "Pending"
                         for job in jobs_of_workspace(self.ctx.store, meta["namespace"], meta["name"]))
        return dict(sorted(counts.items()))

    async def _write(self, ws: dict[str, Any], old: QuantumWorkspaceStatus, new: QuantumWorkspaceStatus) -> None:
        counters_only = new.model_copy(update={"jobCounts": old.jobCounts}) == old
        await self.writer.write(ws, old, new, counters_only=counters_only)
