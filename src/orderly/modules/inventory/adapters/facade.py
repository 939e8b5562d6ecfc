"""In-process implementation of the inventory facade."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.inventory.adapters.tables import stock_items
from orderly.modules.inventory.api import (
    Availability,
    ReservationAllocation,
    ReservationLine,
    ReservationResult,
    ReservationShortfall,
)
from orderly.modules.inventory.application.commands import (
    ConfirmReservation,
    ReleaseReservation,
    ReserveStock,
)
from orderly.modules.inventory.application.handlers import (
    UowFactory,
    confirm_reservation,
    release_reservation,
    reserve_stock,
)
from orderly.modules.inventory.application.queries import InventoryQueries
from orderly.modules.inventory.application.retry import RetryPolicy
from orderly.modules.inventory.domain.reservation import Line, Reservation


def to_result(reservation: Reservation) -> ReservationResult:
    return ReservationResult(
        reference=reservation.reference,
        status=reservation.status.value,
        lines=tuple(ReservationLine(sku=line.sku, quantity=line.quantity) for line in reservation.lines),
        allocations=tuple(
            ReservationAllocation(sku=a.sku, warehouse=a.warehouse, quantity=a.quantity)
            for a in reservation.allocations
        ),
        shortfalls=tuple(
            ReservationShortfall(sku=s.sku, requested=s.requested, available=s.available)
            for s in reservation.shortfalls
        ),
        created_at=reservation.created_at,
        expires_at=reservation.expires_at,
        closed_at=reservation.closed_at,
    )


class SqlInventoryApi:
    def __init__(
        self, engine: AsyncEngine, *, uow_factory: UowFactory, retry: RetryPolicy, queries: InventoryQueries
    ) -> None:
        self._engine = engine
        self._uow_factory = uow_factory
        self._retry = retry
        self._queries = queries

    async def known_skus(self, skus: list[str]) -> set[str]:
        if not skus:
            return set()
        async with self._engine.connect() as conn:
            return set(await conn.scalars(select(stock_items.c.sku).where(stock_items.c.sku.in_(skus))))

    async def reserve(
        self, reference: str, lines: Sequence[ReservationLine], ttl: timedelta
    ) -> ReservationResult:
        command = ReserveStock(
            reference=reference,
            lines=tuple(Line(sku=line.sku, quantity=line.quantity) for line in lines),
            ttl=ttl,
        )
        return to_result(await reserve_stock(command, uow_factory=self._uow_factory, retry=self._retry))

    async def confirm(self, reference: str) -> ReservationResult:
        command = ConfirmReservation(reference=reference)
        return to_result(await confirm_reservation(command, uow_factory=self._uow_factory, retry=self._retry))

    async def release(self, reference: str) -> ReservationResult:
        command = ReleaseReservation(reference=reference)
        return to_result(await release_reservation(command, uow_factory=self._uow_factory, retry=self._retry))

    async def reservation(self, reference: str) -> ReservationResult | None:
        return await self._queries.reservation(reference)

    async def availability(self, skus: Sequence[str]) -> dict[str, Availability]:
        return await self._queries.availability(skus)
