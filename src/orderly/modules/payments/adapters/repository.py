"""Loads and saves whole payment aggregates (the payment with its refunds)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly.modules.payments.adapters.tables import payments, refunds
from orderly.modules.payments.application.ports import DuplicateDelivery
from orderly.modules.payments.domain.model import (
    FailureReason,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from orderly.platform.inbox import is_inbox_duplicate
from orderly.platform.uow import SqlUnitOfWork
from orderly.shared_kernel.errors import ConcurrencyConflict
from orderly.shared_kernel.money import Money


class SqlPaymentRepository:
    def __init__(self, connection: AsyncConnection, uow: SqlUnitOfWork) -> None:
        self._connection = connection
        self._uow = uow

    async def add(self, payment: Payment) -> bool:
        inserted = await self._connection.scalar(
            pg_insert(payments)
            .values(**_payment_row(payment), version=payment.version)
            .on_conflict_do_nothing(index_elements=[payments.c.reference])
            .returning(payments.c.id)
        )
        if inserted is None:
            return False
        self._uow.track(payment)
        return True

    async def get(self, payment_id: uuid.UUID) -> Payment | None:
        return await self._load(payments.c.id == payment_id)

    async def get_by_reference(self, reference: str) -> Payment | None:
        return await self._load(payments.c.reference == reference)

    async def save(self, payment: Payment) -> None:
        """Write what changed; the row lock taken on load makes the version check a safeguard."""
        self._uow.track(payment)
        if not payment.changed:
            return
        result = await self._connection.execute(
            update(payments)
            .where(payments.c.id == payment.id, payments.c.version == payment.version)
            .values(**_payment_row(payment), version=payment.version + 1)
        )
        if result.rowcount != 1:
            raise ConcurrencyConflict("the payment changed since it was loaded", payment_id=str(payment.id))
        payment.version += 1
        payment.changed = False
        if payment.refunds:
            statement = pg_insert(refunds).values(
                [
                    {
                        "id": r.id,
                        "payment_id": payment.id,
                        "reference": r.reference,
                        "amount": r.amount.amount,
                        "status": r.status.value,
                        "provider_refund_id": r.provider_refund_id,
                        "created_at": r.created_at,
                        "updated_at": r.updated_at,
                    }
                    for r in payment.refunds
                ]
            )
            await self._connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[refunds.c.id],
                    set_={
                        "status": statement.excluded.status,
                        "provider_refund_id": statement.excluded.provider_refund_id,
                        "updated_at": statement.excluded.updated_at,
                    },
                    where=refunds.c.updated_at != statement.excluded.updated_at,
                )
            )

    async def stale_pending(self, *, before: datetime, limit: int) -> list[uuid.UUID]:
        query = (
            select(payments.c.id)
            .where(payments.c.status == PaymentStatus.PENDING.value, payments.c.updated_at < before)
            .order_by(payments.c.updated_at)
            .limit(limit)
        )
        return list(await self._connection.scalars(query))

    async def releases_due(self, *, before: datetime, limit: int) -> list[uuid.UUID]:
        query = (
            select(payments.c.id)
            .where(payments.c.release_pending, payments.c.updated_at < before)
            .order_by(payments.c.updated_at)
            .limit(limit)
        )
        return list(await self._connection.scalars(query))

    async def stale_refunds(self, *, before: datetime, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
        query = (
            select(refunds.c.payment_id, refunds.c.id)
            .where(refunds.c.status == RefundStatus.REQUESTED.value, refunds.c.updated_at < before)
            .order_by(refunds.c.updated_at)
            .limit(limit)
        )
        return [(row.payment_id, row.id) for row in await self._connection.execute(query)]

    async def _load(self, condition: object) -> Payment | None:
        row = (
            await self._connection.execute(select(payments).where(condition).with_for_update())  # type: ignore[arg-type]
        ).one_or_none()
        if row is None:
            return None
        refund_rows = (
            await self._connection.execute(
                select(refunds)
                .where(refunds.c.payment_id == row.id)
                .order_by(refunds.c.created_at, refunds.c.id)
            )
        ).all()
        payment = _payment(row, refund_rows)
        self._uow.track(payment)
        return payment


def _payment_row(payment: Payment) -> dict[str, object]:
    return {
        "id": payment.id,
        "reference": payment.reference,
        "order_id": payment.order_id,
        "customer_id": payment.customer_id,
        "amount": payment.amount.amount,
        "currency": payment.amount.currency,
        "status": payment.status.value,
        "provider_intent_id": payment.provider_intent_id,
        "captured_amount": payment.captured.amount,
        "failure_reason": payment.failure_reason.value if payment.failure_reason else None,
        "decline_code": payment.decline_code,
        "release_pending": payment.release_pending,
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
    }


def _money(amount: Decimal, currency: str) -> Money:
    return Money(Money(amount, currency).quantized(), currency)


def _payment(row: Row[Any], refund_rows: Sequence[Row[Any]]) -> Payment:
    currency = str(row.currency)
    return Payment(
        id=row.id,
        reference=row.reference,
        order_id=row.order_id,
        customer_id=row.customer_id,
        amount=_money(row.amount, currency),
        status=PaymentStatus(row.status),
        provider_intent_id=row.provider_intent_id,
        captured=_money(row.captured_amount, currency),
        failure_reason=FailureReason(row.failure_reason) if row.failure_reason else None,
        decline_code=row.decline_code,
        release_pending=row.release_pending,
        refunds=[
            Refund(
                id=r.id,
                reference=r.reference,
                amount=_money(r.amount, currency),
                status=RefundStatus(r.status),
                provider_refund_id=r.provider_refund_id,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
            for r in refund_rows
        ],
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class PaymentsSqlUnitOfWork(SqlUnitOfWork):
    payments: SqlPaymentRepository

    def _open(self, connection: AsyncConnection) -> None:
        self.payments = SqlPaymentRepository(connection, self)

    async def commit(self) -> None:
        try:
            await super().commit()
        except IntegrityError as exc:
            if is_inbox_duplicate(exc):
                raise DuplicateDelivery(str(exc.orig)) from None
            raise
