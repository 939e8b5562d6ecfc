"""Read side: payments with their refunds, in two queries whatever their number."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.payments.adapters.tables import payments, refunds
from orderly.modules.payments.api import PaymentResult, RefundResult
from orderly.modules.payments.domain.model import Payment, RefundStatus
from orderly.shared_kernel.money import Money


class SqlPaymentQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, payment_id: uuid.UUID) -> PaymentResult | None:
        found = await self._where(payments.c.id == payment_id)
        return found[0] if found else None

    async def get_by_reference(self, reference: str) -> PaymentResult | None:
        found = await self._where(payments.c.reference == reference)
        return found[0] if found else None

    async def for_order(self, order_id: uuid.UUID) -> list[PaymentResult]:
        """Every payment made for an order, oldest first (usually one)."""
        return await self._where(payments.c.order_id == order_id)

    async def _where(self, condition: ColumnElement[bool]) -> list[PaymentResult]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(payments).where(condition).order_by(payments.c.created_at, payments.c.id)
                )
            ).all()
            if not rows:
                return []
            refund_rows = (
                await conn.execute(
                    select(refunds)
                    .where(refunds.c.payment_id.in_([row.id for row in rows]))
                    .order_by(refunds.c.created_at, refunds.c.id)
                )
            ).all()
        by_payment: dict[uuid.UUID, list[Row[Any]]] = {row.id: [] for row in rows}
        for refund in refund_rows:
            by_payment[refund.payment_id].append(refund)
        return [_result(row, by_payment[row.id]) for row in rows]


def _result(row: Row[Any], refund_rows: list[Row[Any]]) -> PaymentResult:
    currency = row.currency
    refunded = sum(
        (r.amount for r in refund_rows if r.status == RefundStatus.SUCCEEDED.value), start=Decimal(0)
    )
    return PaymentResult(
        payment_id=row.id,
        payment_reference=row.reference,
        order_id=row.order_id,
        status=row.status,
        amount=_exact(row.amount, currency),
        currency=currency,
        captured_amount=_exact(row.captured_amount, currency),
        refunded_amount=_exact(refunded, currency),
        failure_reason=row.failure_reason,
        decline_code=row.decline_code,
        refunds=tuple(
            RefundResult(
                refund_id=r.id,
                refund_reference=r.reference,
                payment_id=row.id,
                amount=_exact(r.amount, currency),
                currency=currency,
                status=r.status,
            )
            for r in refund_rows
        ),
    )


def _exact(amount: object, currency: str) -> Decimal:
    """The amount with exactly the currency's decimals (the column keeps four)."""
    return Money(Decimal(str(amount)), currency).quantized()


def result_of(payment: Payment) -> PaymentResult:
    """The DTO of an aggregate just written (no second read needed)."""
    return PaymentResult(
        payment_id=payment.id,
        payment_reference=payment.reference,
        order_id=payment.order_id,
        status=payment.status.value,
        amount=payment.amount.quantized(),
        currency=payment.amount.currency,
        captured_amount=payment.captured.quantized(),
        refunded_amount=payment.refunded.quantized(),
        failure_reason=payment.failure_reason.value if payment.failure_reason else None,
        decline_code=payment.decline_code,
        refunds=tuple(
            RefundResult(
                refund_id=r.id,
                refund_reference=r.reference,
                payment_id=payment.id,
                amount=r.amount.quantized(),
                currency=r.amount.currency,
                status=r.status.value,
            )
            for r in payment.refunds
        ),
    )
