"""Finding a job's workspace and provider in the store, and the one Provider that counts per provider id."""

from __future__ import annotations

from typing import Any

from .catalog import canonical_provider_id
from .store import Store


def workspace_of(store: Store, namespace: str, name: str) -> dict[str, Any] | None:
    return store.workspaces.get(f"{namespace}/{name}")


def jobs_of_workspace(store: Store, namespace: str, workspace: str) -> list[dict[str, Any]]:
    """Through the store's group index: the workspace's few groups, not every job of the cluster."""
    return [job for (ns, ws, _), members in store.groups.items() if ns == namespace and ws == workspace
            for job in members.values()]


def workspace_deleting(store: Store, namespace: str, name: str) -> bool:
    workspace = workspace_of(store, namespace, name)
    return bool(workspace and workspace["metadata"].get("deletionTimestamp"))


def _created(body: dict[str, Any]) -> tuple[str, str]:
    meta = body["metadata"]
    return (meta.get("creationTimestamp") or "", meta["name"])


def providers_with_id(store: Store, namespace: str, workspace: str, canonical: str) -> list[dict[str, Any]]:
    """Providers of one workspace with one canonical provider id, oldest first."""
    found = [
        body for body in store.providers.values()
        if body["metadata"]["namespace"] == namespace
        and body.get("spec", {}).get("workspace") == workspace
        and not body["metadata"].get("deletionTimestamp")
        and canonical_provider_id(str(body.get("spec", {}).get("providerId", ""))) == canonical
    ]
    return sorted(found, key=_created)


def primary_provider(store: Store, namespace: str, workspace: str, canonical: str) -> dict[str, Any] | None:
    """The oldest Provider for the id wins; later ones are duplicates and run nothing."""
    found = providers_with_id(store, namespace, workspace, canonical)
    return found[0] if found else None


def provider_for_job(store: Store, namespace: str, workspace: str, ref: str) -> tuple[dict[str, Any], str] | None:
    """A job's spec.provider is a provider id (Azure aliases too) or the name of a Provider object."""
    canonical = canonical_provider_id(ref)
    if canonical is None:
        body = store.providers.get(f"{namespace}/{ref}")
        if body is None or body.get("spec", {}).get("workspace") != workspace:
            return None
        canonical = canonical_provider_id(str(body["spec"].get("providerId", "")))
        if canonical is None:
            return None
    primary = primary_provider(store, namespace, workspace, canonical)
    return (primary, canonical) if primary else None
