"""Loading and saving whole orders (row, lines, refunds, history) with SQLAlchemy Core."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly.modules.ordering.adapters.tables import order_events, order_lines, order_refunds, orders
from orderly.modules.ordering.domain.address import ShippingAddress
from orderly.modules.ordering.domain.order import (
    Compensation,
    Fulfilment,
    Held,
    Order,
    OrderLine,
    OrderRefund,
    OrderStatus,
    RefundState,
)
from orderly.modules.ordering.domain.saga import SagaState, SagaStep
from orderly.platform.uow import SqlUnitOfWork
from orderly.shared_kernel.money import Money


def money(amount: Decimal, currency: str) -> Money:
    """A NUMERIC(19,4) column value as Money with exactly the currency's decimals."""
    return Money(Money(amount, currency).quantized(), currency)


def _order_values(order: Order) -> dict[str, Any]:
    return {
        "customer_id": order.customer_id,
        "email": order.email,
        "cart_id": order.cart_id,
        "cart_version": order.cart_version,
        "currency": order.currency,
        "shipping_address": order.address.to_dict(),
        "subtotal": order.subtotal.amount,
        "shipping": order.shipping.amount,
        "tax_rate": order.tax_rate,
        "tax": order.tax.amount,
        "total": order.total.amount,
        "captured": order.captured.amount,
        "status": order.status.value,
        "status_reason": order.status_reason[:500] if order.status_reason else None,
        "saga_step": order.saga.step.value,
        "saga_attempt": order.saga.attempt,
        "saga_deadline": order.saga.deadline,
        "compensation_stock": order.compensation.stock.value,
        "compensation_payment": order.compensation.payment.value,
        "stock_confirmed": order.stock_confirmed,
        "fulfilment": order.fulfilment.value,
        "fulfilment_started": order.fulfilment_started,
        "guest_token_hash": order.guest_token_hash,
        "updated_at": order.updated_at,
        "expires_at": order.expires_at,
        "version": order.version,
    }


