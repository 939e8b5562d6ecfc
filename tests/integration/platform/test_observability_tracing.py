"""One trace from the HTTP request through the outbox to the consumers, in-process and over RabbitMQ."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from opentelemetry import trace
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.entrypoints.api import create_app
from orderly.entrypoints.bootstrap import Container, build_container
from orderly.modules.catalog.module import CatalogModule
from orderly.modules.inventory.module import InventoryModule
from orderly.platform.events import Message
from orderly.platform.messaging.port import Subscription
from orderly.platform.observability import tracing
from orderly.platform.outbox import OutboxRelay
from orderly.platform.settings import Settings
from tests.support.auth import AuthKit, bearer
from tests.support.http import BASE_URL
from tests.support.messaging import CounterBumped, broker_names, commit_events, scratch_schema, wait_until
from tests.support.observability import (
    CALLER_SPAN_ID,
    CALLER_TRACE_ID,
    CALLER_TRACEPARENT,
    SpanCapture,
    capturing_spans,
    traceparent_ids,
)

REGISTER_SKUS = "inventory.register-skus"
# Identity signs the staff token the admin API asks for.
MODULES = ["identity", "catalog", "inventory"]


@pytest.fixture
def spans() -> Iterator[SpanCapture]:
    with capturing_spans() as capture:
        yield capture


@pytest.fixture
async def app(
    settings: Settings, database_url: str, engine: AsyncEngine, spans: SpanCapture
) -> AsyncIterator[tuple[httpx.AsyncClient, Container]]:
    container = build_container(settings, database_url=database_url, module_names=MODULES)
    api = create_app(container, run_background=False)
    async with LifespanManager(api, startup_timeout=30, shutdown_timeout=30) as manager:
        await container.start_consumers()
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        staff = bearer(await AuthKit.from_app(api).staff_token(role="admin"))
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, timeout=30, headers=staff
        ) as http:
            yield http, container


async def outbox_headers(
    engine: AsyncEngine, module: type[CatalogModule] | type[InventoryModule]
) -> list[dict[str, str]]:
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.scalars(select(module.outbox.c.headers))).all()]


class TestTraceThroughTheOutbox:
    async def test_callers_trace_reaches_the_outbox_row_and_the_consumers_span(
        self,
        app: tuple[httpx.AsyncClient, Container],
        engine: AsyncEngine,
        spans: SpanCapture,
    ) -> None:
        http, container = app
        sku = f"MUG-{uuid.uuid4().hex[:6].upper()}"
        response = await http.post(
            "/v1/admin/products",
            json={
                "status": "published",
                "name": f"Mug {sku}",
                "variants": [
                    {"sku": sku, "prices": [{"amount": "9.00", "currency": "EUR"}], "attributes": {}}
                ],
            },
            headers={"traceparent": CALLER_TRACEPARENT},
        )
        assert response.status_code == 201, response.text

        [server] = spans.of_kind(trace.SpanKind.SERVER)
        assert server.context is not None
        assert server.parent is not None
        assert (server.context.trace_id, server.parent.span_id) == (CALLER_TRACE_ID, CALLER_SPAN_ID)
        [written] = await outbox_headers(engine, CatalogModule)
        assert traceparent_ids(written["traceparent"]) == (CALLER_TRACE_ID, server.context.span_id)
        assert written["request_id"] == response.headers["x-request-id"]

        await container.relay().drain()

        registered = [
            span
            for span in spans.of_kind(trace.SpanKind.CONSUMER)
            if span.attributes is not None
            and span.attributes["messaging.consumer.group.name"] == REGISTER_SKUS
        ]
        assert registered, [span.name for span in spans.all()]
        [consumer] = registered
        assert consumer.context is not None
        assert consumer.parent is not None
        assert consumer.context.trace_id == CALLER_TRACE_ID
        assert consumer.parent.span_id == server.context.span_id
        # What the consumer wrote goes on in the same trace, from the consumer's span,
        # and still names the request that started it all.
        [reaction] = await outbox_headers(engine, InventoryModule)
        assert traceparent_ids(reaction["traceparent"]) == (CALLER_TRACE_ID, consumer.context.span_id)
        assert reaction["request_id"] == response.headers["x-request-id"]
        # The relay's batch has a trace of its own, linked to the events it carried.
        batches = spans.of_kind(trace.SpanKind.PRODUCER)
        assert any(
            (link.context.trace_id, link.context.span_id) == (CALLER_TRACE_ID, server.context.span_id)
            for batch in batches
            for link in batch.links
        )
        assert all(
            batch.context is not None and batch.context.trace_id != CALLER_TRACE_ID for batch in batches
        )


class TestTraceOverRabbitMQ:
    async def test_consumer_in_another_process_continues_the_trace_of_the_commit(
        self, engine: AsyncEngine, broker_url: str, unique_prefix: str, spans: SpanCapture
    ) -> None:
        consumer = "test.traced"
        handled: list[Message] = []

        async def handle(message: Message) -> None:
            handled.append(message)

        tracer = tracing.tracer()
        assert tracer is not None
        async with (
            broker_names(broker_url, unique_prefix, [consumer]) as names,
            scratch_schema(engine, aggregate_ids=["agg-1"]) as tables,
        ):
            publisher, worker = names.bus(broker_url), names.bus(broker_url)
            await publisher.start()
            await worker.start()
            try:
                await worker.consume([Subscription(consumer, (CounterBumped.event_type,), handle)])
                with tracer.start_as_current_span("place order") as request_span:
                    await commit_events(engine, tables, ["agg-1"])
                relay = OutboxRelay(engine, publisher, [tables.outbox], batch_size=10, poll_interval_s=0.02)
                assert await relay.drain() == 1

                async def consumed() -> bool:
                    return any(span.kind is trace.SpanKind.CONSUMER for span in spans.all())

                await wait_until(consumed, timeout_s=10, what="the consumer's span")
            finally:
                await worker.close()
                await publisher.close()

        [message] = handled
        assert traceparent_ids(message.headers["traceparent"]) == (
            request_span.get_span_context().trace_id,
            request_span.get_span_context().span_id,
        )
        [span] = spans.of_kind(trace.SpanKind.CONSUMER)
        assert span.context is not None
        assert span.parent is not None
        assert span.context.trace_id == request_span.get_span_context().trace_id
        assert span.parent.span_id == request_span.get_span_context().span_id
        assert span.attributes is not None
        assert span.attributes["messaging.system"] == "rabbitmq"
