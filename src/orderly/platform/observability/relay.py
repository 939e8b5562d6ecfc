"""Relay side: a span and counts per published batch, and the backlog gauges."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import structlog
from opentelemetry import trace
from sqlalchemy import Table, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.events import Message
from orderly.platform.observability import tracing
from orderly.platform.observability.metrics import (
    OUTBOX_OLDEST_UNPUBLISHED_AGE,
    OUTBOX_PUBLISH_DURATION,
    OUTBOX_PUBLISHED,
    OUTBOX_UNPUBLISHED,
)

log = structlog.get_logger(module="platform.observability")

# The SDK keeps at most 128 links per span by default; past that they would
# be dropped anyway, so they are not even extracted.
_MAX_LINKS = 128


def module_of(outbox: Table) -> str:
    """The module an outbox belongs to: its schema (each module owns one)."""
    return outbox.schema or outbox.name


@contextmanager
def publishing(outbox: Table, partition: int, messages: Sequence[Message]) -> Iterator[None]:
    """Wrap one batch's publish: counted and timed once the broker confirmed it.

    While tracing is on the batch gets a producer span of its own, linked to
    the trace of every message in it (each message keeps its own trace; the
    batch is not their parent, since it is not what caused them).
    """
    module = module_of(outbox)
    started = time.perf_counter()
    tracer = tracing.tracer()
    if tracer is None:
        yield
    else:
        links = []
        for message in messages[:_MAX_LINKS]:
            parent = tracing.parent_context(message.headers)
            if parent is not None:
                span_context = trace.get_current_span(parent).get_span_context()
                if span_context.is_valid:
                    links.append(trace.Link(span_context))
        with tracer.start_as_current_span(
            f"publish {module}",
            kind=trace.SpanKind.PRODUCER,
            links=links,
            attributes={
                "messaging.operation.type": "send",
                "messaging.batch.message_count": len(messages),
                "orderly.outbox": outbox.fullname,
                "orderly.outbox.partition": partition,
            },
        ) as span:
            log_tokens = tracing.bind_to_logs(trace.set_span_in_context(span))
            try:
                yield
            finally:
                tracing.unbind_from_logs(log_tokens)
    OUTBOX_PUBLISHED.labels(module).inc(len(messages))
    OUTBOX_PUBLISH_DURATION.labels(module).observe(time.perf_counter() - started)


class OutboxBacklog:
    """Samples how many outbox rows wait, and for how long, per module.

    One ``count(*)``/``min(occurred_at)`` per outbox over the partial index
    of unpublished rows, all in one round trip, at most once per
    ``interval_s``: cheap while the relay keeps up, and bounded when it
    does not. Every relay replica samples the same rows, so aggregate the
    gauges with ``max``, not ``sum``.
    """

    def __init__(self, engine: AsyncEngine, outboxes: Sequence[Table], *, interval_s: float = 5.0) -> None:
        self._engine = engine
        self._outboxes = list(outboxes)
        self._interval_s = interval_s
        self._next_at = 0.0

    async def maybe_sample(self) -> None:
        """Sample if the last sample is older than the interval; never raises."""
        now = time.monotonic()
        if now < self._next_at or not self._outboxes:
            return
        self._next_at = now + self._interval_s
        try:
            await self.sample()
        except Exception:
            log.warning("outbox backlog sample failed", exc_info=True)

    async def sample(self) -> None:
        query = union_all(
            *(
                select(
                    literal(module_of(outbox)).label("module"),
                    func.count().label("unpublished"),
                    func.coalesce(
                        func.extract("epoch", func.now() - func.min(outbox.c.occurred_at)), 0
                    ).label("oldest_age_s"),
                ).where(outbox.c.published_at.is_(None))
                for outbox in self._outboxes
            )
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        for row in rows:
            OUTBOX_UNPUBLISHED.labels(row.module).set(row.unpublished)
            OUTBOX_OLDEST_UNPUBLISHED_AGE.labels(row.module).set(max(0.0, float(row.oldest_age_s)))
