"""What the inventory's use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Literal, Protocol, Self

from orderly.modules.inventory.domain.model import StockItem
from orderly.modules.inventory.domain.reservation import Reservation
from orderly.modules.inventory.domain.stock import SkuStock
from orderly.modules.inventory.domain.warehouse import Warehouse


class StockItemRepository(Protocol):
    async def add(self, item: StockItem) -> None: ...

    async def existing(self, skus: list[str]) -> set[str]: ...


WarehouseLock = Literal["share", "update"]
"""``share``: the warehouse may not change until the transaction ends (taken by whoever
may create a stock level there); ``update``: to change it. Both are taken before any
SKU lock (docs/adr/0010)."""


class WarehouseRepository(Protocol):
    async def add(self, warehouse: Warehouse) -> bool:
        """Insert; False (and nothing written) if the code is taken."""
        ...

    async def get(self, code: str, *, lock: WarehouseLock | None = None) -> Warehouse | None: ...

    async def save(self, warehouse: Warehouse) -> None:
        """Write the changed fields of a warehouse loaded with ``lock="update"``."""
        ...


@dataclass(frozen=True)
class LockedStock:
    """SKUs locked for the rest of the transaction, with the database time after locking."""

    as_of: datetime
    stocks: dict[str, SkuStock]


class StockRepository(Protocol):
    async def lock(self, skus: Sequence[str]) -> LockedStock:
        """Lock the SKUs (always in SKU order) and load their levels.

        Unknown SKUs are absent from the result. The levels are read after the
        locks are held, so they are the latest committed ones.
        """
        ...

    async def save(self, stocks: Iterable[SkuStock]) -> None:
        """Write the changed levels and append their movements."""
        ...

    async def skus_in(self, warehouse: str) -> list[str]:
        """The SKUs that have a stock level in the warehouse (any quantity), sorted."""
        ...


class ReservationRepository(Protocol):
    async def lock_reference(self, reference: str) -> None:
        """Serialise concurrent requests for one reference until the transaction ends."""
        ...

    async def get(self, reference: str, *, for_update: bool = False) -> Reservation | None: ...

    async def add(self, reservation: Reservation) -> bool:
        """Insert; False (and nothing written) if the reference is taken."""
        ...

    async def save(self, reservations: Sequence[Reservation]) -> None:
        """Write status changes (the lines and allocations never change)."""
        ...

    async def claim_due(self, *, limit: int, now: datetime | None) -> list[Reservation]:
        """Lock up to ``limit`` active reservations expired at ``now`` (database time if None),
        skipping those another transaction holds."""
        ...


class InventoryUnitOfWork(Protocol):
    # Read-only properties, so an adapter's concrete repositories satisfy them.
    @property
    def stock_items(self) -> StockItemRepository: ...

    @property
    def warehouses(self) -> WarehouseRepository: ...

    @property
    def stock(self) -> StockRepository: ...

    @property
    def reservations(self) -> ReservationRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...
