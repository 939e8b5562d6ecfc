"""A cart priced for display: current prices and stock, line totals, what changed.

Nothing here is stored: the catalog's prices and the inventory's stock are
read every time the cart is shown, so a cart never shows yesterday's price as
today's. What the shopper saw before (``price_seen``) is compared with the
current price so the difference can be shown, here and at checkout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from orderly.modules.cart.domain.cart import Cart, CartLine
from orderly.shared_kernel.errors import InvalidInput
from orderly.shared_kernel.money import Money


class LineStatus(StrEnum):
    OK = "ok"
    # The product was unpublished or archived since the line was added.
    NOT_FOR_SALE = "not_for_sale"
    # The catalog no longer knows the SKU, or it lost its price in the cart's currency.
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class CatalogPrice:
    """The catalog's current unit price of a SKU in the cart's currency."""

    amount: Decimal
    for_sale: bool


@dataclass(frozen=True, slots=True)
class PricedLine:
    sku: str
    quantity: int
    status: LineStatus
    unit_price: Money | None
    line_total: Money | None
    price_seen: Money | None
    price_changed: bool
    # Units inventory could reserve now; None when inventory does not track the SKU.
    available: int | None
    enough_stock: bool | None


@dataclass(frozen=True, slots=True)
class PricedCart:
    cart: Cart
    lines: tuple[PricedLine, ...]
    # The sum of the lines that can be bought (status ok).
    subtotal: Money

    @property
    def has_price_changes(self) -> bool:
        return any(line.price_changed for line in self.lines)

    @property
    def has_unavailable_lines(self) -> bool:
        return any(line.status is not LineStatus.OK for line in self.lines)

    @property
    def has_stock_shortfalls(self) -> bool:
        return any(line.enough_stock is False for line in self.lines)


def price_cart(cart: Cart, *, prices: Mapping[str, CatalogPrice], available: Mapping[str, int]) -> PricedCart:
    """Price every line at the catalog's current price in the cart's currency.

    ``prices`` holds the SKUs the catalog priced in that currency; ``available``
    the SKUs inventory tracks. A line missing from ``prices`` is unavailable,
    and counts toward nothing.
    """
    lines = tuple(
        _price_line(line, cart.currency, prices.get(line.sku), available.get(line.sku)) for line in cart.lines
    )
    subtotal = Money(Decimal(0), cart.currency)
    for line in lines:
        if line.line_total is not None:
            subtotal = subtotal + line.line_total
    return PricedCart(cart=cart, lines=lines, subtotal=subtotal)


def _price_line(
    line: CartLine, currency: str, price: CatalogPrice | None, available: int | None
) -> PricedLine:
    seen = _money_or_none(line.price_seen, currency)
    if price is None or not price.for_sale:
        status = LineStatus.UNAVAILABLE if price is None else LineStatus.NOT_FOR_SALE
        unit = total = None
    else:
        status = LineStatus.OK
        unit = Money(price.amount, currency)
        # Exact: a unit price already has the currency's decimals, times a whole number.
        total = Money(price.amount * line.quantity, currency)
    return PricedLine(
        sku=line.sku,
        quantity=line.quantity,
        status=status,
        unit_price=unit,
        line_total=total,
        price_seen=seen,
        price_changed=unit is not None and seen is not None and unit.amount != seen.amount,
        available=available,
        enough_stock=None if available is None else line.quantity <= available,
    )


def _money_or_none(amount: Decimal | None, currency: str) -> Money | None:
    if amount is None:
        return None
    try:
        return Money(amount, currency)
    except InvalidInput:
        # A seen price that does not fit the currency cannot be compared; showing
        # no earlier price beats refusing to show the cart.
        return None
