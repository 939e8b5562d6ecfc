"""The read side: order lists and histories for screens, straight from SQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.ordering.adapters.tables import order_events, orders
from orderly.shared_kernel.money import Money


@dataclass(frozen=True)
class OrderSummary:
    id: uuid.UUID
    status: str
    customer_id: uuid.UUID | None
    email: str
    currency: str
    total: Decimal
    fulfilment: str
    placed_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class HistoryItem:
    id: int
    kind: str
    status: str
    data: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True)
class OrderFilter:
    customer_id: uuid.UUID | None = None
    statuses: tuple[str, ...] = ()
    placed_from: datetime | None = None
    placed_to: datetime | None = None
    after: uuid.UUID | None = None
    limit: int = 50


class SqlOrderQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def page(self, where: OrderFilter) -> list[OrderSummary]:
        """Newest first; keyset on the (time-ordered) id. Served by the customer or
        status index, whichever the filter names."""
        query = select(
            orders.c.id,
            orders.c.status,
            orders.c.customer_id,
            orders.c.email,
            orders.c.currency,
            orders.c.total,
            orders.c.fulfilment,
            orders.c.placed_at,
            orders.c.updated_at,
        )
        if where.customer_id is not None:
            query = query.where(orders.c.customer_id == where.customer_id)
        if where.statuses:
            query = query.where(orders.c.status.in_(where.statuses))
        if where.placed_from is not None:
            query = query.where(orders.c.placed_at >= where.placed_from)
        if where.placed_to is not None:
            query = query.where(orders.c.placed_at < where.placed_to)
        if where.after is not None:
            query = query.where(orders.c.id < where.after)
        query = query.order_by(orders.c.id.desc()).limit(where.limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            OrderSummary(
                id=r.id,
                status=r.status,
                customer_id=r.customer_id,
                email=r.email,
                currency=r.currency,
                total=Money(r.total, r.currency).quantized(),
                fulfilment=r.fulfilment,
                placed_at=r.placed_at,
                updated_at=r.updated_at,
            )
            for r in rows
        ]

    async def history(self, order_id: uuid.UUID) -> list[HistoryItem]:
        query = select(order_events).where(order_events.c.order_id == order_id).order_by(order_events.c.id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [HistoryItem(r.id, r.kind, r.status, r.data, r.occurred_at) for r in rows]
