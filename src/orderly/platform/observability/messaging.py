"""Consumer side: a span, timings and counts around each handler attempt.

The bus adapters call ``handle_observed`` instead of the handler itself. The
consumer span is a child of the trace context the message carries (the
``traceparent`` stamped by ``platform.context.headers()`` when its outbox row
was written), so a trace runs from the HTTP request through the relay to
every consumer, across processes. The message's request id is restored too:
log lines and the events the handler writes carry the original request's id.
"""

from __future__ import annotations

from time import perf_counter

from opentelemetry import context as otel_context
from opentelemetry import trace
from prometheus_client import Counter, Histogram
from structlog.contextvars import bind_contextvars

from orderly.platform import context
from orderly.platform.events import Message
from orderly.platform.messaging.port import Subscription
from orderly.platform.observability import tracing
from orderly.platform.observability.metrics import (
    CONSUMER_DEAD_LETTERED,
    CONSUMER_FAILED,
    CONSUMER_HANDLER_DURATION,
    CONSUMER_PROCESSED,
    INBOX_DUPLICATES,
)

# Consumer names come from code, so this stays as small as the set of consumers.
_series: dict[str, tuple[Counter, Counter, Histogram]] = {}


def _consumer_series(consumer: str) -> tuple[Counter, Counter, Histogram]:
    series = _series.get(consumer)
    if series is None:
        series = _series[consumer] = (
            CONSUMER_PROCESSED.labels(consumer),
            CONSUMER_FAILED.labels(consumer),
            CONSUMER_HANDLER_DURATION.labels(consumer),
        )
    return series


async def handle_observed(subscription: Subscription, message: Message, *, system: str) -> None:
    """Run ``subscription.handler`` on ``message`` as one observed attempt.

    ``system`` names the broker for the span (``rabbitmq``, ``inprocess``).
    Exceptions propagate unchanged: retrying and dead-lettering stay the
    adapter's business.
    """
    processed, failed, duration = _consumer_series(subscription.consumer)
    parent = tracing.parent_context(message.headers)
    tracer = tracing.tracer()
    span: trace.Span | None = None
    ctx = parent
    if tracer is not None:
        # Always the message's context (an empty one when it carries none),
        # never whatever span happens to be current: in-process that would be
        # the relay's batch, which is not what caused the message.
        span = tracer.start_span(
            f"process {message.event_type}",
            context=parent or otel_context.Context(),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": system,
                "messaging.operation.type": "process",
                "messaging.destination.name": message.event_type,
                "messaging.consumer.group.name": subscription.consumer,
                "messaging.message.id": str(message.message_id),
            },
        )
        ctx = trace.set_span_in_context(span, parent)
    attached = otel_context.attach(ctx) if ctx is not None else None
    log_tokens = tracing.bind_to_logs(ctx)
    incoming_request_id = message.headers.get("request_id")
    request_id = context.request_id_var.set(incoming_request_id)
    if incoming_request_id is not None:
        log_tokens = {**log_tokens, **bind_contextvars(request_id=incoming_request_id)}
    started = perf_counter()
    try:
        await subscription.handler(message)
    except Exception as exc:
        failed.inc()
        if span is not None:
            span.record_exception(exc)
            span.set_status(trace.StatusCode.ERROR, type(exc).__name__)
        raise
    else:
        processed.inc()
    finally:
        duration.observe(perf_counter() - started)
        context.request_id_var.reset(request_id)
        tracing.unbind_from_logs(log_tokens)
        if span is not None:
            span.end()
        if attached is not None:
            otel_context.detach(attached)


def record_dead_letter(consumer: str) -> None:
    CONSUMER_DEAD_LETTERED.labels(consumer).inc()


def record_duplicate(consumer: str) -> None:
    INBOX_DUPLICATES.labels(consumer).inc()
