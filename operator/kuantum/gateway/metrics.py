"""The gateway's Prometheus metrics: its own registry (with the process' CPU and memory), served on a port of its
own (`--metrics-listen`), never on the API's, which may face the internet.

Requests are counted by route template (e.g. `.../workspaces/{ws}/jobs/{id}`), never by path: a path holds job
ids. Requests no route matched count as route `unmatched`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from .. import __version__

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)
BUILD = Info("kuantum_gateway_build", "The running gateway's version.", registry=REGISTRY)
BUILD.info({"version": __version__})
REQUESTS = Counter("kuantum_gateway_requests_total", "Requests answered, by route template, method and status code.",
                   ["route", "method", "code"], registry=REGISTRY)
REQUEST_SECONDS = Histogram("kuantum_gateway_request_duration_seconds", "Time to answer one request.",
                            ["route", "method"], registry=REGISTRY,
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
IN_FLIGHT = Gauge("kuantum_gateway_requests_in_flight", "Requests being answered now.", registry=REGISTRY)
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route_of(request: web.Request) -> str:
    """The matched route's template (bounded), else `unmatched`."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def _method(method: str) -> str:
    return method if method in METHODS else "other"


def init(app: web.Application) -> None:
    """Every route's series at zero: a rate or an error ratio reads from the first request on."""
    for route in app.router.routes():
        if route.resource is None or route.method == "HEAD":
            continue
        REQUESTS.labels(route.resource.canonical, route.method, "200")
        REQUESTS.labels(route.resource.canonical, route.method, "500")
        REQUEST_SECONDS.labels(route.resource.canonical, route.method)


def middleware() -> Middleware:
    """Counts and times every request (outermost: it sees the status the error handling chose)."""

    @web.middleware
    async def metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.monotonic()
        IN_FLIGHT.inc()
        code = 500
        try:
            response = await handler(request)
            code = response.status
            return response
        except web.HTTPException as e:
            code = e.status
            raise
        finally:
            IN_FLIGHT.dec()
            route, method = route_of(request), _method(request.method)
            REQUESTS.labels(route, method, str(code)).inc()
            REQUEST_SECONDS.labels(route, method).observe(time.monotonic() - started)
    return metrics


async def _serve(request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest(REGISTRY))
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


def metrics_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/metrics", _serve)
    return app
