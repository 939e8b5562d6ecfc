"""The ProductCreated event goes outbox -> in-process bus -> inventory consumer, once."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.entrypoints.bootstrap import build_container
from orderly.modules.catalog.application.commands import CreateProduct, NewVariant
from orderly.modules.catalog.application.handlers import create_product
from orderly.modules.catalog.module import CatalogModule
from orderly.modules.inventory.adapters.tables import inbox, stock_items
from orderly.platform.settings import Settings


async def test_product_created_registers_skus_once_even_if_relayed_twice(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> None:
    container = build_container(settings, database_url=database_url)
    await container.start()
    await container.start_consumers()
    try:
        catalog = next(m for m in container.modules if isinstance(m, CatalogModule))
        await create_product(
            CreateProduct(
                name="Mug",
                description="",
                variants=(NewVariant(sku="MUG-1", price_amount=Decimal("12.50"), price_currency="EUR"),),
            ),
            uow=catalog.unit_of_work(),
        )
        relay = container.relay()
        # ProductCreated, then the SkuRegistered its consumer committed.
        assert await relay.drain() == 2
        assert await relay.drain() == 0

        # A redelivery of the same message must not register the SKU twice.
        async with engine.connect() as conn:
            rows = (await conn.execute(select(CatalogModule.outbox))).all()
        from orderly.platform.events import Message

        message = Message(
            message_id=rows[0].event_id,
            event_type=rows[0].event_type,
            aggregate_id=rows[0].aggregate_id,
            occurred_at=rows[0].occurred_at,
            payload=rows[0].payload,
        )
        await container.bus.publish([message])

        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(stock_items)) == 1
            assert await conn.scalar(select(func.count()).select_from(inbox)) == 1
    finally:
        await container.close()
