"""W3C trace context from an SDK call to the solver: OpenTelemetry spans, exported over OTLP/HTTP, off unless an
endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, the SDK's own
variables; the chart's `tracing.otlpEndpoint`).

- kuantum-gateway starts a span per request, continuing the caller's `traceparent` header when it sends one, and
  stores the span's context on the QuantumJob it creates (annotation `kuantum.dev/traceparent`).
- The operator continues that context in a span per reconcile of the job that did something (wrote the job, started
  what runs it, called a provider: `span_if_used`; a job made with kubectl gets the context of its first reconcile,
  in the same metadata write that accepts it) and per request to a remote provider (which gets a `traceparent`
  header too). Reconciles that find nothing to do (most: the echo of the operator's own writes, a pod's progress)
  make no span: they would be most of a trace and most of tracing's cost.
- The solver pod gets the reconcile's context in `TRACEPARENT` (the pod contract) and reports its phases.

Disabled, `span` is a null context and nothing of the SDK is imported.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
import random
import time
from collections.abc import Iterator, Mapping
from typing import Any

from ..models.common import API_GROUP

log = logging.getLogger("kuantum.tracing")
ANNOTATION = f"{API_GROUP}/traceparent"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
EXPORT_TIMEOUT_SECONDS = 5.0
_state: dict[str, Any] = {}
# The ids the next span made in this task takes (span_if_used: a span recorded after its children were made).
_preset_ids: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar("kuantum_preset_ids",
                                                                                     default=None)
# The span_if_used block this task is in: a child span or a traceparent read inside it marks it used.
_open_draft: contextvars.ContextVar[SpanDraft | None] = contextvars.ContextVar("kuantum_open_draft", default=None)


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
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
    from opentelemetry.trace import set_tracer_provider

    class PresetIds(RandomIdGenerator):
        """Random ids, except for a span that span_if_used records: it takes the ids its children already name."""

        def generate_span_id(self) -> int:
            preset = _preset_ids.get()
            return preset[1] if preset else super().generate_span_id()

        def generate_trace_id(self) -> int:
            preset = _preset_ids.get()
            return preset[0] if preset else super().generate_trace_id()

    name = (environ or os.environ).get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}), id_generator=PresetIds())
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
    return _parsed(traceparent) if traceparent else None


@functools.lru_cache(maxsize=4096)
def _parsed(traceparent: str) -> Any:
    """A job's every reconcile continues the same context: parsed once (contexts are immutable)."""
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

    mark_used()
    with tracer.start_as_current_span(name, context=_parent(parent), kind=getattr(SpanKind, kind),
                                      attributes={k: v for k, v in (attributes or {}).items() if v is not None}
                                      ) as current:
        yield current


def traceparent() -> str | None:
    """The current span's context as a W3C traceparent header value (None while tracing is off or outside a span)."""
    if _state.get("tracer") is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    mark_used()  # the context goes somewhere (a pod, an annotation): its span must exist
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")


def mark_used() -> None:
    if (draft := _open_draft.get()) is not None:
        draft.used = True


# Inside `routine_writes()`, an API write does not make the reconcile it is in worth a span: a queued job's place
# moving is several writes per job that no reader of a trace follows, and a span each cost the operator 1.14x its
# CPU per job at 1,000 jobs.
_routine_writes: contextvars.ContextVar[bool] = contextvars.ContextVar("kuantum_routine_writes", default=False)


@contextlib.contextmanager
def routine_writes() -> Iterator[None]:
    token = _routine_writes.set(True)
    try:
        yield
    finally:
        _routine_writes.reset(token)


def mark_written() -> None:
    """An API write: the reconcile it is in is worth its span, unless the write is routine."""
    if not _routine_writes.get():
        mark_used()


class SpanDraft:
    """A span decided at its end: recorded when something inside used its context or `keep` was called."""

    def __init__(self, name: str, parent: str | None, attributes: Mapping[str, Any] | None) -> None:
        from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, get_current_span

        self.name, self.used = name, False
        self.parent = _parent(parent)
        self.attributes = {k: v for k, v in (attributes or {}).items() if v is not None}
        self.error: str | None = None
        self.start_ns = time.time_ns()
        parent_context = get_current_span(self.parent).get_span_context()
        trace_id = parent_context.trace_id if parent_context.is_valid else random.getrandbits(128)
        self.ids = (trace_id, random.getrandbits(64))
        # What children see as their parent while the block runs: this span's ids, nothing recorded yet.
        self.placeholder = NonRecordingSpan(SpanContext(
            trace_id, self.ids[1], is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)))

    def keep(self) -> None:
        self.used = True

    def set_attributes(self, **attributes: Any) -> None:
        self.attributes.update({k: v for k, v in attributes.items() if v is not None})

    def failed(self, description: str) -> None:
        self.error = description
        self.used = True

    def record(self, tracer: Any) -> None:
        from opentelemetry.trace import Status, StatusCode

        token = _preset_ids.set(self.ids)
        try:
            recorded = tracer.start_span(self.name, context=self.parent, attributes=self.attributes,
                                         start_time=self.start_ns)
        finally:
            _preset_ids.reset(token)
        if self.error is not None:
            recorded.set_status(Status(StatusCode.ERROR, self.error))
        recorded.end()


@contextlib.contextmanager
def span_if_used(name: str, parent: str | None = None,
                 attributes: Mapping[str, Any] | None = None) -> Iterator[SpanDraft | None]:
    """Like `span`, but recorded only if a child span or `traceparent()` used its context inside the block, or the
    block called `keep()` (or `failed()`) on it; otherwise it costs a few microseconds and leaves nothing.
    Yields None while tracing is off."""
    tracer = _state.get("tracer")
    if tracer is None:
        yield None
        return
    from opentelemetry.trace import use_span

    draft = SpanDraft(name, parent, attributes)
    token = _open_draft.set(draft)
    try:
        with use_span(draft.placeholder, end_on_exit=False, record_exception=False,
                            set_status_on_exception=False):
            yield draft
    except Exception as e:
        draft.failed(f"{type(e).__name__}: {e}"[:300])
        raise
    finally:
        _open_draft.reset(token)
        if draft.used:
            draft.record(tracer)


def set_attributes(current: Any, **attributes: Any) -> None:
    if current is not None:
        current.set_attributes({k: v for k, v in attributes.items() if v is not None})


def failed(current: Any, description: str) -> None:
    """Marks the span's status as an error (a job's failure, an HTTP 5xx)."""
    if current is None:
        return
    from opentelemetry.trace import Status, StatusCode

    current.set_status(Status(StatusCode.ERROR, description))
