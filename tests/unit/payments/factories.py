"""Test data for the payment aggregate: payments in any state, provider views."""

from __future__ import annotations

import uuid
from decimal import Decimal

from orderly.modules.payments.domain.model import (
    Payment,
    ProviderRefundView,
    ProviderStatus,
    ProviderView,
)
from orderly.shared_kernel.money import Money

INTENT_ID = "pi_test"


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def new_payment(amount: str = "20.00", reference: str | None = None) -> Payment:
    return Payment.start(
        reference=reference or f"order-{uuid.uuid4().hex[:8]}", order_id=uuid.uuid4(), amount=eur(amount)
    )


def view(
    status: ProviderStatus,
    *,
    captured: str = "0",
    refunds: tuple[ProviderRefundView, ...] = (),
    decline_code: str | None = None,
    intent_id: str = INTENT_ID,
) -> ProviderView:
    return ProviderView(
        provider_intent_id=intent_id,
        status=status,
        amount_captured=eur(captured),
        refunds=refunds,
        decline_code=decline_code,
    )


def refund_view(provider_refund_id: str, amount: str, reference: str | None) -> ProviderRefundView:
    return ProviderRefundView(provider_refund_id=provider_refund_id, amount=eur(amount), reference=reference)


def authorized_payment(amount: str = "20.00") -> Payment:
    payment = new_payment(amount)
    payment.reconcile(view(ProviderStatus.AUTHORIZED))
    payment.collect_events()
    return payment


def captured_payment(amount: str = "20.00") -> Payment:
    payment = authorized_payment(amount)
    payment.reconcile(view(ProviderStatus.CAPTURED, captured=amount))
    payment.collect_events()
    return payment