class SqlOrderRepository:
    def __init__(self, connection: AsyncConnection, uow: SqlUnitOfWork) -> None:
        self._connection = connection
        self._uow = uow

    async def add(self, order: Order) -> bool:
        inserted = await self._connection.scalar(
            pg_insert(orders)
            .values(
                id=order.id,
                checkout_reference=order.checkout_reference,
                placed_at=order.placed_at,
                **_order_values(order),
            )
            .on_conflict_do_nothing(index_elements=[orders.c.checkout_reference])
            .returning(orders.c.id)
        )
        if inserted is None:
            return False
        await self._connection.execute(
            order_lines.insert(),
            [
                {
                    "order_id": order.id,
                    "position": position,
                    "sku": line.sku,
                    "product_id": line.product_id,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price.amount,
                    "line_total": line.line_total.amount,
                }
                for position, line in enumerate(order.lines)
            ],
        )
        await self._write_history(order)
        self._uow.track(order)
        return True

    async def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None:
        found = await self._load([orders.c.id == order_id], for_update=for_update)
        return found[0] if found else None

    async def get_by_checkout_reference(self, reference: str, *, for_update: bool = False) -> Order | None:
        found = await self._load([orders.c.checkout_reference == reference], for_update=for_update)
        return found[0] if found else None

    async def awaiting_reservation(self, skus: list[str]) -> dict[str, int]:
        query = (
            select(order_lines.c.sku, func.sum(order_lines.c.quantity))
            .join(orders, orders.c.id == order_lines.c.order_id)
            .where(
                orders.c.status == OrderStatus.PENDING.value,
                orders.c.saga_step == SagaStep.RESERVE_STOCK.value,
                order_lines.c.sku.in_(skus),
            )
            .group_by(order_lines.c.sku)
        )
        return {sku: int(quantity) for sku, quantity in await self._connection.execute(query)}

    async def claim_overdue(self, *, now: datetime, limit: int) -> list[Order]:
        return await self._load(
            [orders.c.saga_step != SagaStep.DONE.value, orders.c.saga_deadline <= now],
            for_update=True,
            skip_locked=True,
            order_by_deadline=True,
            limit=limit,
        )

    async def save(self, order: Order) -> None:
        await self._connection.execute(
            update(orders).where(orders.c.id == order.id).values(**_order_values(order))
        )
        if order.refunds:
            statement = pg_insert(order_refunds).values(
                [
                    {
                        "id": r.id,
                        "order_id": order.id,
                        "amount": r.amount.amount,
                        "reason": r.reason[:500],
                        "status": r.status.value,
                        "requested_at": r.requested_at,
                        "settled_at": r.settled_at,
                    }
                    for r in order.refunds
                ]
            )
            await self._connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[order_refunds.c.id],
                    set_={"status": statement.excluded.status, "settled_at": statement.excluded.settled_at},
                    where=order_refunds.c.status != statement.excluded.status,
                )
            )
        await self._write_history(order)
        self._uow.track(order)

    async def _write_history(self, order: Order) -> None:
        entries, order.history = order.history, []
        if entries:
            await self._connection.execute(
                order_events.insert(),
                [
                    {
                        "order_id": order.id,
                        "kind": e.kind,
                        "status": e.status.value,
                        "data": e.data,
                        "occurred_at": e.occurred_at,
                    }
                    for e in entries
                ],
            )

    async def _load(
        self,
        where: Sequence[Any],
        *,
        for_update: bool,
        skip_locked: bool = False,
        order_by_deadline: bool = False,
        limit: int | None = None,
    ) -> list[Order]:
        query = select(orders).where(*where)
        if order_by_deadline:
            query = query.order_by(orders.c.saga_deadline)
        if limit is not None:
            query = query.limit(limit)
        if for_update:
            query = query.with_for_update(skip_locked=skip_locked)
        rows = (await self._connection.execute(query)).all()
        if not rows:
            return []
        ids = [row.id for row in rows]
        lines: dict[uuid.UUID, list[Row[Any]]] = defaultdict(list)
        for line in await self._connection.execute(
            select(order_lines).where(order_lines.c.order_id.in_(ids)).order_by(order_lines.c.position)
        ):
            lines[line.order_id].append(line)
        refunds: dict[uuid.UUID, list[Row[Any]]] = defaultdict(list)
        for refund in await self._connection.execute(
            select(order_refunds)
            .where(order_refunds.c.order_id.in_(ids))
            .order_by(order_refunds.c.requested_at, order_refunds.c.id)
        ):
            refunds[refund.order_id].append(refund)
        loaded = [_order(row, lines[row.id], refunds[row.id]) for row in rows]
        for order in loaded:
            self._uow.track(order)
        return loaded


def _order(row: Row[Any], lines: list[Row[Any]], refunds: list[Row[Any]]) -> Order:
    currency = row.currency
    return Order(
        id=row.id,
        checkout_reference=row.checkout_reference,
        customer_id=row.customer_id,
        email=row.email,
        cart_id=row.cart_id,
        cart_version=row.cart_version,
        address=ShippingAddress.from_dict(row.shipping_address),
        lines=tuple(
            OrderLine(
                sku=line.sku,
                product_id=line.product_id,
                quantity=line.quantity,
                unit_price=money(line.unit_price, currency),
                line_total=money(line.line_total, currency),
            )
            for line in lines
        ),
        subtotal=money(row.subtotal, currency),
        shipping=money(row.shipping, currency),
        tax_rate=row.tax_rate.normalize(),
        tax=money(row.tax, currency),
        total=money(row.total, currency),
        status=OrderStatus(row.status),
        status_reason=row.status_reason,
        saga=SagaState(SagaStep(row.saga_step), row.saga_attempt, row.saga_deadline),
        compensation=Compensation(stock=Held(row.compensation_stock), payment=Held(row.compensation_payment)),
        stock_confirmed=row.stock_confirmed,
        captured=money(row.captured, currency),
        refunds=[
            OrderRefund(
                id=r.id,
                amount=money(r.amount, currency),
                reason=r.reason,
                status=RefundState(r.status),
                requested_at=r.requested_at,
                settled_at=r.settled_at,
            )
            for r in refunds
        ],
        fulfilment=Fulfilment(row.fulfilment),
        fulfilment_started=row.fulfilment_started,
        guest_token_hash=row.guest_token_hash,
        placed_at=row.placed_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
        version=row.version,
    )


class OrderingSqlUnitOfWork(SqlUnitOfWork):
    orders: SqlOrderRepository

    def _open(self, connection: AsyncConnection) -> None:
        self.orders = SqlOrderRepository(connection, self)
