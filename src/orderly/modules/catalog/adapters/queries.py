"""Read side: product views and listing pages, each in one query (plus one to resolve a
category filter), whatever the page size. The SQL is in ``listing_sql``.

Reads run in autocommit: a single SELECT needs no transaction, and skipping
BEGIN/ROLLBACK saves two round trips per request.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orderly.modules.catalog.adapters import listing_sql
from orderly.modules.catalog.adapters.tables import categories
from orderly.modules.catalog.application.queries import (
    CategoryView,
    ListingQuery,
    PageKey,
    PriceView,
    ProductPage,
    ProductView,
    VariantView,
)
from orderly.modules.catalog.domain.errors import UnknownCategory
from orderly.modules.catalog.domain.product import ProductStatus


class SqlProductQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        async with self._engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    async def get(self, product_id: uuid.UUID, *, published_only: bool) -> ProductView | None:
        statement = listing_sql.one_product(by_slug=False, published_only=published_only)
        return await self._one(statement, {"product_id": product_id})

    async def get_by_slug(self, slug: str, *, published_only: bool) -> ProductView | None:
        statement = listing_sql.one_product(by_slug=True, published_only=published_only)
        return await self._one(statement, {"slug": slug})

    async def page(self, query: ListingQuery) -> ProductPage:
        async with self._reading() as conn:
            category_ids = None
            if query.filter.category is not None:
                category_ids = await _category_subtree(conn, query.filter.category)
            statement, params = listing_sql.listing(query, category_ids)
            rows = (await conn.execute(statement, params)).all()
        has_more = len(rows) > query.limit
        rows = rows[: query.limit]
        next_key = PageKey(product_id=rows[-1].id, value=rows[-1].sort_value) if has_more else None
        return ProductPage(items=[_view(r) for r in rows], next_key=next_key)

    async def categories(self) -> list[CategoryView]:
        async with self._reading() as conn:
            rows = await conn.execute(select(categories).order_by(categories.c.name, categories.c.id))
            return [_category(r) for r in rows]

    async def category(self, category_id: uuid.UUID) -> CategoryView | None:
        async with self._reading() as conn:
            row = (await conn.execute(select(categories).where(categories.c.id == category_id))).one_or_none()
        return None if row is None else _category(row)

    async def _one(self, statement: Any, params: dict[str, Any]) -> ProductView | None:
        async with self._reading() as conn:
            row = (await conn.execute(statement, params)).one_or_none()
        return None if row is None else _view(row)


async def _category_subtree(conn: AsyncConnection, reference: str) -> list[uuid.UUID]:
    try:
        key: uuid.UUID | str = uuid.UUID(reference)
    except ValueError:
        key = reference
    statement = listing_sql.category_subtree(by_id=isinstance(key, uuid.UUID))
    ids = list(await conn.scalars(statement, {"reference": key}))
    if not ids:
        raise UnknownCategory(reference, field="category", location="query")
    return ids


def _view(row: Row[Any]) -> ProductView:
    return ProductView(
        id=row.id,
        slug=row.slug,
        name=row.name,
        description=row.description,
        status=ProductStatus(row.status),
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        published_at=row.published_at,
        category_ids=list(row.category_ids or []),
        variants=[
            VariantView(
                sku=v["sku"],
                attributes=v["attributes"] or {},
                prices=[
                    PriceView(amount=Decimal(amount), currency=currency) for currency, amount in v["prices"]
                ],
                available=v["available"],
            )
            for v in row.variants_json or []
        ],
    )


def _category(row: Row[Any]) -> CategoryView:
    return CategoryView(id=row.id, slug=row.slug, name=row.name, parent_id=row.parent_id, version=row.version)
