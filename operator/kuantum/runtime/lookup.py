"""Finding a job's workspace and provider in the store, and the one Provider that counts per provider id."""

from __future__ import annotations

from ..catalog import canonical_provider_id
from ..objects import JobObject, ProviderObject, WorkspaceObject
from .store import Store


def workspace_of(store: Store, namespace: str, name: str) -> WorkspaceObject | None:
    return store.workspaces.get(f"{namespace}/{name}")


def jobs_of_workspace(store: Store, namespace: str, workspace: str) -> list[JobObject]:
    """Through the store's group index: the workspace's few groups, not every job of the cluster."""
    return [job for (ns, ws, _), members in store.groups.items() if ns == namespace and ws == workspace
            for job in members.values()]


def workspace_deleting(store: Store, namespace: str, name: str) -> bool:
    workspace = workspace_of(store, namespace, name)
    return bool(workspace and workspace.meta.deleting)


def providers_of_workspace(store: Store, namespace: str, workspace: str) -> list[ProviderObject]:
    return [p for p in store.providers.values() if p.meta.namespace == namespace and p.workspace == workspace]


def providers_with_id(store: Store, namespace: str, workspace: str, canonical: str) -> list[ProviderObject]:
    """Providers of one workspace with one canonical provider id, oldest first."""
    found = [p for p in providers_of_workspace(store, namespace, workspace)
             if not p.meta.deleting and p.canonical == canonical]
    return sorted(found, key=lambda p: (p.meta.created, p.meta.name))


def primary_provider(store: Store, namespace: str, workspace: str, canonical: str) -> ProviderObject | None:
    """The oldest Provider for the id wins; later ones are duplicates and run nothing."""
    found = providers_with_id(store, namespace, workspace, canonical)
    return found[0] if found else None


def provider_for_job(store: Store, namespace: str, workspace: str, ref: str) -> tuple[ProviderObject, str] | None:
    """A job's spec.provider is a provider id (Azure aliases too) or the name of a Provider object."""
    canonical = canonical_provider_id(ref)
    if canonical is None:
        named = store.providers.get(f"{namespace}/{ref}")
        if named is None or named.workspace != workspace or named.canonical is None:
            return None
        canonical = named.canonical
    primary = primary_provider(store, namespace, workspace, canonical)
    return (primary, canonical) if primary else None
