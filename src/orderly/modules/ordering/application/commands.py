"""Commands (imperative, no behaviour)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from orderly.modules.ordering.domain.address import ShippingAddress


@dataclass(frozen=True, kw_only=True)
class PlaceOrder:
    cart_id: str
    email: str
    address: ShippingAddress
    customer_id: uuid.UUID | None
    # Derived from the caller and their Idempotency-Key: the same on every
    # execution of one request, unique across requests (UNIQUE in the table).
    checkout_reference: str
    # >1 when an earlier execution of the same request died mid-way.
    attempt: int = 1


@dataclass(frozen=True, kw_only=True)
class Caller:
    """Who asks: a customer (their own orders only) or staff/service."""

    customer_id: uuid.UUID | None
    staff: bool
    guest_token: str | None = None


@dataclass(frozen=True, kw_only=True)
class CancelOrder:
    order_id: uuid.UUID
    caller: Caller
    reason: str


@dataclass(frozen=True, kw_only=True)
class RefundOrder:
    order_id: uuid.UUID
    refund_id: uuid.UUID
    amount: Decimal
    reason: str
