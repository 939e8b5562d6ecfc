"""Why ordering refuses an operation. Each has a stable ``code`` (the problem type)."""

from __future__ import annotations

from orderly.shared_kernel.errors import Conflict, InvalidInput, NotFound


class EmptyCart(InvalidInput):
    code = "cart-empty"

    def __init__(self, cart_id: str) -> None:
        super().__init__("the cart has no lines to order", cart_id=cart_id, field="cart_id")


class VariantUnavailable(InvalidInput):
    """Unknown to the catalog, not sold (draft or archived product), or not priced in the cart's currency."""

    code = "variant-unavailable"

    def __init__(self, sku: str, *, why: str, index: int) -> None:
        super().__init__(f"'{sku}' cannot be ordered: {why}", sku=sku, field=f"lines.{index}.sku")
        self.sku = sku


class InsufficientStock(Conflict):
    """Stock that could be reserved right now does not cover a line (HTTP 409: it may come back)."""

    code = "insufficient-stock"

    def __init__(self, *, sku: str, requested: int, available: int) -> None:
        super().__init__(
            f"only {available} of '{sku}' can be ordered right now ({requested} requested)",
            sku=sku,
            requested=requested,
            available=available,
        )


class ShippingNotAvailable(InvalidInput):
    code = "shipping-not-available"

    def __init__(self, *, country: str, currency: str, field: str = "shipping_address.country") -> None:
        super().__init__(
            f"no shipping to '{country}' for orders in {currency}",
            country=country,
            currency=currency,
            field=field,
        )
        self.country = country
        self.currency = currency


class OrderNotFound(NotFound):
    code = "order-not-found"

    def __init__(self, order_id: object) -> None:
        super().__init__("no order with this id", order_id=str(order_id))


class IllegalOrderTransition(Conflict):
    """The order's state machine does not allow this change."""

    code = "order-illegal-transition"

    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message, order_status=status)
        self.status = status


class OrderBeingConfirmed(Conflict):
    """Payment is being taken right now; the order can be cancelled once that is settled."""

    code = "order-being-confirmed"

    def __init__(self) -> None:
        super().__init__("the order is being confirmed right now; retry in a few seconds")


class RefundNotPossible(InvalidInput):
    code = "refund-not-possible"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message, field="amount", **details)
