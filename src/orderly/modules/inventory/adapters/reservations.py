"""Loads and saves reservations; locks references and claims due reservations."""

from __future__ import annotations

import uuid
import zlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, Row, String, Uuid, bindparam, column, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly.modules.inventory.adapters.tables import reservation_allocations, reservations
from orderly.modules.inventory.domain.allocation import Allocation
from orderly.modules.inventory.domain.reservation import Line, Reservation, ReservationStatus, Shortfall
from orderly.platform.uow import SqlUnitOfWork
from orderly.shared_kernel.errors import ConcurrencyConflict

# First half of the two-integer advisory lock key: the namespace of reservation
# references (pg_locks shows it as classid, with objsubid = 2).
REFERENCE_LOCK_CLASS = zlib.crc32(b"orderly.inventory.reservation-reference") & 0x7FFFFFFF


class SqlReservationRepository:
    def __init__(self, connection: AsyncConnection, uow: SqlUnitOfWork) -> None:
        self._connection = connection
        self._uow = uow
        self._loaded_versions: dict[uuid.UUID, int] = {}

    async def lock_reference(self, reference: str) -> None:
        # An advisory lock, not a row: the reservation may not exist yet, and
        # taking it assigns no transaction id.
        await self._connection.execute(
            select(func.pg_advisory_xact_lock(REFERENCE_LOCK_CLASS, func.hashtext(reference)))
        )

    async def get(self, reference: str, *, for_update: bool = False) -> Reservation | None:
        query = (
            select(reservations, *_allocation_columns())
            .select_from(reservations.outerjoin(reservation_allocations))
            .where(reservations.c.reference == reference)
        )
        if for_update:
            # Allocations are written with the reservation and never change, so
            # the joined rows cannot be stale even if the lock had to wait.
            query = query.with_for_update(of=reservations)
        rows = (await self._connection.execute(query)).all()
        if not rows:
            return None
        return self._load(rows)

    async def add(self, reservation: Reservation) -> bool:
        inserted = await self._connection.scalar(
            pg_insert(reservations)
            .values(
                id=reservation.id,
                reference=reservation.reference,
                status=reservation.status.value,
                lines=[{"sku": line.sku, "quantity": line.quantity} for line in reservation.lines],
                shortfalls=[
                    {"sku": s.sku, "requested": s.requested, "available": s.available}
                    for s in reservation.shortfalls
                ],
                created_at=reservation.created_at,
                expires_at=reservation.expires_at,
                closed_at=reservation.closed_at,
                version=reservation.version,
            )
            .on_conflict_do_nothing(index_elements=[reservations.c.reference])
            .returning(reservations.c.id)
        )
        if inserted is None:
            return False
        self._uow.track(reservation)
        self._loaded_versions[reservation.id] = reservation.version
        if reservation.allocations:
            await self._connection.execute(
                insert(reservation_allocations),
                [
                    {
                        "reservation_id": reservation.id,
                        "sku": a.sku,
                        "warehouse_code": a.warehouse,
                        "quantity": a.quantity,
                    }
                    for a in reservation.allocations
                ],
            )
        return True

    async def save(self, items: Sequence[Reservation]) -> None:
        if not items:
            return
        change = (
            func.unnest(
                bindparam("c_id", type_=ARRAY(Uuid)),
                bindparam("c_status", type_=ARRAY(String)),
                bindparam("c_closed_at", type_=ARRAY(DateTime(timezone=True))),
                bindparam("c_version", type_=ARRAY(Integer)),
                bindparam("c_loaded_version", type_=ARRAY(Integer)),
            )
            .table_valued(
                column("id", Uuid),
                column("status", String),
                column("closed_at", DateTime(timezone=True)),
                column("version", Integer),
                column("loaded_version", Integer),
            )
            .render_derived(name="change")
        )
        updated = await self._connection.execute(
            update(reservations)
            .values(status=change.c.status, closed_at=change.c.closed_at, version=change.c.version)
            .where(reservations.c.id == change.c.id, reservations.c.version == change.c.loaded_version)
            .returning(reservations.c.id),
            {
                "c_id": [r.id for r in items],
                "c_status": [r.status.value for r in items],
                "c_closed_at": [r.closed_at for r in items],
                "c_version": [r.version for r in items],
                "c_loaded_version": [self._loaded_versions[r.id] for r in items],
            },
        )
        if len(updated.all()) != len(items):
            # Every caller holds the rows FOR UPDATE, so this means a writer skipped the lock.
            raise ConcurrencyConflict("a reservation changed underneath its lock")
        for reservation in items:
            self._loaded_versions[reservation.id] = reservation.version

    async def claim_due(self, *, limit: int, now: datetime | None) -> list[Reservation]:
        cutoff = now if now is not None else func.now()
        claimed = (
            await self._connection.execute(
                select(reservations)
                .where(
                    reservations.c.status == ReservationStatus.ACTIVE.value,
                    reservations.c.expires_at <= cutoff,
                )
                .order_by(reservations.c.expires_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not claimed:
            return []
        allocation_rows = (
            await self._connection.execute(
                select(reservation_allocations).where(
                    reservation_allocations.c.reservation_id.in_([row.id for row in claimed])
                )
            )
        ).all()
        by_reservation: dict[uuid.UUID, list[Allocation]] = defaultdict(list)
        for a in allocation_rows:
            by_reservation[a.reservation_id].append(
                Allocation(sku=a.sku, warehouse=a.warehouse_code, quantity=a.quantity)
            )
        return [self._build(row, by_reservation[row.id]) for row in claimed]

    def _load(self, rows: Sequence[Row[Any]]) -> Reservation:
        allocations = [
            Allocation(sku=r.a_sku, warehouse=r.a_warehouse, quantity=r.a_quantity)
            for r in rows
            if r.a_sku is not None
        ]
        return self._build(rows[0], allocations)

    def _build(self, row: Row[Any], allocations: list[Allocation]) -> Reservation:
        reservation = Reservation(
            id=row.id,
            reference=row.reference,
            lines=[Line(sku=line["sku"], quantity=line["quantity"]) for line in row.lines],
            status=ReservationStatus(row.status),
            allocations=allocations,
            shortfalls=[Shortfall(s["sku"], s["requested"], s["available"]) for s in row.shortfalls],
            created_at=row.created_at,
            expires_at=row.expires_at,
            closed_at=row.closed_at,
            version=row.version,
        )
        self._uow.track(reservation)
        self._loaded_versions[reservation.id] = reservation.version
        return reservation


def _allocation_columns() -> list[Any]:
    return [
        reservation_allocations.c.sku.label("a_sku"),
        reservation_allocations.c.warehouse_code.label("a_warehouse"),
        reservation_allocations.c.quantity.label("a_quantity"),
    ]
