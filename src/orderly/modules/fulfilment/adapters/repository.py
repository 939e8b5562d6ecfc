"""Loading and saving a fulfilment order with its shipments (SQLAlchemy Core)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly.modules.fulfilment.adapters.tables import orders, shipment_lines, shipments
from orderly.modules.fulfilment.domain.model import FulfilmentOrder, Shipment, ShipmentStatus
from orderly.platform.uow import SqlUnitOfWork


class SqlFulfilmentRepository:
    def __init__(self, connection: AsyncConnection, uow: SqlUnitOfWork) -> None:
        self._connection = connection
        self._uow = uow

    async def add(self, order: FulfilmentOrder) -> bool:
        inserted = await self._connection.scalar(
            pg_insert(orders)
            .values(
                id=order.id,
                lines=order.lines,
                cancelled=order.cancelled,
                confirmed_at=order.confirmed_at,
                version=order.version,
            )
            .on_conflict_do_nothing(index_elements=[orders.c.id])
            .returning(orders.c.id)
        )
        self._uow.track(order)
        return inserted is not None

    async def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> FulfilmentOrder | None:
        query = select(orders).where(orders.c.id == order_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._connection.execute(query)).one_or_none()
        if row is None:
            return None
        shipment_rows = (
            await self._connection.execute(
                select(shipments).where(shipments.c.order_id == order_id).order_by(shipments.c.id)
            )
        ).all()
        lines: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
        if shipment_rows:
            for line in await self._connection.execute(
                select(shipment_lines).where(shipment_lines.c.shipment_id.in_([s.id for s in shipment_rows]))
            ):
                lines[line.shipment_id][line.sku] = line.quantity
        order = FulfilmentOrder(
            id=row.id,
            lines=row.lines,
            cancelled=row.cancelled,
            shipments=[_shipment(s, lines[s.id]) for s in shipment_rows],
            confirmed_at=row.confirmed_at,
            version=row.version,
        )
        self._uow.track(order)
        return order

    async def order_of_shipment(self, shipment_id: uuid.UUID) -> uuid.UUID | None:
        found: uuid.UUID | None = await self._connection.scalar(
            select(shipments.c.order_id).where(shipments.c.id == shipment_id)
        )
        return found

    async def save(self, order: FulfilmentOrder) -> None:
        await self._connection.execute(
            update(orders)
            .where(orders.c.id == order.id)
            .values(cancelled=order.cancelled, version=order.version)
        )
        for shipment in order.shipments:
            if not shipment.dirty:
                continue
            values = {
                "status": shipment.status.value,
                "carrier": shipment.carrier,
                "tracking_number": shipment.tracking_number,
                "shipped_at": shipment.shipped_at,
                "delivered_at": shipment.delivered_at,
            }
            statement = pg_insert(shipments).values(
                id=shipment.id, order_id=order.id, created_at=shipment.created_at, **values
            )
            await self._connection.execute(
                statement.on_conflict_do_update(index_elements=[shipments.c.id], set_=values)
            )
            await self._connection.execute(
                pg_insert(shipment_lines)
                .values(
                    [
                        {"shipment_id": shipment.id, "sku": sku, "quantity": qty}
                        for sku, qty in shipment.lines.items()
                    ]
                )
                .on_conflict_do_nothing()
            )
            shipment.dirty = False
        self._uow.track(order)


def _shipment(row: Row[Any], lines: dict[str, int]) -> Shipment:
    return Shipment(
        id=row.id,
        lines=lines,
        status=ShipmentStatus(row.status),
        created_at=row.created_at,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        shipped_at=row.shipped_at,
        delivered_at=row.delivered_at,
    )


class FulfilmentSqlUnitOfWork(SqlUnitOfWork):
    orders: SqlFulfilmentRepository

    def _open(self, connection: AsyncConnection) -> None:
        self.orders = SqlFulfilmentRepository(connection, self)
