"""Shipments of an order: partial fulfilment within what was ordered, ship then deliver,
and where the whole order stands in every event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from orderly.modules.fulfilment.contracts import ShipmentCreated, ShipmentDelivered, ShipmentShipped
from orderly.modules.fulfilment.domain.errors import (
    IllegalShipmentTransition,
    NothingToShip,
    OrderNotShippable,
    ShipmentNotFound,
    TooMuchShipped,
)
from orderly.modules.fulfilment.domain.model import FulfilmentOrder, ShipmentStatus
from orderly.shared_kernel.errors import InvalidInput

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def order(**lines: int) -> FulfilmentOrder:
    return FulfilmentOrder.confirmed(order_id=uuid.uuid4(), lines=lines or {"MUG": 2, "TEE": 1}, at=NOW)


class TestCreatingShipments:
    def test_without_lines_a_shipment_takes_everything_left(self) -> None:
        o = order()
        shipment = o.create_shipment(None, now=NOW)
        assert shipment.lines == {"MUG": 2, "TEE": 1}
        assert shipment.status is ShipmentStatus.PENDING
        [event] = o.collect_events()
        assert isinstance(event, ShipmentCreated)
        assert event.order_id == str(o.id)

    def test_partial_shipments_split_the_order(self) -> None:
        o = order()
        o.create_shipment({"MUG": 1}, now=NOW)
        assert o.remaining() == {"MUG": 1, "TEE": 1}
        rest = o.create_shipment(None, now=NOW)
        assert rest.lines == {"MUG": 1, "TEE": 1}
        assert o.remaining() == {}

    def test_more_than_is_left_is_refused(self) -> None:
        o = order()
        o.create_shipment({"MUG": 2}, now=NOW)
        with pytest.raises(TooMuchShipped) as raised:
            o.create_shipment({"TEE": 1, "MUG": 1}, now=NOW)
        assert raised.value.details["field"] == "lines.1.quantity"
        assert len(o.shipments) == 1

    def test_a_sku_not_in_the_order_is_refused(self) -> None:
        with pytest.raises(TooMuchShipped):
            order().create_shipment({"HAT": 1}, now=NOW)

    def test_a_fully_allocated_order_has_nothing_to_ship(self) -> None:
        o = order()
        o.create_shipment(None, now=NOW)
        with pytest.raises(NothingToShip):
            o.create_shipment(None, now=NOW)

    def test_a_cancelled_order_cannot_be_shipped(self) -> None:
        o = order()
        o.cancel()
        with pytest.raises(OrderNotShippable):
            o.create_shipment(None, now=NOW)

    def test_cancelling_the_order_cancels_parcels_not_yet_shipped(self) -> None:
        o = order()
        sent = o.create_shipment({"MUG": 1}, now=NOW)
        o.ship(sent.id, tracking_number="TRK-1", carrier=None, now=NOW)
        waiting = o.create_shipment(None, now=NOW)
        o.cancel()
        assert (sent.status, waiting.status) == (ShipmentStatus.SHIPPED, ShipmentStatus.CANCELLED)
        with pytest.raises(IllegalShipmentTransition):
            o.ship(waiting.id, tracking_number="TRK-2", carrier=None, now=NOW)

    def test_a_zero_quantity_is_refused(self) -> None:
        with pytest.raises(InvalidInput):
            order().create_shipment({"MUG": 0}, now=NOW)


class TestShippingAndDelivering:
    def test_the_last_parcel_shipped_marks_the_order_fully_shipped(self) -> None:
        o = order()
        first = o.create_shipment({"MUG": 2}, now=NOW)
        second = o.create_shipment(None, now=NOW)
        o.collect_events()
        o.ship(first.id, tracking_number="TRK-1", carrier="DHL", now=NOW)
        o.ship(second.id, tracking_number="TRK-2", carrier=None, now=NOW)
        events = [e for e in o.collect_events() if isinstance(e, ShipmentShipped)]
        assert [e.order_fully_shipped for e in events] == [False, True]

    def test_the_order_is_fully_delivered_only_when_every_line_arrived(self) -> None:
        o = order()
        first = o.create_shipment({"MUG": 2}, now=NOW)
        o.ship(first.id, tracking_number="TRK-1", carrier=None, now=NOW)
        o.deliver(first.id, now=NOW)
        second = o.create_shipment(None, now=NOW)
        o.ship(second.id, tracking_number="TRK-2", carrier=None, now=NOW)
        o.deliver(second.id, now=NOW)
        delivered = [e for e in o.collect_events() if isinstance(e, ShipmentDelivered)]
        assert [e.order_fully_delivered for e in delivered] == [False, True]

    def test_a_pending_shipment_cannot_be_delivered(self) -> None:
        o = order()
        shipment = o.create_shipment(None, now=NOW)
        with pytest.raises(IllegalShipmentTransition):
            o.deliver(shipment.id, now=NOW)

    def test_shipping_again_with_the_same_tracking_number_changes_nothing(self) -> None:
        o = order()
        shipment = o.create_shipment(None, now=NOW)
        o.ship(shipment.id, tracking_number="TRK-1", carrier=None, now=NOW)
        version = o.version
        o.ship(shipment.id, tracking_number="TRK-1", carrier=None, now=NOW)
        assert o.version == version
        with pytest.raises(IllegalShipmentTransition):
            o.ship(shipment.id, tracking_number="TRK-9", carrier=None, now=NOW)

    def test_delivering_twice_changes_nothing(self) -> None:
        o = order()
        shipment = o.create_shipment(None, now=NOW)
        o.ship(shipment.id, tracking_number="TRK-1", carrier=None, now=NOW)
        o.deliver(shipment.id, now=NOW)
        o.collect_events()
        o.deliver(shipment.id, now=NOW)
        assert o.collect_events() == []

    def test_an_unreadable_tracking_number_is_refused(self) -> None:
        o = order()
        shipment = o.create_shipment(None, now=NOW)
        with pytest.raises(InvalidInput):
            o.ship(shipment.id, tracking_number="\n", carrier=None, now=NOW)

    def test_an_unknown_shipment_is_not_found(self) -> None:
        with pytest.raises(ShipmentNotFound):
            order().deliver(uuid.uuid4(), now=NOW)
