"""What a job needs before it can queue: its workspace, its Provider (the one that counts for its id), its
workspace's storage and its target; and its input, uploaded to the job's container."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from ..catalog import canonical_provider_id
from ..conditions import get_condition
from ..execution.base import Pending
from ..execution.registry import TARGET_UNAVAILABLE, emulated, unavailable_reason
from ..models import QuantumJobSpec
from ..models.common import ANNOTATION_CREATED_BY, GATEWAY
from ..objects import JobObject, ProviderObject
from ..runtime.lookup import provider_for_job, workspace_of
from ..runtime.store import Store
from ..runtime.writer import Kube
from ..storage.blobs import ContainerTaken, WorkspaceStorage, in_thread
from ..storage.errors import StorageError
from ..storage.registry import StorageNotConfigured, StorageRegistry
from .inputs import InputPending, InvalidInput, check_json, read_input
from .validation import JobInvalid, Resolved, resolve

_T = TypeVar("_T")


async def prerequisites(store: Store, storages: StorageRegistry, job: JobObject, spec: QuantumJobSpec
                        ) -> tuple[ProviderObject, WorkspaceStorage, Resolved]:
    """The job's Provider, its workspace's storage and its target; Pending (with what is missing) or JobInvalid."""
    namespace = job.meta.namespace
    workspace = workspace_of(store, namespace, spec.workspace)
    if workspace is None:
        raise Pending("WorkspaceNotFound", f"QuantumWorkspace {spec.workspace} does not exist in {namespace}")
    found = provider_for_job(store, namespace, spec.workspace, spec.provider)
    if found is None:
        if canonical_provider_id(spec.provider) is None and f"{namespace}/{spec.provider}" not in store.providers:
            missing = Pending("ProviderNotFound", f"no provider {spec.provider!r} in workspace {spec.workspace}: "
                                                  "not a known provider id nor a Provider object here")
        else:
            missing = Pending("ProviderNotFound", f"provider {spec.provider} is not added to workspace "
                                                  f"{spec.workspace} (no Provider object for it)")
        if job.meta.annotations.get(ANNOTATION_CREATED_BY) == GATEWAY:
            # Submitted as to Azure Quantum, which fails such a job rather than letting it wait.
            raise JobInvalid("InvalidProvider", missing.message)
        raise missing
    provider, canonical = found
    resolved = resolve(spec, canonical)
    why = unavailable_reason(resolved.target, provider.meta.name, emulated(resolved.target, provider))
    if why is not None:
        # No backend runs it (a QPU Kuantum only emulates, not emulated by this Provider): fails before its input
        # is uploaded, saying what to change.
        raise JobInvalid(TARGET_UNAVAILABLE, why)
    storage_ready = get_condition(workspace.status.conditions, "StorageReady")
    if storage_ready is not None and storage_ready.status == "False":
        # The workspace already found its storage unreachable: wait at once, with its words, rather than
        # after this reconcile's own connection attempts time out (the job would show no status meanwhile).
        raise Pending("WorkspaceNotReady", f"workspace {spec.workspace}: {storage_ready.message}")
    try:
        storage = await storages.for_workspace(workspace)
    except StorageNotConfigured as e:
        raise Pending("WorkspaceNotReady", f"workspace {spec.workspace}: {e.message}") from e
    except StorageError as e:
        raise Pending("WorkspaceNotReady", f"workspace {spec.workspace}: {e}") from e
    return provider, storage, resolved


async def upload_input(kube: Kube, job: JobObject, job_id: str, spec: QuantumJobSpec, resolved: Resolved,
                       storage: WorkspaceStorage) -> str:
    """The input's blob URL: an existing blob as it is (its container made), else the inline, ConfigMap or
    Secret input checked and uploaded (idempotent: the same blob each time)."""
    if spec.input.blobUri:
        if storage.locate(spec.input.blobUri) is None and "?" not in spec.input.blobUri:
            raise InvalidInput(f"spec.input.blobUri {spec.input.blobUri} is not in the workspace's storage "
                               f"account {storage.account_name} and carries no SAS token to read it with")
        await _claim(storage.claim_container, job, job_id)
        return spec.input.blobUri
    namespace = job.meta.namespace
    objects: dict[tuple[str, str], dict[str, Any] | None] = {}
    for kind, ref in (("configmap", spec.input.configMapKeyRef), ("secret", spec.input.secretKeyRef)):
        if ref is not None:
            objects[(kind, ref.name)] = await kube.read_data_object(kind, namespace, ref.name)
    try:
        data = read_input(spec.input, lambda kind, name: objects.get((kind, name)))
    except InputPending as e:
        raise Pending("InputNotFound", str(e)) from e
    check_json(data, resolved.input_format)
    return await _claim(functools.partial(storage.upload_input, data=data, input_format=resolved.input_format),
                        job, job_id)


async def _claim(write: Callable[..., _T], job: JobObject, job_id: str) -> _T:
    """A write into the job's own container (made for it, or adopted while it names no job): DuplicateJobId when
    another job's container has this id (another namespace's workspace on the same storage account, a job of
    that id that is gone)."""
    try:
        return await in_thread(write, job_id, uid=job.meta.uid, owner=job.meta.key)
    except ContainerTaken as e:
        raise JobInvalid("DuplicateJobId", f"job id {job_id} is taken: {e}; job ids are unique per workspace "
                                           "storage, choose another spec.id") from e
    except StorageError as e:
        raise Pending("StorageUnavailable", str(e)) from e


def unavailable(provider: ProviderObject, target: str) -> str | None:
    """Why the target takes no jobs now (its Provider lists it Unavailable), or None."""
    for listed in provider.status.targets:
        if listed.id == target and listed.availability == "Unavailable":
            return (f"target {target} is unavailable (Provider {provider.meta.name}); the job waits "
                    "until it is available again")
    return None
