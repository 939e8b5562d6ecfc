"""In-process implementation of the catalog facade."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.catalog.adapters.tables import variants
from orderly.modules.catalog.api import VariantPrice


class SqlCatalogApi:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def variant_prices(self, skus: list[str]) -> dict[str, VariantPrice]:
        if not skus:
            return {}
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(variants).where(variants.c.sku.in_(skus)))
            return {
                r.sku: VariantPrice(
                    sku=r.sku, product_id=r.product_id, amount=r.price_amount.normalize(), currency=r.price_currency
                )
                for r in rows
            }
