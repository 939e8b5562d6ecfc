"""Commands (imperative, no behaviour)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from orderly.modules.ordering.domain.address import ShippingAddress


@dataclass(frozen=True, kw_only=True)
class SavedAddress:
    """One of the signed-in customer's addresses (identity's address book), by id."""

    address_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class PlaceOrder:
    cart_id: str
    # None: the signed-in customer's account e-mail (a guest must give one).
    email: str | None
    # Typed in at checkout, or a saved address copied into the order as it is now.
    address: ShippingAddress | SavedAddress
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
