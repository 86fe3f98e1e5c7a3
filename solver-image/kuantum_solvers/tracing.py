"""The solver's spans (the pod contract's tracing environment, formats/contract.py): with `TRACEPARENT` and
`OTEL_EXPORTER_OTLP_ENDPOINT` set, `kuantum-solve` reports a span of the job's trace with its phases (download,
solve, upload) under it; without them it imports nothing of OpenTelemetry (`pip install 'kuantum-solvers[tracing]'`
brings it; the solver image has it), so a solver's start costs nothing more.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from kuantum_solvers.formats import contract

EXPORT_TIMEOUT_SECONDS = 5.0
# A solver is a short-lived process with four spans: they go in one request, at exit (shutdown flushes). The batch
# processor's usual 5-s timer exported the first phases mid-solve instead, competing with the solve for the CPU; on
# a loaded node that export timed out and the job's trace lost its download and solve spans.
EXPORT_AT_EXIT_MILLIS = 24 * 3600 * 1000
_state: dict[str, Any] = {}


def start() -> bool:
    """Sets up export when the environment asks for it; False (and nothing imported) otherwise. A solver installed
    without the `tracing` extra says so on stderr and runs untraced."""
    traceparent, endpoint = os.environ.get(contract.TRACEPARENT_ENV), os.environ.get(contract.OTLP_ENDPOINT_ENV)
    if not traceparent or not endpoint:
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ModuleNotFoundError as e:
        print(f"kuantum-solve: not tracing ({e}; pip install 'kuantum-solvers[tracing]')", file=sys.stderr)
        return False
    name = os.environ.get(contract.SERVICE_NAME_ENV) or contract.SOLVER_SERVICE
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(timeout=EXPORT_TIMEOUT_SECONDS),
                                                   schedule_delay_millis=EXPORT_AT_EXIT_MILLIS))
    _state.update(provider=provider, tracer=provider.get_tracer("kuantum_solvers"),
                  parent=TraceContextTextMapPropagator().extract({"traceparent": traceparent}))
    return True


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A span (a child of the current one; the first, of the job's trace), or a null context while not tracing.
    An exception marks it failed (its code, for a SolverError) and goes on."""
    tracer = _state.get("tracer")
    if tracer is None:
        yield None
        return
    parent = _state.pop("parent", None)  # only the outermost span continues the operator's context
    with tracer.start_as_current_span(name, context=parent, attributes=attributes, record_exception=True) as current:
        try:
            yield current
        except BaseException as e:
            from opentelemetry.trace import Status, StatusCode

            current.set_status(Status(StatusCode.ERROR, f"{getattr(e, 'code', type(e).__name__)}: {e}"[:300]))
            raise


def shutdown() -> None:
    """Exports the spans (bounded by the exporter's timeout) before the process exits."""
    provider = _state.pop("provider", None)
    _state.clear()
    if provider is not None:
        provider.shutdown()
