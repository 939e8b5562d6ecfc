"""Integration events the inventory publishes (versioned; add fields, never change them).

Ordering: the outbox publishes one aggregate's events in commit order, but a
consumer may still see them out of order (competing consumers, redeliveries
after a failure). ``StockLevelChanged`` carries
absolute totals and an ``occurred_at`` read from the database clock while the
SKU was locked, so it increases with every change of that SKU: a projection
keeps the event with the latest ``occurred_at`` per SKU and ignores older ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal

from orderly.shared_kernel.domain import IntegrationEvent


@dataclass(frozen=True, kw_only=True)
class SkuRegistered(IntegrationEvent):
    """Inventory now tracks stock for this SKU (zero on hand until stock arrives)."""

    event_type: ClassVar[str] = "inventory.sku_registered.v1"
    aggregate_type: ClassVar[str] = "sku"

    sku: str
    product_id: str


@dataclass(frozen=True, kw_only=True)
class StockLevelChanged(IntegrationEvent):
    """The totals of one SKU across warehouses after a change (aggregate_id = sku).

    ``available`` is what can still be reserved: the unreserved stock of active
    warehouses. Published once per SKU by every transaction that changes its
    levels, in that transaction, and by the (de)activation of a warehouse for
    each SKU with stock there.
    """

    event_type: ClassVar[str] = "inventory.stock_level_changed.v1"
    aggregate_type: ClassVar[str] = "sku"

    sku: str
    on_hand: int
    reserved: int
    available: int


@dataclass(frozen=True, kw_only=True)
class ReservedLine:
    sku: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class AllocatedLine:
    sku: str
    warehouse: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class ShortLine:
    sku: str
    requested: int
    available: int


@dataclass(frozen=True, kw_only=True)
class StockReserved(IntegrationEvent):
    """Every line of the reservation is held until ``expires_at`` (aggregate_id = reference)."""

    event_type: ClassVar[str] = "inventory.stock_reserved.v1"
    aggregate_type: ClassVar[str] = "reservation"

    reference: str
    lines: tuple[ReservedLine, ...]
    allocations: tuple[AllocatedLine, ...]
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class StockReservationRejected(IntegrationEvent):
    """Nothing was reserved: ``shortfalls`` lists the lines that could not be covered."""

    event_type: ClassVar[str] = "inventory.stock_reservation_rejected.v1"
    aggregate_type: ClassVar[str] = "reservation"

    reference: str
    lines: tuple[ReservedLine, ...]
    shortfalls: tuple[ShortLine, ...]


@dataclass(frozen=True, kw_only=True)
class StockReleased(IntegrationEvent):
    """The held stock is available again, released on request or because it expired."""

    event_type: ClassVar[str] = "inventory.stock_released.v1"
    aggregate_type: ClassVar[str] = "reservation"

    reference: str
    reason: Literal["released", "expired"]
    lines: tuple[ReservedLine, ...]


@dataclass(frozen=True, kw_only=True)
class StockConfirmed(IntegrationEvent):
    """The held stock left inventory: on hand and reserved both went down."""

    event_type: ClassVar[str] = "inventory.stock_confirmed.v1"
    aggregate_type: ClassVar[str] = "reservation"

    reference: str
    lines: tuple[ReservedLine, ...]
