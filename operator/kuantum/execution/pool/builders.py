"""Pure builders of a solver pool's objects: its workers (pods running `kuantum-solve-worker`) and the Secret holding
the token every request to them carries.

A pool is the warm workers of one shape: a Provider's jobs in one namespace with one image, CPU and memory. Its
objects belong to that Provider (owner references): deleting the Provider, or its namespace, takes them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from kuantum_solvers.formats import worker as wire

from kuantum.labels import label_value
from kuantum.models.common import API_GROUP, API_VERSION, LABEL_POOL, LABEL_PROVIDER, LABEL_WORKSPACE
from kuantum.objects import ProviderObject

from ..pod import builders as pod_builders

CONTAINER = "worker"
TOKEN_KEY = "token"
# A pod of the pool is ready once its engines are warm (the health check answers 200), a few seconds after it starts.
READINESS = {"httpGet": {"path": wire.HEALTH_PATH, "port": wire.PORT}, "periodSeconds": 2, "failureThreshold": 3}


@dataclass(frozen=True)
class Shape:
    """What a pool's workers are: one Provider's, in its namespace, with one image and size."""

    namespace: str
    provider: str
    workspace: str
    image: str
    cpu: str
    memory: str

    @property
    def pool_id(self) -> str:
        """A short stable name for the shape (a label value and part of object names)."""
        text = "\0".join((self.namespace, self.provider, self.image, self.cpu, self.memory))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def token_secret_name(pool_id: str) -> str:
    return f"kuantum-pool-{pool_id}"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _owner(provider: ProviderObject) -> dict[str, Any]:
    return {"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": "Provider", "name": provider.meta.name,
            "uid": provider.meta.uid, "blockOwnerDeletion": False}


def labels(shape: Shape) -> dict[str, str]:
    return {LABEL_POOL: shape.pool_id, LABEL_WORKSPACE: label_value(shape.workspace),
            LABEL_PROVIDER: label_value(shape.provider), "app.kubernetes.io/managed-by": "kuantum",
            "app.kubernetes.io/component": "solver-worker"}


def token_secret(shape: Shape, provider: ProviderObject, token: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": token_secret_name(shape.pool_id), "namespace": shape.namespace,
                         "labels": labels(shape), "ownerReferences": [_owner(provider)]},
            "stringData": {TOKEN_KEY: token}}


def worker_pod(shape: Shape, provider: ProviderObject, suffix: str, idle_exit_seconds: int) -> dict[str, Any]:
    """A worker: the solver image's `kuantum-solve-worker`, hardened as a solver pod is (no token, non-root,
    read-only root, no capabilities); restarted in place if it dies (a run the OOM killer takes leaves it up). Idle
    for `idle_exit_seconds` it exits by itself, so workers an operator no longer looks after (uninstalled) free
    their node; the pod is then Succeeded and holds nothing."""
    container = pod_builders.hardened_container({
        "name": CONTAINER,
        "image": shape.image,
        "command": ["kuantum-solve-worker", "--idle-exit", str(idle_exit_seconds)],
        "ports": [{"name": "runs", "containerPort": wire.PORT}],
        "env": [{"name": wire.TOKEN_ENV,
                 "valueFrom": {"secretKeyRef": {"name": token_secret_name(shape.pool_id), "key": TOKEN_KEY}}}],
        "resources": {"requests": {"cpu": shape.cpu, "memory": shape.memory}, "limits": {"memory": shape.memory}},
        "readinessProbe": READINESS,
    })
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"kuantum-worker-{shape.pool_id}-{suffix}", "namespace": shape.namespace,
                         "labels": labels(shape), "ownerReferences": [_owner(provider)]},
            "spec": pod_builders.hardened_pod_spec([container], restart_policy="OnFailure")}
