from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.inventory.adapters.tables import stock_items


class SqlInventoryApi:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def known_skus(self, skus: list[str]) -> set[str]:
        if not skus:
            return set()
        async with self._engine.connect() as conn:
            return set(await conn.scalars(select(stock_items.c.sku).where(stock_items.c.sku.in_(skus))))
