"""API keys: `x-ms-quantum-api-key` must equal the Secret value the workspace's spec.gateway.apiKeySecretRef names.

Secrets are read on demand (get only, no list/watch of Secrets) and kept for a few seconds, so a burst of
requests, or of wrong keys, costs at most one read per Secret per TTL; a rotated key applies within it.
Keys are never logged or echoed: failures name the workspace only.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import ApiError

HEADER = "x-ms-quantum-api-key"
SECRET_TTL = 10.0

SecretReader = Callable[[str, str], Awaitable[dict[str, str] | None]]


class Secrets:
    """Secret data by (namespace, name), cached for ttl seconds (missing Secrets too)."""

    def __init__(self, read: SecretReader, ttl: float = SECRET_TTL, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self._read = read
        self._ttl = ttl
        self._clock = clock
        self._held: dict[tuple[str, str], tuple[float, dict[str, str] | None]] = {}

    async def get(self, namespace: str, name: str) -> dict[str, str] | None:
        held = self._held.get((namespace, name))
        if held and self._clock() - held[0] < self._ttl:
            return held[1]
        data = await self._read(namespace, name)
        self._held[(namespace, name)] = (self._clock(), data)
        return data

    async def value(self, namespace: str, ref: dict[str, Any]) -> str | None:
        name, key = ref.get("name"), ref.get("key")
        if not name or not key:
            return None
        data = await self.get(namespace, str(name))
        value = (data or {}).get(str(key))
        return value.strip() if value is not None else None


def unauthorized(workspace: str, why: str) -> ApiError:
    return ApiError(401, "Unauthorized", f"{why} for workspace {workspace}")


async def authorize(workspace_obj: dict[str, Any] | None, namespace: str, workspace: str, given: str | None,
                    secrets: Secrets) -> dict[str, Any]:
    """The workspace when `given` is its key; ApiError 401 otherwise (unknown workspaces look the same)."""
    if not given:
        raise unauthorized(workspace, f"missing {HEADER} header")
    if workspace_obj is None:
        raise unauthorized(workspace, "the API key is not valid")
    ref = ((workspace_obj.get("spec") or {}).get("gateway") or {}).get("apiKeySecretRef")
    if not ref:
        raise unauthorized(workspace, "the gateway is not enabled (spec.gateway.apiKeySecretRef is not set)")
    expected = await secrets.value(namespace, ref)
    if not expected or not hmac.compare_digest(expected.encode(), given.strip().encode()):
        raise unauthorized(workspace, "the API key is not valid")
    return workspace_obj
