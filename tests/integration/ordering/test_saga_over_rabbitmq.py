"""The saga with RabbitMQ as the bus: competing lanes deliver steps and payment events
concurrently, and orders still end confirmed once, with their stock taken once."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.entrypoints.registry import MODULES
from orderly.platform.settings import Settings
from tests.integration.ordering.support import shop
from tests.reliability.ordering.support import assert_books_balance, settle
from tests.support.messaging import broker_names

ORDERS = 8


class TestSagaOverRabbitMQ:
    async def test_concurrent_checkouts_are_confirmed_through_the_broker(
        self, settings: Settings, database_url: str, engine: AsyncEngine, broker_url: str, unique_prefix: str
    ) -> None:
        consumers = [consumer for module in MODULES.values() for consumer, _ in module.consumes]
        async with (
            broker_names(broker_url, unique_prefix, consumers) as names,
            shop(
                settings,
                database_url,
                engine,
                broker_url=broker_url,
                exchange_name=names.exchange,
                queue_prefix=names.prefix,
            ) as s,
        ):
            assert not s.container.in_process_bus
            await s.product("MUG-1", stock=20)
            responses = await asyncio.gather(*(s.checkout(s.cart(("MUG-1", 2))) for _ in range(ORDERS)))
            assert [r.status_code for r in responses] == [201] * ORDERS
            await settle(engine, timeout_s=60)
            by_status = await assert_books_balance(s, sku="MUG-1", initial_stock=20)
            assert by_status == {"confirmed": ORDERS}
