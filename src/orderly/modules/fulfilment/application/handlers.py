"""Fulfilment use cases. Each writing one locks the order's row first (``FOR UPDATE``), so
two shipments of one order are decided one after the other and never over-ship."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from orderly.modules.fulfilment.application.ports import FulfilmentUnitOfWork, UowFactory
from orderly.modules.fulfilment.domain.errors import OrderNotShippable, ShipmentNotFound
from orderly.modules.fulfilment.domain.model import FulfilmentOrder, Shipment
from orderly.shared_kernel.domain import utcnow


@dataclass(frozen=True, kw_only=True)
class CreateShipment:
    order_id: uuid.UUID
    # None: every line not yet in a shipment.
    lines: Mapping[str, int] | None = None


@dataclass(frozen=True, kw_only=True)
class ShipShipment:
    shipment_id: uuid.UUID
    tracking_number: str
    carrier: str | None = None


async def follow_confirmed_order(
    *, order_id: uuid.UUID, lines: Mapping[str, int], uow: FulfilmentUnitOfWork
) -> None:
    """Ordering confirmed an order: keep what it contains (inside the consumer's unit of work).
    A redelivery, or a cancellation seen first, leaves the existing row alone."""
    await uow.orders.add(FulfilmentOrder.confirmed(order_id=order_id, lines=lines, at=utcnow()))


async def stop_following(*, order_id: uuid.UUID, uow: FulfilmentUnitOfWork) -> None:
    """Ordering cancelled an order: no new shipments. If the confirmation has not arrived
    yet (events may cross), an empty cancelled order is kept so it never becomes shippable."""
    order = await uow.orders.get(order_id, for_update=True)
    if order is None:
        tombstone = FulfilmentOrder.confirmed(order_id=order_id, lines={}, at=utcnow())
        tombstone.cancel()
        if await uow.orders.add(tombstone):
            return
        order = await uow.orders.get(order_id, for_update=True)
        assert order is not None
    order.cancel()
    await uow.orders.save(order)


async def create_shipment(command: CreateShipment, *, uow_factory: UowFactory) -> Shipment:
    async with uow_factory() as uow:
        order = await uow.orders.get(command.order_id, for_update=True)
        if order is None:
            raise OrderNotShippable(command.order_id, why="it is not confirmed (yet)")
        shipment = order.create_shipment(command.lines, now=utcnow())
        await uow.orders.save(order)
        await uow.commit()
    return shipment


async def ship(command: ShipShipment, *, uow_factory: UowFactory) -> Shipment:
    async with uow_factory() as uow:
        order = await _order_of(uow, command.shipment_id)
        shipment = order.ship(
            command.shipment_id,
            tracking_number=command.tracking_number,
            carrier=command.carrier,
            now=utcnow(),
        )
        await uow.orders.save(order)
        await uow.commit()
    return shipment


async def deliver(shipment_id: uuid.UUID, *, uow_factory: UowFactory) -> Shipment:
    async with uow_factory() as uow:
        order = await _order_of(uow, shipment_id)
        shipment = order.deliver(shipment_id, now=utcnow())
        await uow.orders.save(order)
        await uow.commit()
    return shipment


async def shipment_of(shipment_id: uuid.UUID, *, uow_factory: UowFactory) -> tuple[uuid.UUID, Shipment]:
    async with uow_factory() as uow:
        order = await _order_of(uow, shipment_id, lock=False)
        return order.id, order.shipment(shipment_id)


async def shipments_of(order_id: uuid.UUID, *, uow_factory: UowFactory) -> list[Shipment]:
    async with uow_factory() as uow:
        order = await uow.orders.get(order_id)
        return list(order.shipments) if order is not None else []


async def _order_of(
    uow: FulfilmentUnitOfWork, shipment_id: uuid.UUID, *, lock: bool = True
) -> FulfilmentOrder:
    order_id = await uow.orders.order_of_shipment(shipment_id)
    order = await uow.orders.get(order_id, for_update=lock) if order_id is not None else None
    if order is None:
        raise ShipmentNotFound(shipment_id)
    return order
