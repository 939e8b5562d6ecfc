"""Request-scoped context (request id, trace parent) carried into logs and messages."""

from __future__ import annotations

from contextvars import ContextVar

from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
causation_var: ContextVar[str | None] = ContextVar("causation_id", default=None)

# Messages carry W3C trace context only: baggage is whatever a client chose
# to send, and has no business riding along in every outbox row.
_trace_context = TraceContextTextMapPropagator()


def headers() -> dict[str, str]:
    """Headers stamped on every outgoing message so a flow can be followed end to end."""
    result: dict[str, str] = {}
    if (request_id := request_id_var.get()) is not None:
        result["request_id"] = request_id
    if (causation := causation_var.get()) is not None:
        result["causation_id"] = causation
    # W3C traceparent/tracestate of the current span (or of the caller's, passed
    # through while tracing is off): the consumer's span continues this trace.
    _trace_context.inject(result)
    return result
