"""An order as fulfilment sees it, and its shipments.

``FulfilmentOrder`` is fulfilment's own copy of a confirmed order (built from
ordering's ``OrderConfirmed``; fulfilment never reads ordering's tables) and
the aggregate that owns its shipments, so the rule "never ship more than was
ordered" is checked under one lock per order. Shipments move::

    pending --ship(tracking)--> shipped --deliver--> delivered
       '--(order cancelled)--> cancelled

Each change publishes where the whole order stands (fully shipped, fully
delivered), so ordering can follow without keeping shipment state.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from orderly.modules.fulfilment.contracts import (
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentLine,
    ShipmentShipped,
)
from orderly.modules.fulfilment.domain.errors import (
    IllegalShipmentTransition,
    NothingToShip,
    OrderNotShippable,
    ShipmentNotFound,
    TooMuchShipped,
)
from orderly.shared_kernel.domain import AggregateRoot
from orderly.shared_kernel.errors import InvalidInput
from orderly.shared_kernel.ids import new_id

TRACKING_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,63}$")


class ShipmentStatus(StrEnum):
    PENDING = "pending"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    # The order was cancelled before the parcel left: it never will.
    CANCELLED = "cancelled"


@dataclass(slots=True)
class Shipment:
    id: uuid.UUID
    lines: dict[str, int]
    status: ShipmentStatus
    created_at: datetime
    carrier: str | None = None
    tracking_number: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    # Set on the shipments this change touched (the repository writes only those).
    dirty: bool = False

    def line_events(self) -> tuple[ShipmentLine, ...]:
        return tuple(ShipmentLine(sku=sku, quantity=qty) for sku, qty in sorted(self.lines.items()))


class FulfilmentOrder(AggregateRoot):
    def __init__(
        self,
        *,
        id: uuid.UUID,
        lines: Mapping[str, int],
        cancelled: bool,
        shipments: list[Shipment],
        confirmed_at: datetime,
        version: int,
    ) -> None:
        super().__init__()
        self.id = id
        self.lines = dict(lines)
        self.cancelled = cancelled
        self.shipments = shipments
        self.confirmed_at = confirmed_at
        self.version = version

    @classmethod
    def confirmed(cls, *, order_id: uuid.UUID, lines: Mapping[str, int], at: datetime) -> FulfilmentOrder:
        return cls(id=order_id, lines=lines, cancelled=False, shipments=[], confirmed_at=at, version=1)

    # -- derived -------------------------------------------------------------------------

    def live_shipments(self) -> list[Shipment]:
        return [s for s in self.shipments if s.status is not ShipmentStatus.CANCELLED]

    def allocated(self) -> Counter[str]:
        """Quantities already in a shipment that was not cancelled."""
        total: Counter[str] = Counter()
        for shipment in self.live_shipments():
            total.update(shipment.lines)
        return total

    def remaining(self) -> dict[str, int]:
        allocated = self.allocated()
        return {sku: qty - allocated[sku] for sku, qty in self.lines.items() if qty - allocated[sku] > 0}

    def fully_shipped(self) -> bool:
        sent: Counter[str] = Counter()
        for shipment in self.live_shipments():
            if shipment.status is not ShipmentStatus.PENDING:
                sent.update(shipment.lines)
        return all(sent[sku] >= qty for sku, qty in self.lines.items())

    def fully_delivered(self) -> bool:
        return not self.remaining() and all(
            s.status is ShipmentStatus.DELIVERED for s in self.live_shipments()
        )

    def shipment(self, shipment_id: uuid.UUID) -> Shipment:
        found = next((s for s in self.shipments if s.id == shipment_id), None)
        if found is None:
            raise ShipmentNotFound(shipment_id)
        return found

    # -- changes -------------------------------------------------------------------------

    def cancel(self) -> None:
        """Ordering cancelled the order: no new shipments, and parcels not yet handed to
        a carrier are cancelled (ordering refuses a cancel once it knows of a shipment,
        but a shipment made while the cancel was on its way is caught here)."""
        if self.cancelled:
            return
        self.cancelled = True
        self.version += 1
        for shipment in self.shipments:
            if shipment.status is ShipmentStatus.PENDING:
                shipment.status = ShipmentStatus.CANCELLED
                shipment.dirty = True

    def create_shipment(self, lines: Mapping[str, int] | None, *, now: datetime) -> Shipment:
        """A shipment of ``lines`` (default: everything not yet in a shipment)."""
        if self.cancelled:
            raise OrderNotShippable(self.id, why="it was cancelled")
        remaining = self.remaining()
        wanted = dict(lines) if lines is not None else remaining
        if not wanted:
            raise NothingToShip(self.id)
        for index, (sku, quantity) in enumerate(wanted.items()):
            if quantity < 1:
                raise InvalidInput("a shipped quantity is at least 1", field=f"lines.{index}.quantity")
            if quantity > remaining.get(sku, 0):
                raise TooMuchShipped(
                    sku=sku, requested=quantity, remaining=remaining.get(sku, 0), index=index
                )
        shipment = Shipment(
            id=new_id(), lines=wanted, status=ShipmentStatus.PENDING, created_at=now, dirty=True
        )
        self.shipments.append(shipment)
        self.version += 1
        self.record(
            ShipmentCreated(
                aggregate_id=str(shipment.id),
                shipment_id=str(shipment.id),
                order_id=str(self.id),
                lines=shipment.line_events(),
            )
        )
        return shipment

    def ship(
        self, shipment_id: uuid.UUID, *, tracking_number: str, carrier: str | None, now: datetime
    ) -> Shipment:
        shipment = self.shipment(shipment_id)
        if not TRACKING_PATTERN.match(tracking_number):
            raise InvalidInput(
                "a tracking number is 1-64 letters, digits and . _ / - or spaces", field="tracking_number"
            )
        if shipment.status is ShipmentStatus.SHIPPED and shipment.tracking_number == tracking_number:
            return shipment  # the same request again
        if shipment.status is not ShipmentStatus.PENDING:
            raise IllegalShipmentTransition(shipment.id, status=shipment.status.value, action="shipped")
        shipment.status = ShipmentStatus.SHIPPED
        shipment.tracking_number = tracking_number
        shipment.carrier = carrier
        shipment.shipped_at = now
        shipment.dirty = True
        self.version += 1
        self.record(
            ShipmentShipped(
                aggregate_id=str(shipment.id),
                shipment_id=str(shipment.id),
                order_id=str(self.id),
                lines=shipment.line_events(),
                tracking_number=tracking_number,
                carrier=carrier,
                order_fully_shipped=self.fully_shipped(),
            )
        )
        return shipment

    def deliver(self, shipment_id: uuid.UUID, *, now: datetime) -> Shipment:
        shipment = self.shipment(shipment_id)
        if shipment.status is ShipmentStatus.DELIVERED:
            return shipment
        if shipment.status is not ShipmentStatus.SHIPPED:
            raise IllegalShipmentTransition(shipment.id, status=shipment.status.value, action="delivered")
        shipment.status = ShipmentStatus.DELIVERED
        shipment.delivered_at = now
        shipment.dirty = True
        self.version += 1
        self.record(
            ShipmentDelivered(
                aggregate_id=str(shipment.id),
                shipment_id=str(shipment.id),
                order_id=str(self.id),
                order_fully_delivered=self.fully_delivered(),
            )
        )
        return shipment
