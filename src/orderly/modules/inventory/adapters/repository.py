from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly.modules.inventory.adapters.tables import stock_items
from orderly.modules.inventory.domain.model import StockItem
from orderly.platform.uow import SqlUnitOfWork


class SqlStockItemRepository:
    def __init__(self, connection: AsyncConnection, uow: SqlUnitOfWork) -> None:
        self._connection = connection
        self._uow = uow

    async def add(self, item: StockItem) -> None:
        self._uow.track(item)
        await self._connection.execute(
            insert(stock_items).values(
                sku=item.sku, product_id=item.product_id, version=item.version, registered_at=item.registered_at
            )
        )

    async def existing(self, skus: list[str]) -> set[str]:
        if not skus:
            return set()
        rows = await self._connection.scalars(select(stock_items.c.sku).where(stock_items.c.sku.in_(skus)))
        return set(rows)


class InventorySqlUnitOfWork(SqlUnitOfWork):
    stock_items: SqlStockItemRepository

    def _open(self, connection: AsyncConnection) -> None:
        self.stock_items = SqlStockItemRepository(connection, self)
