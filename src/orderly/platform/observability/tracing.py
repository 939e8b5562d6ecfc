"""OpenTelemetry tracing: off (and free) unless an OTLP endpoint is configured.

Orderly sets up no SDK and imports no exporter until tracing is switched
on (other libraries, redis-py for one, may import the SDK for themselves).
While it is off,
``tracer()`` is None and the instrumented code takes a path that starts no
span at all (not even a non-recording one). An incoming W3C ``traceparent``
is still passed through to the messages a request writes, so a trace begun
upstream carries on in the consumers of a process that does trace.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import Token
from typing import TYPE_CHECKING, Any

import structlog
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from structlog.contextvars import bind_contextvars, reset_contextvars

from orderly import __version__
from orderly.platform.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

log = structlog.get_logger(module="platform.observability")

_INSTRUMENTATION_NAME = "orderly"
_tracer: trace.Tracer | None = None
# What messages carry (see platform.context.headers); HTTP requests are read
# with the globally configured propagators instead.
_trace_context = TraceContextTextMapPropagator()


def tracer() -> trace.Tracer | None:
    """The tracer spans are started with, None while tracing is off."""
    return _tracer


def use_tracer_provider(provider: trace.TracerProvider | None) -> None:
    """Trace through ``provider`` from now on (None switches tracing off).

    Kept apart from OpenTelemetry's global provider, which can be set only
    once per process, so tests can swap in an in-memory exporter.
    """
    global _tracer
    _tracer = None if provider is None else provider.get_tracer(_INSTRUMENTATION_NAME, __version__)


def otlp_traces_endpoint(settings: Settings, environ: Mapping[str, str] = os.environ) -> str | None:
    """The OTLP/HTTP traces URL, or None when no endpoint is configured.

    ``ORDERLY_OTEL_EXPORTER_OTLP_ENDPOINT`` wins over the standard
    ``OTEL_EXPORTER_OTLP_ENDPOINT``; both are base URLs, to which the traces
    path is added as the OTLP specification says. The standard
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is a full URL, used as it is.
    """
    base = settings.otel_exporter_otlp_endpoint or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if base:
        return base if base.rstrip("/").endswith("/v1/traces") else base.rstrip("/") + "/v1/traces"
    return environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or None


def configure_tracing(settings: Settings, *, role: str) -> bool:
    """Trace this process if an OTLP endpoint is configured; return whether it does.

    The provider also becomes OpenTelemetry's global one, so any library
    instrumented with the API reports into the same traces.
    """
    provider = build_tracer_provider(settings, role=role)
    if provider is None:
        return False
    trace.set_tracer_provider(provider)
    use_tracer_provider(provider)
    log.info("tracing on", endpoint=otlp_traces_endpoint(settings), role=role)
    return True


def build_tracer_provider(settings: Settings, *, role: str) -> SdkTracerProvider | None:
    """An SDK tracer provider batching spans to the OTLP/HTTP endpoint, None without one.

    ``role`` (api, relay, worker) becomes a resource attribute, so one
    service name covers every deployable while traces still tell them apart.
    """
    endpoint = otlp_traces_endpoint(settings)
    if endpoint is None:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    # What is set here are defaults: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES,
    # the standard way to name things per deployment, win over them.
    resource = Resource.create(
        {
            "service.name": settings.otel_service_name,
            "service.version": __version__,
            "deployment.environment.name": settings.env,
            "orderly.role": role,
        }
    ).merge(OTELResourceDetector().detect())
    sampler = (
        ParentBased(TraceIdRatioBased(settings.otel_sample_ratio))
        if settings.otel_sample_ratio is not None
        else None  # the SDK's default, or OTEL_TRACES_SAMPLER when set
    )
    provider = TracerProvider(resource=resource, sampler=sampler)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def parent_context(headers: Mapping[str, str]) -> Context | None:
    """The trace context a message or request carries, None if it carries none."""
    if "traceparent" not in headers:
        return None
    return _trace_context.extract(headers)


def log_fields(span_context: trace.SpanContext) -> dict[str, str]:
    """``trace_id`` and ``span_id`` as log fields (hex, as trace backends show them)."""
    return {
        "trace_id": format(span_context.trace_id, "032x"),
        "span_id": format(span_context.span_id, "016x"),
    }


def bind_to_logs(ctx: Context | None) -> Mapping[str, Token[Any]]:
    """Put the trace and span ids of ``ctx`` on every log line until the tokens are reset."""
    span_context = trace.get_current_span(ctx).get_span_context()
    if not span_context.is_valid:
        return {}
    return bind_contextvars(**log_fields(span_context))


def unbind_from_logs(tokens: Mapping[str, Token[Any]]) -> None:
    if tokens:
        reset_contextvars(**tokens)
