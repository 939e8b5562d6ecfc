"""Read side: a payment with its refunds, in two queries."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.payments.adapters.tables import payments, refunds
from orderly.modules.payments.api import PaymentResult, RefundResult
from orderly.modules.payments.domain.model import Payment, RefundStatus
from orderly.shared_kernel.money import Money


class SqlPaymentQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, payment_id: uuid.UUID) -> PaymentResult | None:
        return await self._one(payments.c.id == payment_id)

    async def get_by_reference(self, reference: str) -> PaymentResult | None:
        return await self._one(payments.c.reference == reference)

    async def _one(self, condition: object) -> PaymentResult | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(payments).where(condition))).one_or_none()  # type: ignore[arg-type]
            if row is None:
                return None
            refund_rows = (
                await conn.execute(
                    select(refunds)
                    .where(refunds.c.payment_id == row.id)
                    .order_by(refunds.c.created_at, refunds.c.id)
                )
            ).all()
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
