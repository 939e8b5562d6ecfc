"""In-process implementation of the catalog facade."""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.catalog.adapters.tables import products, variant_prices, variants
from orderly.modules.catalog.api import VariantPrice
from orderly.modules.catalog.domain.product import ProductStatus
from orderly.shared_kernel.money import Money


class SqlCatalogApi:
    """Answers from the database directly (never the cache): callers price orders with it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def variant_prices(
        self, skus: list[str], *, currency: str | None = None
    ) -> dict[str, VariantPrice]:
        if not skus:
            return {}
        price_match = (
            variant_prices.c.currency == currency if currency is not None else variant_prices.c.position == 0
        )
        query = (
            select(
                variants.c.sku,
                variants.c.product_id,
                variant_prices.c.amount,
                variant_prices.c.currency,
                products.c.status,
            )
            .join(variant_prices, and_(variant_prices.c.sku == variants.c.sku, price_match))
            .join(products, products.c.id == variants.c.product_id)
            .where(variants.c.sku.in_(skus))
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
            return {
                r.sku: VariantPrice(
                    sku=r.sku,
                    product_id=r.product_id,
                    amount=Money(r.amount, r.currency).quantized(),
                    currency=r.currency,
                    published=r.status == ProductStatus.PUBLISHED.value,
                )
                for r in rows
            }
