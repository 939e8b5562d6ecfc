"""Read side: one or two queries per view, whatever its size."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, String, any_, bindparam, case, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.inventory.adapters.tables import (
    reservation_allocations,
    reservations,
    stock_items,
    stock_levels,
    stock_movements,
    warehouses,
)
from orderly.modules.inventory.api import (
    Availability,
    ReservationAllocation,
    ReservationLine,
    ReservationResult,
    ReservationShortfall,
)
from orderly.modules.inventory.application.queries import (
    LevelView,
    MovementPage,
    MovementView,
    StockView,
    WarehouseView,
)

# Only active warehouses' unreserved stock can be reserved, so only it is "available":
# the rule of the domain's totals_of (StockLevelChanged) and of the allocation policy.
_AVAILABLE = case((warehouses.c.active, stock_levels.c.on_hand - stock_levels.c.reserved), else_=0)


class SqlInventoryQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def warehouses(self) -> list[WarehouseView]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(warehouses).order_by(warehouses.c.priority, warehouses.c.code))
            return [_warehouse_view(r) for r in rows]

    async def warehouse(self, code: str) -> WarehouseView | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(warehouses).where(warehouses.c.code == code))).one_or_none()
        return _warehouse_view(row) if row is not None else None

    async def stock(self, sku: str) -> StockView | None:
        query = (
            select(
                stock_items.c.sku,
                stock_levels.c.warehouse_code,
                warehouses.c.priority,
                warehouses.c.active,
                stock_levels.c.on_hand,
                stock_levels.c.reserved,
                _AVAILABLE.label("available"),
            )
            .select_from(
                stock_items.outerjoin(stock_levels, stock_levels.c.sku == stock_items.c.sku).outerjoin(
                    warehouses, warehouses.c.code == stock_levels.c.warehouse_code
                )
            )
            .where(stock_items.c.sku == sku)
            .order_by(warehouses.c.priority, stock_levels.c.warehouse_code)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            return None
        levels = [
            LevelView(
                warehouse=r.warehouse_code,
                priority=r.priority,
                active=r.active,
                on_hand=r.on_hand,
                reserved=r.reserved,
                available=r.available,
            )
            for r in rows
            if r.warehouse_code is not None
        ]
        return StockView(
            sku=sku,
            on_hand=sum(lv.on_hand for lv in levels),
            reserved=sum(lv.reserved for lv in levels),
            available=sum(lv.available for lv in levels),
            levels=levels,
        )

    async def movements(self, sku: str, *, limit: int, before: uuid.UUID | None) -> MovementPage | None:
        query = (
            select(stock_movements)
            .where(stock_movements.c.sku == sku)
            .order_by(stock_movements.c.id.desc())
            .limit(limit + 1)
        )
        if before is not None:
            query = query.where(stock_movements.c.id < before)
        async with self._engine.connect() as conn:
            known = await conn.scalar(select(stock_items.c.sku).where(stock_items.c.sku == sku))
            if known is None:
                return None
            rows = (await conn.execute(query)).all()
        has_more = len(rows) > limit
        rows = rows[:limit]
        items = [
            MovementView(
                id=r.id,
                sku=r.sku,
                warehouse=r.warehouse_code,
                kind=r.kind,
                reason=r.reason,
                on_hand_delta=r.on_hand_delta,
                reserved_delta=r.reserved_delta,
                on_hand_after=r.on_hand_after,
                reserved_after=r.reserved_after,
                reference=r.reference,
                note=r.note,
                occurred_at=r.occurred_at,
            )
            for r in rows
        ]
        return MovementPage(items=items, last_id=rows[-1].id if rows else None, has_more=has_more)

    async def reservation(self, reference: str) -> ReservationResult | None:
        query = (
            select(
                reservations,
                reservation_allocations.c.sku.label("a_sku"),
                reservation_allocations.c.warehouse_code.label("a_warehouse"),
                reservation_allocations.c.quantity.label("a_quantity"),
            )
            .select_from(reservations.outerjoin(reservation_allocations))
            .where(reservations.c.reference == reference)
            .order_by(reservation_allocations.c.sku, reservation_allocations.c.warehouse_code)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            return None
        head = rows[0]
        return ReservationResult(
            reference=head.reference,
            status=head.status,
            lines=tuple(ReservationLine(sku=line["sku"], quantity=line["quantity"]) for line in head.lines),
            allocations=tuple(
                ReservationAllocation(sku=r.a_sku, warehouse=r.a_warehouse, quantity=r.a_quantity)
                for r in rows
                if r.a_sku is not None
            ),
            shortfalls=tuple(
                ReservationShortfall(sku=s["sku"], requested=s["requested"], available=s["available"])
                for s in head.shortfalls
            ),
            created_at=head.created_at,
            expires_at=head.expires_at,
            closed_at=head.closed_at,
        )

    async def availability(self, skus: Sequence[str]) -> dict[str, Availability]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        query = (
            select(
                stock_items.c.sku,
                func.coalesce(func.sum(stock_levels.c.on_hand), 0).label("on_hand"),
                func.coalesce(func.sum(stock_levels.c.reserved), 0).label("reserved"),
                func.coalesce(func.sum(_AVAILABLE), 0).label("available"),
            )
            .select_from(
                stock_items.outerjoin(stock_levels, stock_levels.c.sku == stock_items.c.sku).outerjoin(
                    warehouses, warehouses.c.code == stock_levels.c.warehouse_code
                )
            )
            .where(stock_items.c.sku == any_(bindparam("skus", type_=ARRAY(String))))
            .group_by(stock_items.c.sku)
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(query, {"skus": wanted})
            return {
                r.sku: Availability(sku=r.sku, on_hand=r.on_hand, reserved=r.reserved, available=r.available)
                for r in rows
            }


def _warehouse_view(row: Row[Any]) -> WarehouseView:
    return WarehouseView(
        code=row.code,
        name=row.name,
        priority=row.priority,
        active=row.active,
        created_at=row.created_at,
        version=row.version,
    )
