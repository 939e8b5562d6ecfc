"""The cart's facade: what checkout (ordering) may ask it, synchronously.

Carts live in Redis and are disposable: checkout copies what it needs into the
order (in PostgreSQL) and never depends on the cart surviving afterwards.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from orderly.shared_kernel.errors import NotFound, Unavailable


class CartNotFound(NotFound):
    code = "cart-not-found"


class CartUnavailable(Unavailable):
    """The cart store cannot be reached right now; retry later (HTTP 503)."""

    code = "cart-store-unavailable"


@dataclass(frozen=True)
class CartLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class CartSnapshot:
    cart_id: str
    customer_id: uuid.UUID | None
    currency: str
    lines: tuple[CartLine, ...]
    version: int


class CartApi(Protocol):
    async def snapshot(self, cart_id: str) -> CartSnapshot:
        """The cart's lines as they are now. Raises CartNotFound or CartUnavailable."""
        ...

    async def mark_checked_out(self, cart_id: str, *, order_id: uuid.UUID, version: int) -> None:
        """Empty the cart after an order was placed from ``version`` of it.

        Idempotent; a cart changed since ``version`` keeps its newer lines.
        Failure here never undoes the order (the cart just keeps its lines).
        """
        ...
