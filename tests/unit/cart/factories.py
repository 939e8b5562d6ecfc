"""Carts for tests: valid by default, one argument away from the case under test."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from orderly.modules.cart.domain.cart import Cart, CartLine

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def line(
    sku: str = "MUG-1",
    quantity: int = 1,
    price_seen: str | None = "12.50",
    *,
    added_at: int = 1,
    changed_at: int | None = None,
) -> CartLine:
    return CartLine(
        sku=sku,
        quantity=quantity,
        price_seen=Decimal(price_seen) if price_seen is not None else None,
        added_at=added_at,
        changed_at=changed_at if changed_at is not None else added_at,
    )


def cart(
    *lines: CartLine,
    currency: str = "EUR",
    customer_id: uuid.UUID | None = None,
    version: int | None = None,
    cart_id: str = "g" * 32,
) -> Cart:
    return Cart.of(
        cart_id=cart_id,
        currency=currency,
        customer_id=customer_id,
        version=version if version is not None else 1 + len(lines),
        lines=lines,
        created_at=T0,
        updated_at=T0,
    )


def numbered_lines(count: int, *, quantity: int = 1, prefix: str = "SKU") -> list[CartLine]:
    return [line(f"{prefix}-{n}", quantity, added_at=n + 2) for n in range(count)]
