"""Concurrent staff writes on the real database: no lost update, no duplicate SKU or slug."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.catalog.adapters.tables import outbox, products, variants
from orderly.modules.catalog.application.commands import CreateProduct, NewPrice, NewVariant, UpdateProduct
from orderly.modules.catalog.application.handlers import create_product, update_product
from orderly.modules.catalog.domain.errors import DuplicateSku, StaleVersion
from orderly.modules.catalog.module import CatalogModule


def _command(name: str, *skus: str) -> CreateProduct:
    return CreateProduct(
        name=name,
        description="",
        variants=tuple(
            NewVariant(sku=s, prices=(NewPrice(amount=Decimal("5"), currency="EUR"),)) for s in skus
        ),
    )


async def _count(engine: AsyncEngine, query: object) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(query) or 0)  # type: ignore[call-overload]


class TestConcurrentUpdates:
    async def test_two_updates_of_the_same_version_one_wins_and_the_other_is_stale(
        self, engine: AsyncEngine, catalog: CatalogModule
    ) -> None:
        product_id = await create_product(_command("Mug", "MUG-1"), uow=catalog.unit_of_work())

        async def rename(name: str) -> str:
            try:
                await update_product(
                    UpdateProduct(product_id=product_id, expected_version=1, name=name),
                    uow=catalog.unit_of_work(),
                )
            except StaleVersion:
                return "stale"
            return "won"

        outcomes = await asyncio.gather(rename("Cup"), rename("Bowl"))
        assert sorted(outcomes) == ["stale", "won"]
        async with engine.connect() as conn:
            row = (await conn.execute(select(products.c.name, products.c.version))).one()
        assert row.version == 2
        assert row.name == ("Cup" if outcomes[0] == "won" else "Bowl")
        updates = (
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.event_type == "catalog.product_updated.v1")
        )
        assert await _count(engine, updates) == 1


class TestConcurrentCreates:
    async def test_two_products_racing_for_one_sku_one_gets_it_and_the_other_is_refused_naming_it(
        self, engine: AsyncEngine, catalog: CatalogModule
    ) -> None:
        async def create(name: str) -> uuid.UUID | str:
            try:
                return await create_product(
                    _command(name, f"{name}-OWN", "SHARED-1"), uow=catalog.unit_of_work()
                )
            except DuplicateSku as refused:
                return refused.sku

        outcomes = await asyncio.gather(*(create(f"P{i}") for i in range(4)))
        assert sum(isinstance(o, uuid.UUID) for o in outcomes) == 1
        assert [o for o in outcomes if not isinstance(o, uuid.UUID)] == ["SHARED-1"] * 3
        assert await _count(engine, select(func.count()).select_from(products)) == 1
        assert await _count(engine, select(func.count()).select_from(variants)) == 2

    async def test_products_with_the_same_name_created_at_once_get_distinct_slugs(
        self, engine: AsyncEngine, catalog: CatalogModule
    ) -> None:
        await asyncio.gather(
            *(create_product(_command("Red Mug", f"RM-{i}"), uow=catalog.unit_of_work()) for i in range(5))
        )
        async with engine.connect() as conn:
            slugs = sorted(await conn.scalars(select(products.c.slug)))
        assert slugs == ["red-mug", "red-mug-2", "red-mug-3", "red-mug-4", "red-mug-5"]
