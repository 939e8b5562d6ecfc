"""Read side: product views in two queries per page, whatever its size."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.catalog.adapters.tables import products, variants
from orderly.modules.catalog.application.ports import PriceView, ProductPage, ProductView, VariantView


class SqlProductQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, product_id: uuid.UUID) -> ProductView | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(products).where(products.c.id == product_id))).one_or_none()
            if row is None:
                return None
            variant_rows = (
                await conn.execute(
                    select(variants).where(variants.c.product_id == product_id).order_by(variants.c.position)
                )
            ).all()
        return _view(row, variant_rows)

    async def page(self, *, limit: int, after: uuid.UUID | None) -> ProductPage:
        query = select(products).order_by(products.c.id).limit(limit + 1)
        if after is not None:
            query = query.where(products.c.id > after)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            has_more = len(rows) > limit
            rows = rows[:limit]
            by_product: dict[uuid.UUID, list[Row[tuple[object, ...]]]] = defaultdict(list)
            if rows:
                variant_rows = await conn.execute(
                    select(variants)
                    .where(variants.c.product_id.in_([r.id for r in rows]))
                    .order_by(variants.c.product_id, variants.c.position)
                )
                for v in variant_rows:
                    by_product[v.product_id].append(v)
        items = [_view(r, by_product[r.id]) for r in rows]
        return ProductPage(items=items, last_id=rows[-1].id if rows else None, has_more=has_more)


def _view(row: Row[tuple[object, ...]], variant_rows: Sequence[Row[tuple[object, ...]]]) -> ProductView:
    return ProductView(
        id=row.id,
        name=row.name,
        description=row.description,
        version=row.version,
        created_at=row.created_at,
        variants=[
            VariantView(sku=v.sku, price=PriceView(amount=v.price_amount, currency=v.price_currency))
            for v in variant_rows
        ],
    )
