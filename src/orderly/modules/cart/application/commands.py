"""What a shopper can ask of the cart. ``customer_id`` is the caller (None: a guest)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OpenCart:
    """A new guest cart, or the customer's cart (created if they have none)."""

    customer_id: uuid.UUID | None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class SetLineQuantity:
    """Make the line of ``sku`` hold ``quantity`` (0 removes it)."""

    cart_id: str
    customer_id: uuid.UUID | None
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class AddToCart:
    """Raise the line of ``sku`` by ``quantity`` (creating it)."""

    cart_id: str
    customer_id: uuid.UUID | None
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class RemoveLine:
    cart_id: str
    customer_id: uuid.UUID | None
    sku: str


@dataclass(frozen=True, slots=True)
class MergeGuestCart:
    """Move a guest cart's lines into the signed-in customer's cart."""

    customer_id: uuid.UUID
    guest_cart_id: str
