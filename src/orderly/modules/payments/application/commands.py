"""Commands (imperative, no behaviour)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, kw_only=True)
class AuthorizePayment:
    payment_reference: str
    order_id: uuid.UUID
    amount: Decimal
    currency: str
    customer_id: uuid.UUID | None = None


@dataclass(frozen=True, kw_only=True)
class RefundPayment:
    payment_id: uuid.UUID
    refund_reference: str
    amount: Decimal
