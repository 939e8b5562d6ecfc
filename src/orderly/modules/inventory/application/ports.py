from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from orderly.modules.inventory.domain.model import StockItem


class StockItemRepository(Protocol):
    async def add(self, item: StockItem) -> None: ...

    async def existing(self, skus: list[str]) -> set[str]: ...


class InventoryUnitOfWork(Protocol):
    @property
    def stock_items(self) -> StockItemRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...
