"""The payments facade: what other modules (the ordering saga) may ask, synchronously.

Every call is idempotent per payment reference and operation: calling
``authorize`` twice with the same reference authorizes once and returns the
same payment; ``capture`` of a captured payment returns it unchanged; a
refund is identified by its own reference. Outcomes are also published as
integration events (``contracts``), which is what a saga should wait on: the
return value may be overtaken by a webhook, never contradicted by one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from orderly.shared_kernel.errors import DomainError


class PaymentProviderUnavailable(DomainError):
    """The provider gave no usable answer (timeouts, errors, circuit open).

    Nothing was decided; the same call may be repeated later, safely.
    """

    code = "payment-provider-unavailable"


@dataclass(frozen=True, kw_only=True)
class RefundResult:
    refund_id: uuid.UUID
    refund_reference: str
    payment_id: uuid.UUID
    amount: Decimal
    currency: str
    status: str  # requested | succeeded | failed


@dataclass(frozen=True, kw_only=True)
class PaymentResult:
    payment_id: uuid.UUID
    payment_reference: str
    order_id: uuid.UUID
    # pending | authorized | failed | voided | captured | partially_refunded | refunded
    status: str
    amount: Decimal
    currency: str
    captured_amount: Decimal
    refunded_amount: Decimal
    failure_reason: str | None  # declined | error | timeout, when failed
    decline_code: str | None
    refunds: tuple[RefundResult, ...] = ()


class PaymentsApi(Protocol):
    async def authorize(
        self,
        *,
        payment_reference: str,
        order_id: uuid.UUID,
        amount: Decimal,
        currency: str,
        customer_id: uuid.UUID | None = None,
    ) -> PaymentResult:
        """Hold ``amount`` on the customer's means of payment.

        Returns the payment ``authorized`` or ``failed`` (declined, or no
        answer from the provider after retries; in that case any hold the
        provider made anyway is released in the background). Reusing a
        reference with another order or amount raises ``Conflict``.
        """
        ...

    async def capture(self, *, payment_reference: str) -> PaymentResult:
        """Capture the whole authorized amount. Raises ``PaymentProviderUnavailable``
        when the provider cannot be reached (retry later: it never charges twice)
        and ``Conflict`` when the payment is not authorized."""
        ...

    async def void(self, *, payment_reference: str) -> PaymentResult:
        """Release an authorization (no-op on a failed or voided payment)."""
        ...

    async def refund(self, *, payment_reference: str, refund_reference: str, amount: Decimal) -> RefundResult:
        """Refund part or all of the captured amount; ``refund_reference`` makes it idempotent."""
        ...

    async def get(self, *, payment_reference: str) -> PaymentResult | None:
        """The payment with this reference, if there is one."""
        ...
