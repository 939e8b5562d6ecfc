"""Availability from inventory's StockLevelChanged: idempotent, newest report wins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.catalog.adapters.consumers import STOCK_LEVELS
from orderly.modules.catalog.adapters.tables import inbox, stock_levels
from orderly.modules.catalog.application.commands import CreateProduct, NewPrice, NewVariant
from orderly.modules.catalog.application.handlers import create_product
from orderly.modules.catalog.domain.availability import Availability
from orderly.modules.catalog.module import CatalogModule
from orderly.platform.messaging.port import Handler
from tests.integration.catalog.events import stock_level_message


def _projection(catalog: CatalogModule) -> Handler:
    return next(s.handler for s in catalog.subscriptions() if s.consumer == STOCK_LEVELS)


async def _mug(catalog: CatalogModule) -> uuid.UUID:
    return await create_product(
        CreateProduct(
            name="Mug",
            description="",
            publish=True,
            variants=tuple(
                NewVariant(sku=sku, prices=(NewPrice(amount=Decimal("5"), currency="EUR"),))
                for sku in ("MUG-S", "MUG-L")
            ),
        ),
        uow=catalog.unit_of_work(),
    )


async def _levels(catalog: CatalogModule, product_id: uuid.UUID) -> tuple[Availability, list[Availability]]:
    view = await catalog.queries.get(product_id, published_only=True)
    assert view is not None
    return view.availability, [v.availability for v in view.variants]


class TestAvailabilityProjection:
    async def test_a_sku_inventory_never_reported_is_out_of_stock(self, catalog: CatalogModule) -> None:
        product_id = await _mug(catalog)
        assert await _levels(catalog, product_id) == (
            Availability.OUT_OF_STOCK,
            [Availability.OUT_OF_STOCK, Availability.OUT_OF_STOCK],
        )

    async def test_reports_set_each_variants_level_and_the_product_takes_the_best(
        self, catalog: CatalogModule
    ) -> None:
        product_id = await _mug(catalog)
        now = datetime.now(UTC)
        await _projection(catalog)(stock_level_message("MUG-S", available=3, at=now))
        await _projection(catalog)(stock_level_message("MUG-L", available=40, at=now))
        assert await _levels(catalog, product_id) == (
            Availability.IN_STOCK,
            [Availability.LOW, Availability.IN_STOCK],
        )

    async def test_a_report_older_than_the_stored_one_is_ignored(
        self, engine: AsyncEngine, catalog: CatalogModule
    ) -> None:
        product_id = await _mug(catalog)
        now = datetime.now(UTC)
        await _projection(catalog)(stock_level_message("MUG-S", available=0, at=now))
        await _projection(catalog)(
            stock_level_message("MUG-S", available=30, at=now - timedelta(milliseconds=1))
        )
        assert (await _levels(catalog, product_id))[1][0] is Availability.OUT_OF_STOCK
        async with engine.connect() as conn:
            assert await conn.scalar(select(stock_levels.c.available)) == 0

    async def test_a_redelivered_report_is_applied_once(
        self, engine: AsyncEngine, catalog: CatalogModule
    ) -> None:
        await _mug(catalog)
        now = datetime.now(UTC)
        first = stock_level_message("MUG-S", available=10, at=now)
        await _projection(catalog)(first)
        await _projection(catalog)(stock_level_message("MUG-S", available=2, at=now + timedelta(seconds=1)))
        # The first report again, as after a broker redelivery: the inbox drops it.
        await _projection(catalog)(first)
        async with engine.connect() as conn:
            assert await conn.scalar(select(stock_levels.c.available)) == 2
            assert await conn.scalar(select(func.count()).select_from(inbox)) == 2

    async def test_a_report_for_a_sku_the_catalog_does_not_sell_yet_is_kept_for_later(
        self, catalog: CatalogModule
    ) -> None:
        await _projection(catalog)(stock_level_message("MUG-S", available=9, at=datetime.now(UTC)))
        product_id = await _mug(catalog)
        assert (await _levels(catalog, product_id))[1][0] is Availability.IN_STOCK

    async def test_the_cached_product_shows_the_new_level_after_a_report(
        self, catalog: CatalogModule
    ) -> None:
        product_id = await _mug(catalog)
        before = await catalog.storefront.product(product_id)
        assert before is not None
        assert b'"availability":"out_of_stock"' in before
        await _projection(catalog)(stock_level_message("MUG-L", available=50, at=datetime.now(UTC)))
        after = await catalog.storefront.product(product_id)
        assert after is not None
        assert b'"availability":"in_stock"' in after
