"""The gateway's part of a job's trace (runtime/tracing.py): a span per request, continuing the caller's
`traceparent`, and that span's context on every QuantumJob the request creates (annotation kuantum.dev/traceparent),
where the operator continues it. Off unless an OTLP endpoint is configured."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..runtime import tracing
from .cache import JOBS
from .metrics import route_of
from .routes import Writer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def middleware() -> Middleware:
    """Outermost: the span covers the whole answer and sees the status code the error handling chose."""

    @web.middleware
    async def traced(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not tracing.enabled():
            return await handler(request)
        route = route_of(request)
        with tracing.span(f"{request.method} {route}", parent=request.headers.get("traceparent"), kind="SERVER",
                          attributes={"http.request.method": request.method, "http.route": route}) as span:
            response = await handler(request)
            tracing.set_attributes(span, **{"http.response.status_code": response.status})
            if response.status >= 500:
                tracing.failed(span, f"HTTP {response.status}")
            return response
    return traced


class TracedWriter:
    """The gateway's writes, with the current span's context on each QuantumJob created."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    async def create(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        context = tracing.traceparent()
        if plural == JOBS and context is not None:
            body = copy.deepcopy(body)
            body.setdefault("metadata", {}).setdefault("annotations", {})[tracing.ANNOTATION] = context
        return await self._writer.create(plural, namespace, body)

    async def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._writer.get(plural, namespace, name)

    async def merge_patch(self, plural: str, namespace: str, name: str, patch: dict[str, Any]
                          ) -> dict[str, Any] | None:
        return await self._writer.merge_patch(plural, namespace, name, patch)

    async def delete(self, plural: str, namespace: str, name: str) -> bool:
        return await self._writer.delete(plural, namespace, name)
