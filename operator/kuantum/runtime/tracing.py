"""W3C trace context from an SDK call to the solver: OpenTelemetry spans, exported over OTLP/HTTP, off unless an
endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, the SDK's own
variables; the chart's `tracing.otlpEndpoint`).

- kuantum-gateway starts a span per request, continuing the caller's `traceparent` header when it sends one, and
  stores the span's context on the QuantumJob it creates (annotation `kuantum.dev/traceparent`).
- The operator continues that context in a span per reconcile of the job (a job made with kubectl gets the context
  of its first reconcile, in the same metadata write that accepts it) and per request to a remote provider (which
  gets a `traceparent` header too).
- The solver pod gets the reconcile's context in `TRACEPARENT` (the pod contract) and reports its phases.

Disabled, `span` is a null context and nothing of the SDK is imported.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

from ..models.common import API_GROUP

log = logging.getLogger("kuantum.tracing")
ANNOTATION = f"{API_GROUP}/traceparent"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
EXPORT_TIMEOUT_SECONDS = 5.0
_state: dict[str, Any] = {}


def endpoint(environ: Mapping[str, str] | None = None) -> str | None:
    environ = os.environ if environ is None else environ
    return next((environ[v] for v in ENDPOINT_VARIABLES if environ.get(v)), None)


def traces_url(environ: Mapping[str, str] | None = None) -> str | None:
    """Where spans are POSTed: the traces endpoint as given, else the endpoint's /v1/traces (the OTLP spec's rule)."""
    environ = os.environ if environ is None else environ
    if environ.get(ENDPOINT_VARIABLES[0]):
        return environ[ENDPOINT_VARIABLES[0]]
    base = environ.get(ENDPOINT_VARIABLES[1])
    return f"{base.rstrip('/')}/v1/traces" if base else None


def configure(service: str, environ: Mapping[str, str] | None = None) -> bool:
    """Sets up export to the configured OTLP endpoint (a batch processor: spans leave off the event loop); False,
    and nothing imported, when none is configured."""
    if _state.get("provider") is not None:
        return True
    if not endpoint(environ):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import set_tracer_provider

    name = (environ or os.environ).get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    exporter = OTLPSpanExporter(endpoint=traces_url(environ), timeout=EXPORT_TIMEOUT_SECONDS)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    set_tracer_provider(provider)
    _state.update(provider=provider, tracer=provider.get_tracer("kuantum"))
    log.info("tracing: spans of %s go to %s", name, endpoint(environ))
    return True


def enabled() -> bool:
    return _state.get("tracer") is not None


def shutdown() -> None:
    """Exports what is left (bounded by the exporter's timeout)."""
    provider = _state.pop("provider", None)
    _state.pop("tracer", None)
    if provider is not None:
        provider.shutdown()


def _parent(traceparent: str | None) -> Any:
    if not traceparent:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": traceparent})


@contextlib.contextmanager
def span(name: str, parent: str | None = None, kind: str = "INTERNAL",
         attributes: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """A span, current inside the block: a child of `parent` (a traceparent) when given, else of the current span.
    Yields the span (None while tracing is off). An exception marks it failed and goes on."""
    tracer = _state.get("tracer")
    if tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    with tracer.start_as_current_span(name, context=_parent(parent), kind=getattr(SpanKind, kind),
                                      attributes={k: v for k, v in (attributes or {}).items() if v is not None}
                                      ) as current:
        yield current


def traceparent() -> str | None:
    """The current span's context as a W3C traceparent header value (None while tracing is off or outside a span)."""
    if _state.get("tracer") is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")


def set_attributes(current: Any, **attributes: Any) -> None:
    if current is not None:
        current.set_attributes({k: v for k, v in attributes.items() if v is not None})


def failed(current: Any, description: str) -> None:
    """Marks the span's status as an error (a job's failure, an HTTP 5xx)."""
    if current is None:
        return
    from opentelemetry.trace import Status, StatusCode

    current.set_status(Status(StatusCode.ERROR, description))
