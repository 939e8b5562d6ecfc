"""The cart's own refusals (each maps to a problem type at the edge)."""

from __future__ import annotations

from orderly.shared_kernel.errors import Conflict, InvalidInput, NotFound


class QuantityOutOfRange(InvalidInput):
    code = "quantity-out-of-range"

    def __init__(self, quantity: object, *, lowest: int, highest: int, field: str = "quantity") -> None:
        super().__init__(
            f"quantity must be a whole number from {lowest} to {highest}, not {quantity!r}", field=field
        )


class InvalidSku(InvalidInput):
    code = "invalid-sku"

    def __init__(self, sku: str, *, field: str = "sku", location: str = "path") -> None:
        super().__init__(
            "a SKU is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            field=field,
            location=location,
        )


class UnknownSku(InvalidInput):
    """The catalog has no variant with this SKU."""

    code = "unknown-sku"

    def __init__(self, sku: str, *, field: str = "sku", location: str = "path") -> None:
        super().__init__(f"SKU '{sku}' is not in the catalog", field=field, location=location, sku=sku)


class SkuNotForSale(InvalidInput):
    """The SKU's product is a draft or archived."""

    code = "sku-not-for-sale"

    def __init__(self, sku: str, *, field: str = "sku", location: str = "path") -> None:
        super().__init__(f"SKU '{sku}' is not for sale", field=field, location=location, sku=sku)


class SkuNotPriced(InvalidInput):
    """The SKU has no price in the cart's currency, so it cannot join this cart."""

    code = "sku-not-priced-in-currency"

    def __init__(self, sku: str, currency: str, *, field: str = "sku", location: str = "path") -> None:
        super().__init__(
            f"SKU '{sku}' has no price in {currency}, the cart's currency",
            field=field,
            location=location,
            sku=sku,
            currency=currency,
        )


class LineQuantityLimit(InvalidInput):
    """Adding would take a line past the most one line may hold."""

    code = "line-quantity-limit"

    def __init__(self, sku: str, *, current: int, limit: int) -> None:
        super().__init__(
            f"SKU '{sku}' is in the cart {current} time(s); a line holds at most {limit}",
            field="quantity",
            sku=sku,
            current=current,
            limit=limit,
        )


class LineLimit(InvalidInput):
    """The cart already has as many lines as a cart may hold."""

    code = "cart-line-limit"

    def __init__(self, limit: int) -> None:
        super().__init__(f"a cart holds at most {limit} different SKUs", limit=limit)


class CartLineNotFound(NotFound):
    code = "cart-line-not-found"

    def __init__(self, sku: str) -> None:
        super().__init__(f"SKU '{sku}' is not in this cart", sku=sku)


class CartCurrencyConflict(Conflict):
    """A cart's currency changes only while it is empty."""

    code = "cart-currency-conflict"

    def __init__(self, currency: str, requested: str) -> None:
        super().__init__(
            f"the cart has lines priced in {currency}; it cannot switch to {requested} until it is empty",
            currency=currency,
        )
