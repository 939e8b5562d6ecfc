"""Consumers and the relay: counted per consumer and module, traced from the message's traceparent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from opentelemetry import trace
from sqlalchemy import MetaData

from orderly.platform import context
from orderly.platform.events import Message
from orderly.platform.messaging.inprocess import InProcessBus
from orderly.platform.messaging.port import PoisonMessage, Subscription
from orderly.platform.observability import tracing
from orderly.platform.observability.relay import publishing
from orderly.platform.outbox import outbox_table
from tests.support.observability import (
    CALLER_SPAN_ID,
    CALLER_TRACE_ID,
    CALLER_TRACEPARENT,
    capturing_spans,
    sample,
    traceparent_ids,
)

EVENT_TYPE = "test.thing_happened.v1"


def message(**headers: str) -> Message:
    return Message(
        message_id=uuid.uuid4(),
        event_type=EVENT_TYPE,
        aggregate_id="thing-1",
        occurred_at=datetime.now(UTC),
        payload={},
        headers=headers,
    )


class Handler:
    """Fails ``fail_times`` times (or always with ``poison``), then records what it saw."""

    def __init__(self, *, fail_times: int = 0, poison: bool = False) -> None:
        self.fail_times = fail_times
        self.poison = poison
        self.attempts = 0
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, _: Message) -> None:
        self.attempts += 1
        if self.poison:
            raise PoisonMessage("never valid")
        if self.attempts <= self.fail_times:
            raise RuntimeError("database hiccup")
        self.seen.append({"headers": context.headers(), "logged": structlog.contextvars.get_contextvars()})


@pytest.fixture
def consumer() -> str:
    return f"test.consumer.{uuid.uuid4().hex[:8]}"


async def deliver(consumer: str, handler: Handler, msg: Message, *, delivery_limit: int = 3) -> InProcessBus:
    bus = InProcessBus(delivery_limit=delivery_limit, retry_delay_s=0)
    await bus.consume([Subscription(consumer, (EVENT_TYPE,), handler)])
    await bus.publish([msg])
    return bus


def counts(consumer: str) -> dict[str, float]:
    return {
        "processed": sample("orderly_consumer_processed_total", consumer=consumer),
        "failed": sample("orderly_consumer_failed_total", consumer=consumer),
        "dead_lettered": sample("orderly_consumer_dead_lettered_total", consumer=consumer),
        "timed": sample("orderly_consumer_handler_duration_seconds_count", consumer=consumer),
    }


class TestConsumerCounts:
    async def test_a_handled_message_counts_as_processed_and_is_timed(self, consumer: str) -> None:
        await deliver(consumer, Handler(), message())

        assert counts(consumer) == {"processed": 1, "failed": 0, "dead_lettered": 0, "timed": 1}

    async def test_every_failed_attempt_counts_and_a_later_success_still_processes(
        self, consumer: str
    ) -> None:
        await deliver(consumer, Handler(fail_times=2), message())

        assert counts(consumer) == {"processed": 1, "failed": 2, "dead_lettered": 0, "timed": 3}

    async def test_a_message_that_exhausts_its_attempts_is_counted_as_dead_lettered(
        self, consumer: str
    ) -> None:
        bus = await deliver(consumer, Handler(fail_times=99), message(), delivery_limit=3)

        assert len(bus.dead_letters) == 1
        assert counts(consumer) == {"processed": 0, "failed": 3, "dead_lettered": 1, "timed": 3}

    async def test_a_poison_message_is_dead_lettered_after_one_attempt(self, consumer: str) -> None:
        await deliver(consumer, Handler(poison=True), message())

        assert counts(consumer) == {"processed": 0, "failed": 1, "dead_lettered": 1, "timed": 1}


class TestConsumerSpans:
    async def test_consumer_span_is_a_child_of_the_messages_traceparent(self, consumer: str) -> None:
        handler = Handler()
        msg = message(traceparent=CALLER_TRACEPARENT)
        with capturing_spans() as spans:
            await deliver(consumer, handler, msg)

        [span] = spans.all()
        assert span.kind is trace.SpanKind.CONSUMER
        assert span.name == f"process {EVENT_TYPE}"
        assert span.context is not None
        assert span.context.trace_id == CALLER_TRACE_ID
        assert span.parent is not None
        assert span.parent.span_id == CALLER_SPAN_ID
        assert span.attributes is not None
        assert span.attributes["messaging.consumer.group.name"] == consumer
        assert span.attributes["messaging.message.id"] == str(msg.message_id)
        # Events the handler writes continue the trace from this span.
        [seen] = handler.seen
        assert traceparent_ids(seen["headers"]["traceparent"]) == (CALLER_TRACE_ID, span.context.span_id)
        assert seen["logged"]["trace_id"] == f"{CALLER_TRACE_ID:032x}"
        assert seen["logged"]["span_id"] == f"{span.context.span_id:016x}"

    async def test_a_message_without_traceparent_starts_its_own_trace(self, consumer: str) -> None:
        with capturing_spans() as spans:
            tracer = tracing.tracer()
            assert tracer is not None
            # In-process, the relay's batch span is current while consumers run.
            with tracer.start_as_current_span("relay batch"):
                await deliver(consumer, Handler(), message())

        span = spans.named(f"process {EVENT_TYPE}")
        assert span.parent is None

    async def test_each_attempt_is_a_span_and_failed_ones_are_marked(self, consumer: str) -> None:
        with capturing_spans() as spans:
            await deliver(consumer, Handler(fail_times=1), message(traceparent=CALLER_TRACEPARENT))

        first, second = spans.all()
        assert first.status.status_code is trace.StatusCode.ERROR
        assert [event.name for event in first.events] == ["exception"]
        assert second.status.status_code is trace.StatusCode.UNSET
        assert first.context is not None
        assert second.context is not None
        assert first.context.trace_id == second.context.trace_id == CALLER_TRACE_ID

    async def test_the_messages_request_id_follows_into_logs_and_new_messages(self, consumer: str) -> None:
        handler = Handler()
        await deliver(consumer, handler, message(request_id="req-42"))

        [seen] = handler.seen
        assert seen["headers"]["request_id"] == "req-42"
        assert seen["logged"]["request_id"] == "req-42"
        assert context.request_id_var.get() is None
        assert "request_id" not in structlog.contextvars.get_contextvars()

    async def test_traceparent_is_passed_through_while_tracing_is_off(self, consumer: str) -> None:
        handler = Handler()
        await deliver(consumer, handler, message(traceparent=CALLER_TRACEPARENT))

        [seen] = handler.seen
        assert seen["headers"]["traceparent"] == CALLER_TRACEPARENT


def outbox_of(module: str) -> Any:
    return outbox_table(MetaData(schema=module))


class TestRelayBatches:
    async def test_a_published_batch_counts_every_message_for_its_module(self) -> None:
        module = f"m{uuid.uuid4().hex[:8]}"
        with publishing(outbox_of(module), 3, [message(), message()]):
            pass

        assert sample("orderly_outbox_published_total", module=module) == 2
        assert sample("orderly_outbox_publish_duration_seconds_count", module=module) == 1

    async def test_a_batch_the_broker_refused_is_not_counted(self) -> None:
        module = f"m{uuid.uuid4().hex[:8]}"
        with pytest.raises(ConnectionError), publishing(outbox_of(module), 0, [message()]):
            raise ConnectionError("broker gone")

        assert sample("orderly_outbox_published_total", module=module) == 0

    async def test_batch_span_links_to_the_trace_of_each_message_without_adopting_them(self) -> None:
        other = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
        messages = [message(traceparent=CALLER_TRACEPARENT), message(traceparent=other), message()]
        with (
            capturing_spans() as spans,
            pytest.raises(ConnectionError),
            publishing(outbox_of("shop"), 5, messages),
        ):
            raise ConnectionError("broker gone")

        [span] = spans.all()
        assert span.kind is trace.SpanKind.PRODUCER
        assert span.parent is None
        assert span.status.status_code is trace.StatusCode.ERROR
        assert {(link.context.trace_id, link.context.span_id) for link in span.links} == {
            (CALLER_TRACE_ID, CALLER_SPAN_ID),
            (int("1" * 32, 16), int("2" * 16, 16)),
        }
        assert span.attributes is not None
        assert span.attributes["messaging.batch.message_count"] == 3
        assert span.attributes["orderly.outbox.partition"] == 5
