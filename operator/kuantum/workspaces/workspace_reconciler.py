"""QuantumWorkspace reconciler: storage reachable, the default providers added (Microsoft QIO and Microsoft Quantum
Computing), providers and job counts."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from ..catalog import MICROSOFT_QC, QIO, canonical_provider_id
from ..conditions import remove_condition, set_condition
from ..context import Context
from ..jobs.statemachine import is_final
from ..models import API_GROUP, API_VERSION, QuantumWorkspaceStatus
from ..models.common import FINALIZER
from ..models.workspace import WorkspaceProvider
from ..objects import WorkspaceObject
from ..runtime.lookup import jobs_of_workspace, providers_of_workspace, providers_with_id
from ..runtime.result import Result
from ..runtime.timeutil import now_iso
from ..storage.errors import StorageError
from ..storage.registry import StorageNotConfigured
from .throttle import ThrottledStatusWriter

log = logging.getLogger("kuantum.workspace")
MAX_RETRY_SECONDS = 300.0
# A missing storage Secret or key is a fix the user makes (often a moment after the workspace: GitOps and
# `kubectl apply -f dir/` do not order them), and looking again is one read from the API server; so it is looked
# for at least this often, while an unreachable storage backs off to MAX_RETRY_SECONDS. (The operator may not
# list or watch Secrets, so it cannot be told.)
SECRET_RETRY_SECONDS = 10.0
SECRET_REASONS = frozenset({"SecretNotFound", "SecretKeyNotFound"})


# What Azure Quantum adds to every workspace: Microsoft QIO and Microsoft Quantum Computing (the resource
# estimator), in this order.
DEFAULT_PROVIDERS = (QIO, MICROSOFT_QC)


def default_provider_name(workspace: str, provider_id: str) -> str:
    return f"{workspace}-{provider_id}"


def default_provider_manifest(workspace: WorkspaceObject, provider_id: str) -> dict[str, Any]:
    meta = workspace.meta
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": "Provider",
        "metadata": {
            "name": default_provider_name(meta.name, provider_id), "namespace": meta.namespace,
            "labels": {"kuantum.dev/workspace": meta.name, "app.kubernetes.io/managed-by": "kuantum"},
            "ownerReferences": [{"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": "QuantumWorkspace",
                                 "name": meta.name, "uid": meta.uid, "controller": True,
                                 "blockOwnerDeletion": True}],
        },
        "spec": {"workspace": meta.name, "providerId": provider_id, "billingPlan": {"name": "default"}},
    }


class WorkspaceReconciler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.failures: Counter[str] = Counter()
        self.writer = ThrottledStatusWriter(ctx, "QuantumWorkspace", min_interval=10.0)

    async def reconcile(self, key: str) -> Result:
        ws = self.ctx.store.workspaces.get(key)
        if ws is None:
            return Result()
        if ws.meta.deleting:
            return await self._on_deletion(ws)
        ws = await self._ensure_finalizer(ws)
        old = ws.status
        new = old.model_copy(deep=True)
        now, generation = now_iso(), ws.meta.generation
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
            retry = (f"looking for the Secret again within {SECRET_RETRY_SECONDS:.0f} s" if reason in SECRET_REASONS
                     else "retrying with backoff")
            new.conditions = set_condition(new.conditions, "Reconciling", True, reason, retry, now, generation)
        await self._ensure_default_providers(ws)
        new.providers = self._providers(ws)
        new.jobCounts = self._job_counts(ws)
        new.observedGeneration = generation
        written = Result(await self._write(ws, old, new))
        if ready:
            self.failures.pop(key, None)
            return written
        return written.after(self._retry_delay(key, reason))

    def _retry_delay(self, key: str, reason: str) -> float:
        """When to look again at a workspace that is not ready: exponential backoff from 5 s, capped."""
        self.failures[key] += 1
        cap = SECRET_RETRY_SECONDS if reason in SECRET_REASONS else MAX_RETRY_SECONDS
        return min(cap, 5.0 * 2 ** (self.failures[key] - 1))

    async def _ensure_finalizer(self, ws: WorkspaceObject) -> WorkspaceObject:
        """Deleting a workspace cancels its jobs first (as Azure Quantum does): the finalizer holds the
        workspace, and with it its storage credentials, until every job of it is final."""
        meta = ws.meta
        if FINALIZER in meta.finalizers:
            return ws
        updated = await self.ctx.kube.patch_meta("QuantumWorkspace", meta.namespace, meta.name, {
            "metadata": {"finalizers": [*meta.finalizers, FINALIZER],
                         "resourceVersion": meta.resource_version or None}})
        return self.ctx.store.put_workspace(updated)

    async def _on_deletion(self, ws: WorkspaceObject) -> Result:
        meta = ws.meta
        if FINALIZER not in meta.finalizers:
            return Result()
        active = [job.key for job in jobs_of_workspace(self.ctx.store, meta.namespace, meta.name)
                  if not is_final(job.state)]
        if active:
            old = ws.status
            message = (f"the workspace is being deleted: cancelling its {len(active)} active job(s) first "
                       "(a job that cannot be cancelled while executing runs to completion)")
            new = old.model_copy(deep=True)
            new.conditions = set_condition(new.conditions, "Terminating", True, "CancellingJobs", message, now_iso(),
                                           meta.generation)
            if new != old:
                await self.ctx.kube.patch_status("QuantumWorkspace", meta.namespace, meta.name,
                                                 {"status": new.model_dump(mode="json", exclude_none=True)})
                await self.ctx.kube.event(ws, "CancellingJobs", message, warning=True)
            return Result(5.0).waking("QuantumJob", active)
        remaining = [f for f in meta.finalizers if f != FINALIZER]
        await self.ctx.kube.patch_meta("QuantumWorkspace", meta.namespace, meta.name,
                                       {"metadata": {"finalizers": remaining}})
        return Result()

    async def _ensure_default_providers(self, ws: WorkspaceObject) -> None:
        """Microsoft QIO and Microsoft Quantum Computing (the resource estimator) are added to every workspace,
        as in Azure Quantum; a workspace that has a Provider for either id (the user's, say with a billing plan)
        keeps it and gets no second one."""
        meta = ws.meta
        for provider_id in DEFAULT_PROVIDERS:
            if providers_with_id(self.ctx.store, meta.namespace, meta.name, provider_id):
                continue
            name = default_provider_name(meta.name, provider_id)
            manifest = default_provider_manifest(ws, provider_id)
            if await self.ctx.kube.create_custom("Provider", meta.namespace, manifest):
                await self.ctx.kube.event(ws, "ProviderAdded", f"added provider {provider_id} ({name})")

    def _providers(self, ws: WorkspaceObject) -> list[WorkspaceProvider]:
        result = []
        for provider in providers_of_workspace(self.ctx.store, ws.meta.namespace, ws.meta.name):
            raw_id = _raw_provider_id(provider.body)
            canonical = provider.canonical or canonical_provider_id(raw_id) or raw_id
            result.append(WorkspaceProvider(name=provider.meta.name, providerId=canonical, ready=provider.ready))
        return sorted(result, key=lambda p: p.name)

    def _job_counts(self, ws: WorkspaceObject) -> dict[str, int]:
        counts = Counter(job.status.state or "Pending"
                         for job in jobs_of_workspace(self.ctx.store, ws.meta.namespace, ws.meta.name))
        return dict(sorted(counts.items()))

    async def _write(self, ws: WorkspaceObject, old: QuantumWorkspaceStatus, new: QuantumWorkspaceStatus
                     ) -> float | None:
        counters_only = new.model_copy(update={"jobCounts": old.jobCounts}) == old
        return await self.writer.write(ws, old, new, counters_only=counters_only)


def _raw_provider_id(body: dict[str, Any]) -> str:
    """As written, for listing a Provider whose spec does not parse."""
    return str((body.get("spec") or {}).get("providerId", ""))
