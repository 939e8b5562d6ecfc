"""The cart's facade for checkout, in-process, over the Redis store."""

from __future__ import annotations

import uuid

import structlog

from orderly.modules.cart.adapters.store import log_ref
from orderly.modules.cart.api import CartLine, CartNotFound, CartSnapshot
from orderly.modules.cart.application.ports import SYSTEM, CartStore

log = structlog.get_logger(module="cart.facade")


class RedisCartApi:
    """Checkout's view of carts: no ownership check here (checkout compares
    ``customer_id`` with its caller), and every call keeps the cart alive."""

    def __init__(self, store: CartStore) -> None:
        self._store = store

    async def snapshot(self, cart_id: str) -> CartSnapshot:
        """The cart's lines as they are now. Raises CartNotFound or CartUnavailable."""
        cart = await self._store.read(cart_id, by=SYSTEM)
        if cart is None:
            raise CartNotFound("no cart with this id")
        return CartSnapshot(
            cart_id=cart.id,
            customer_id=cart.customer_id,
            currency=cart.currency,
            lines=tuple(CartLine(sku=line.sku, quantity=line.quantity) for line in cart.lines),
            version=cart.version,
        )

    async def mark_checked_out(self, cart_id: str, *, order_id: uuid.UUID, version: int) -> None:
        """Empty the lines the order was placed from (those unchanged since ``version``).

        Idempotent: a repeat finds nothing left to remove. Lines added or changed
        after ``version`` stay. A cart that has expired meanwhile is as empty as
        it can be, so that is not an error. Raises CartUnavailable.
        """
        cart = await self._store.check_out(cart_id, version=version)
        log.info(
            "cart checked out",
            cart=log_ref(cart_id),
            order_id=str(order_id),
            version=version,
            found=cart is not None,
            lines_left=len(cart.lines) if cart is not None else 0,
        )
