"""Integration events the fulfilment module publishes (versioned; add fields, never change them).

``aggregate_id`` is the shipment id. Each event also says where the whole
order stands (``order_fully_shipped``, ``order_fully_delivered``), computed by
fulfilment from its copy of the order, so a consumer needs no state of its
own to follow an order's fulfilment, whatever order the events arrive in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from orderly.shared_kernel.domain import IntegrationEvent


@dataclass(frozen=True, kw_only=True)
class ShipmentLine:
    sku: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class ShipmentEvent(IntegrationEvent):
    aggregate_type: ClassVar[str] = "shipment"

    shipment_id: str
    order_id: str


@dataclass(frozen=True, kw_only=True)
class ShipmentCreated(ShipmentEvent):
    """Staff started packing these lines of the order."""

    event_type: ClassVar[str] = "fulfilment.shipment_created.v1"

    lines: tuple[ShipmentLine, ...]


@dataclass(frozen=True, kw_only=True)
class ShipmentShipped(ShipmentEvent):
    """The parcel left with a carrier."""

    event_type: ClassVar[str] = "fulfilment.shipment_shipped.v1"

    lines: tuple[ShipmentLine, ...]
    tracking_number: str
    carrier: str | None = None
    order_fully_shipped: bool = False


@dataclass(frozen=True, kw_only=True)
class ShipmentDelivered(ShipmentEvent):
    """The carrier reports the parcel delivered."""

    event_type: ClassVar[str] = "fulfilment.shipment_delivered.v1"

    order_fully_delivered: bool = False


SHIPMENT_EVENT_TYPES: tuple[str, ...] = (
    ShipmentCreated.event_type,
    ShipmentShipped.event_type,
    ShipmentDelivered.event_type,
)
