"""A cart as the store keeps it: lines of SKUs and quantities, one currency, a version.

A cart holds no prices of its own beyond ``price_seen`` per line (what the
shopper was shown when they last changed that line): current prices and
stock are read from the catalog and inventory each time the cart is shown.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from orderly.modules.cart.domain.errors import InvalidSku, QuantityOutOfRange

MAX_QUANTITY = 999
MAX_LINES = 100
# 24 random bytes: 192 bits, as 32 URL-safe characters. A guest cart is
# reached by its id alone, so the id is the credential.
CART_ID_BYTES = 24
CART_ID_LENGTH = 32
CART_ID_PATTERN = r"^[A-Za-z0-9_-]{32}$"
# The catalog's SKU alphabet: anything else cannot be a SKU, so it is refused
# before any lookup (and it never contains the store's separators).
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_SKU = re.compile(SKU_PATTERN)
_CART_ID = re.compile(CART_ID_PATTERN)


def new_cart_id() -> str:
    return secrets.token_urlsafe(CART_ID_BYTES)


def is_cart_id(value: str) -> bool:
    return _CART_ID.fullmatch(value) is not None


def checked_sku(sku: str, *, field: str = "sku", location: str = "path") -> str:
    if not isinstance(sku, str) or _SKU.fullmatch(sku) is None:
        raise InvalidSku(str(sku), field=field, location=location)
    return sku


def checked_quantity(quantity: int, *, allow_zero: bool) -> int:
    """A line quantity: 1..MAX_QUANTITY, or 0 where 0 means "remove the line"."""
    lowest = 0 if allow_zero else 1
    # bool is an int in Python; True is not a quantity.
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not lowest <= quantity <= MAX_QUANTITY:
        raise QuantityOutOfRange(quantity, lowest=lowest, highest=MAX_QUANTITY)
    return quantity


@dataclass(frozen=True, slots=True)
class CartLine:
    sku: str
    quantity: int
    # The unit price (in the cart's currency) the shopper was shown when the
    # line was last changed; None if it was never priced (older documents).
    price_seen: Decimal | None
    # Cart versions: when the line first appeared (display order) and when it
    # last changed (checkout empties only lines unchanged since its snapshot).
    added_at: int
    changed_at: int


@dataclass(frozen=True, slots=True)
class Cart:
    id: str
    currency: str
    customer_id: uuid.UUID | None
    version: int
    lines: tuple[CartLine, ...]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(
        cls,
        *,
        cart_id: str,
        currency: str,
        customer_id: uuid.UUID | None,
        version: int,
        lines: Iterable[CartLine],
        created_at: datetime,
        updated_at: datetime,
    ) -> Cart:
        """A cart with its lines in the order they were added."""
        ordered = tuple(sorted(lines, key=lambda line: (line.added_at, line.sku)))
        return cls(cart_id, currency, customer_id, version, ordered, created_at, updated_at)

    @property
    def is_guest(self) -> bool:
        return self.customer_id is None

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def skus(self) -> list[str]:
        return [line.sku for line in self.lines]

    def line(self, sku: str) -> CartLine | None:
        return next((line for line in self.lines if line.sku == sku), None)
