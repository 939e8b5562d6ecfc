"""The app's /metrics on the real PostgreSQL: requests, outbox and consumers move as the system works."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.entrypoints.api import create_app
from orderly.entrypoints.bootstrap import Container, build_container
from orderly.modules.catalog.module import CatalogModule
from orderly.platform.events import Message
from orderly.platform.messaging.inprocess import InProcessBus
from orderly.platform.observability.exposition import start_metrics_server
from orderly.platform.observability.relay import OutboxBacklog
from orderly.platform.outbox import OutboxRelay
from orderly.platform.settings import Settings
from tests.support.auth import AuthKit, bearer
from tests.support.http import BASE_URL
from tests.support.messaging import commit_events, scratch_schema, wait_until
from tests.support.observability import sample, scraped, value

CREATE_ROUTE = "/v1/admin/products"
REGISTER_SKUS = "inventory.register-skus"
# Identity signs the staff token the admin API asks for.
MODULES = ["identity", "catalog", "inventory"]


@dataclass
class App:
    http: httpx.AsyncClient
    container: Container
    relay: OutboxRelay

    async def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        response = await self.http.get("/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return scraped(response.text)

    async def create_product(self, sku: str) -> dict[str, Any]:
        body = {
            "status": "published",
            "name": f"Mug {sku}",
            "variants": [{"sku": sku, "prices": [{"amount": "12.50", "currency": "EUR"}], "attributes": {}}],
        }
        response = await self.http.post(CREATE_ROUTE, json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


async def running_app(settings: Settings, database_url: str) -> AsyncIterator[App]:
    # The relay is driven by the test (drain) rather than by the lifespan, so
    # every count below is the effect of the steps the test takes.
    container = build_container(settings, database_url=database_url, module_names=MODULES)
    app = create_app(container, run_background=False)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        await container.start_consumers()
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        staff = bearer(await AuthKit.from_app(app).staff_token(role="admin"))
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, timeout=30, headers=staff
        ) as http:
            yield App(http=http, container=container, relay=container.relay())


@pytest.fixture
async def app(settings: Settings, database_url: str, engine: AsyncEngine) -> AsyncIterator[App]:
    async for running in running_app(settings, database_url):
        yield running


class TestScrapingTheApi:
    async def test_creating_a_product_moves_the_request_outbox_and_consumer_series(self, app: App) -> None:
        before = await app.metrics()

        await app.create_product(f"MUG-{uuid.uuid4().hex[:6].upper()}")
        await app.relay.backlog.sample()
        waiting = await app.metrics()
        assert await app.relay.drain() >= 2
        await app.relay.backlog.sample()
        after = await app.metrics()

        def moved(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert (
            moved("orderly_http_requests_total", method="POST", route=CREATE_ROUTE, status_class="2xx") == 1
        )
        assert (
            moved(
                "orderly_http_request_duration_seconds_count",
                method="POST",
                route=CREATE_ROUTE,
                status_class="2xx",
            )
            == 1
        )
        # ProductCreated from the catalog; the inventory's reaction to it from the inventory.
        assert moved("orderly_outbox_published_total", module="catalog") >= 1
        assert moved("orderly_outbox_published_total", module="inventory") >= 1
        assert moved("orderly_consumer_processed_total", consumer=REGISTER_SKUS) == 1
        assert moved("orderly_consumer_handler_duration_seconds_count", consumer=REGISTER_SKUS) == 1
        assert moved("orderly_consumer_failed_total", consumer=REGISTER_SKUS) == 0
        # The backlog gauges, sampled with the product's event waiting, then after the drain.
        assert value(waiting, "orderly_outbox_unpublished", module="catalog") == 1
        assert value(waiting, "orderly_outbox_oldest_unpublished_age_seconds", module="catalog") >= 0
        assert value(after, "orderly_outbox_unpublished", module="catalog") == 0
        assert value(after, "orderly_outbox_unpublished", module="inventory") == 0
        assert value(after, "orderly_outbox_oldest_unpublished_age_seconds", module="catalog") == 0
        assert value(after, "orderly_db_pool_size", pool="primary") == app.container.settings.db_pool_size

    async def test_the_scrape_counts_itself_under_its_route(self, app: App) -> None:
        first = await app.metrics()
        second = await app.metrics()

        series = (
            "orderly_http_requests_total",
            {"method": "GET", "route": "/metrics", "status_class": "2xx"},
        )
        assert value(second, series[0], **series[1]) == value(first, series[0], **series[1]) + 1

    async def test_a_redelivered_message_is_counted_as_an_inbox_duplicate(
        self, app: App, engine: AsyncEngine
    ) -> None:
        await app.create_product(f"MUG-{uuid.uuid4().hex[:6].upper()}")
        await app.relay.drain()
        async with engine.connect() as conn:
            row = (await conn.execute(select(CatalogModule.outbox))).first()
        assert row is not None
        before = sample("orderly_inbox_duplicates_total", consumer=REGISTER_SKUS)
        processed_before = sample("orderly_consumer_processed_total", consumer=REGISTER_SKUS)

        await app.container.bus.publish(
            [
                Message(
                    message_id=row.event_id,
                    event_type=row.event_type,
                    aggregate_id=row.aggregate_id,
                    occurred_at=row.occurred_at,
                    payload=row.payload,
                    headers=row.headers,
                )
            ]
        )

        assert sample("orderly_inbox_duplicates_total", consumer=REGISTER_SKUS) == before + 1
        assert sample("orderly_consumer_processed_total", consumer=REGISTER_SKUS) == processed_before + 1

    async def test_metrics_are_not_part_of_the_api_description(self, app: App) -> None:
        schema = (await app.http.get("/openapi.json")).json()

        assert "/metrics" not in schema["paths"]


class TestWhereMetricsAreServed:
    async def test_the_api_port_can_be_told_not_to_serve_metrics(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        closed = settings.model_copy(update={"metrics_on_api": False})
        async for app in running_app(closed, database_url):
            assert (await app.http.get("/metrics")).status_code == 404

    async def test_the_separate_listener_serves_the_same_registry(self) -> None:
        server = start_metrics_server(host="127.0.0.1", port=0)
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(f"http://127.0.0.1:{server.port}/metrics")
        finally:
            server.close()

        assert response.status_code == 200
        families = {name for name, _ in scraped(response.text)}
        assert "orderly_outbox_relay_errors_total" in families
        assert "process_cpu_seconds_total" in families


class BrokerDown(InProcessBus):
    async def publish(self, messages: Sequence[Message]) -> None:
        raise ConnectionError("broker unreachable")


class TestOutboxBacklog:
    async def test_relay_keeps_sampling_the_backlog_while_the_broker_is_down(
        self, engine: AsyncEngine
    ) -> None:
        async with scratch_schema(engine, aggregate_ids=["agg-1", "agg-2"]) as tables:
            await commit_events(engine, tables, ["agg-1", "agg-2"])
            relay = OutboxRelay(engine, BrokerDown(), [tables.outbox], batch_size=10, poll_interval_s=0.02)
            errors_before = sample("orderly_outbox_relay_errors_total")
            stop = asyncio.Event()
            running = asyncio.create_task(relay.run_forever(stop))

            async def failed_once() -> bool:
                return sample("orderly_outbox_relay_errors_total") > errors_before

            try:
                await wait_until(failed_once, timeout_s=10, what="a failed relay pass")
            finally:
                stop.set()
                await running

        assert sample("orderly_outbox_unpublished", module=tables.schema) == 2
        assert sample("orderly_outbox_oldest_unpublished_age_seconds", module=tables.schema) >= 0
        assert sample("orderly_outbox_published_total", module=tables.schema) == 0

    async def test_backlog_is_sampled_at_most_once_per_interval(self, engine: AsyncEngine) -> None:
        async with scratch_schema(engine, aggregate_ids=["agg-1", "agg-2"]) as tables:
            backlog = OutboxBacklog(engine, [tables.outbox], interval_s=60)
            await commit_events(engine, tables, ["agg-1"])
            await backlog.maybe_sample()
            await commit_events(engine, tables, ["agg-2"])

            await backlog.maybe_sample()
            throttled = sample("orderly_outbox_unpublished", module=tables.schema)
            await backlog.sample()

        assert throttled == 1
        assert sample("orderly_outbox_unpublished", module=tables.schema) == 2
