"""Read side: views shaped for screens and callers, each served by a fixed number of queries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from orderly.modules.inventory.api import Availability, ReservationResult


@dataclass(frozen=True)
class WarehouseView:
    code: str
    name: str
    priority: int
    active: bool
    created_at: datetime
    version: int


@dataclass(frozen=True)
class LevelView:
    warehouse: str
    priority: int
    active: bool
    on_hand: int
    reserved: int
    available: int


@dataclass(frozen=True)
class StockView:
    sku: str
    on_hand: int
    reserved: int
    available: int
    levels: list[LevelView]


@dataclass(frozen=True)
class MovementView:
    id: uuid.UUID
    sku: str
    warehouse: str
    kind: str
    reason: str | None
    on_hand_delta: int
    reserved_delta: int
    on_hand_after: int
    reserved_after: int
    reference: str | None
    note: str | None
    occurred_at: datetime


@dataclass(frozen=True)
class MovementPage:
    items: list[MovementView]
    last_id: uuid.UUID | None
    has_more: bool


class InventoryQueries(Protocol):
    async def warehouses(self) -> list[WarehouseView]: ...

    async def warehouse(self, code: str) -> WarehouseView | None: ...

    async def stock(self, sku: str) -> StockView | None: ...

    async def movements(self, sku: str, *, limit: int, before: uuid.UUID | None) -> MovementPage | None:
        """Newest first; None if the SKU is unknown."""
        ...

    async def reservation(self, reference: str) -> ReservationResult | None: ...

    async def availability(self, skus: Sequence[str]) -> dict[str, Availability]: ...
