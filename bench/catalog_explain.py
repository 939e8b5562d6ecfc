"""EXPLAIN (ANALYZE, BUFFERS) of the catalog's read queries, exactly as the app sends them.

Each access pattern runs once through the real query service with a listener
that records the SQL and its parameters; the same statement is then explained
with those parameters. The plans in docs/adr/0011-catalog-indexes.md come from
this script, on a catalog made by ``orderly seed-demo --products 25000``.

    ORDERLY_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/orderly_catalog_demo \\
        uv run python bench/catalog_explain.py [--only NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.catalog.adapters.queries import SqlProductQueries
from orderly.modules.catalog.application.queries import ListingQuery, PageKey, ProductFilter, SortOrder
from orderly.platform.db import create_engine
from orderly.platform.settings import Settings

Pattern = Callable[[SqlProductQueries, dict[str, Any]], Awaitable[object]]


async def _facts(engine: AsyncEngine) -> dict[str, Any]:
    """Ids and keys from the seeded data that make the deep pages realistic."""
    async with engine.connect() as conn:
        ids = (
            await conn.execute(
                text(
                    "SELECT id FROM catalog.products WHERE status = 'published' "
                    "ORDER BY id OFFSET 20000 LIMIT 1"
                )
            )
        ).scalar_one()
        price = (
            await conn.execute(
                text(
                    "SELECT from_amount, product_id FROM catalog.product_prices WHERE currency = 'EUR' "
                    "ORDER BY from_amount, product_id OFFSET 15000 LIMIT 1"
                )
            )
        ).one()
    return {"deep_id": ids, "deep_price": (price[0], price[1]), "some_id": ids}


def _page(product_filter: ProductFilter, sort: SortOrder, after: PageKey | None = None) -> ListingQuery:
    return ListingQuery(filter=product_filter, sort=sort, limit=20, after=after)


PATTERNS: dict[str, Pattern] = {
    "product_by_id": lambda q, f: q.get(f["some_id"], published_only=True),
    "list_first_page": lambda q, f: q.page(_page(ProductFilter(), SortOrder.OLDEST)),
    "list_deep_page": lambda q, f: q.page(
        _page(ProductFilter(), SortOrder.OLDEST, PageKey(product_id=f["deep_id"]))
    ),
    "newest": lambda q, f: q.page(_page(ProductFilter(), SortOrder.NEWEST)),
    "category_subtree": lambda q, f: q.page(_page(ProductFilter(category="demo-kitchen"), SortOrder.NEWEST)),
    "category_leaf": lambda q, f: q.page(
        _page(ProductFilter(category="demo-kitchen-essentials-new"), SortOrder.NEWEST)
    ),
    "attributes": lambda q, f: q.page(
        _page(ProductFilter(attributes=(("colour", ("Red", "Blue")), ("size", ("M",)))), SortOrder.OLDEST)
    ),
    "attributes_rare": lambda q, f: q.page(
        _page(ProductFilter(attributes=(("colour", ("Magenta",)), ("size", ("XS",)))), SortOrder.OLDEST)
    ),
    "price_asc_first_page": lambda q, f: q.page(_page(ProductFilter(currency="EUR"), SortOrder.PRICE_ASC)),
    "price_asc_deep_page": lambda q, f: q.page(
        _page(
            ProductFilter(currency="EUR"),
            SortOrder.PRICE_ASC,
            PageKey(product_id=f["deep_price"][1], value=f["deep_price"][0]),
        )
    ),
    "price_range": lambda q, f: q.page(
        _page(
            ProductFilter(currency="EUR", price_min=Decimal("10"), price_max=Decimal("20")),
            SortOrder.PRICE_ASC,
        )
    ),
    "search_relevance": lambda q, f: q.page(
        _page(ProductFilter(text="stoneware teapot"), SortOrder.RELEVANCE)
    ),
    "search_typo": lambda q, f: q.page(_page(ProductFilter(text="stonewear teapot"), SortOrder.RELEVANCE)),
    "combined": lambda q, f: q.page(
        _page(
            ProductFilter(
                category="demo-kitchen",
                attributes=(("size", ("M", "L")),),
                currency="EUR",
                price_max=Decimal("100"),
            ),
            SortOrder.PRICE_DESC,
        )
    ),
}


async def explain(engine: AsyncEngine, name: str, pattern: Pattern, facts: dict[str, Any]) -> str:
    captured: list[tuple[str, Any]] = []

    def record(conn: object, cursor: object, statement: str, parameters: Any, *args: object) -> None:
        captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await pattern(SqlProductQueries(engine), facts)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    out = [f"### {name} ({len(captured)} {'query' if len(captured) == 1 else 'queries'})"]
    async with engine.connect() as conn:
        for statement, parameters in captured:
            plan = await conn.exec_driver_sql(
                f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {statement}", parameters
            )
            out.append("\n".join(row[0] for row in plan))
    return "\n\n".join(out)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=sorted(PATTERNS), action="append")
    args = parser.parse_args()
    url = os.environ.get("ORDERLY_DATABASE_URL")
    if not url:
        raise SystemExit("set ORDERLY_DATABASE_URL to a seeded database")
    engine = create_engine(Settings(database_url=url), url, pool_size=1)
    try:
        facts = await _facts(engine)
        for name in args.only or PATTERNS:
            # A warm-up run, so the plan shows steady-state buffers, not a cold cache.
            await PATTERNS[name](SqlProductQueries(engine), facts)
            print(await explain(engine, name, PATTERNS[name], facts), end="\n\n")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
