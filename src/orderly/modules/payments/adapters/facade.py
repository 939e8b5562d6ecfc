"""In-process implementation of the payments facade."""

from __future__ import annotations

import uuid
from decimal import Decimal

from orderly.modules.payments.adapters.queries import SqlPaymentQueries, result_of
from orderly.modules.payments.api import PaymentResult, RefundResult
from orderly.modules.payments.application.commands import AuthorizePayment, RefundPayment
from orderly.modules.payments.application.handlers import (
    UowFactory,
    authorize_payment,
    capture_payment,
    refund_payment,
    void_payment,
)
from orderly.modules.payments.application.ports import PaymentProvider
from orderly.shared_kernel.errors import NotFound


class SqlPaymentsApi:
    def __init__(
        self, *, uow_factory: UowFactory, provider: PaymentProvider, queries: SqlPaymentQueries
    ) -> None:
        self._uow_factory = uow_factory
        self._provider = provider
        self._queries = queries

    async def authorize(
        self,
        *,
        payment_reference: str,
        order_id: uuid.UUID,
        amount: Decimal,
        currency: str,
        customer_id: uuid.UUID | None = None,
    ) -> PaymentResult:
        payment = await authorize_payment(
            AuthorizePayment(
                payment_reference=payment_reference,
                order_id=order_id,
                amount=amount,
                currency=currency,
                customer_id=customer_id,
            ),
            uow_factory=self._uow_factory,
            provider=self._provider,
        )
        return result_of(payment)

    async def capture(self, *, payment_reference: str) -> PaymentResult:
        payment = await capture_payment(
            payment_reference, uow_factory=self._uow_factory, provider=self._provider
        )
        return result_of(payment)

    async def void(self, *, payment_reference: str) -> PaymentResult:
        payment = await void_payment(
            payment_reference, uow_factory=self._uow_factory, provider=self._provider
        )
        return result_of(payment)

    async def refund(self, *, payment_reference: str, refund_reference: str, amount: Decimal) -> RefundResult:
        found = await self._queries.get_by_reference(payment_reference)
        if found is None:
            raise NotFound("no payment with this reference", payment_reference=payment_reference)
        payment, refund = await refund_payment(
            RefundPayment(payment_id=found.payment_id, refund_reference=refund_reference, amount=amount),
            uow_factory=self._uow_factory,
            provider=self._provider,
        )
        return next(r for r in result_of(payment).refunds if r.refund_id == refund.id)

    async def get(self, *, payment_reference: str) -> PaymentResult | None:
        return await self._queries.get_by_reference(payment_reference)
