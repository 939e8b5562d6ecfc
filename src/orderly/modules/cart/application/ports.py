"""What the cart's use cases need from the outside: a store for cart documents."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from orderly.modules.cart.domain.cart import Cart
from orderly.modules.cart.domain.merge import MergePlan
from orderly.modules.inventory.api import Availability


@dataclass(frozen=True, slots=True)
class Viewer:
    """On whose behalf the store is asked: it hides carts the viewer may not see.

    Anonymous (``customer_id`` None) sees guest carts; a customer sees guest
    carts and their own; the system (checkout, the merge) sees every cart.
    """

    customer_id: uuid.UUID | None = None
    system: bool = False


ANONYMOUS = Viewer()
SYSTEM = Viewer(system=True)


def viewer(customer_id: uuid.UUID | None) -> Viewer:
    return Viewer(customer_id=customer_id)


@dataclass(frozen=True, slots=True)
class LineChange:
    """One atomic change to one line.

    ``add`` raises the quantity by ``quantity``; ``set`` makes it ``quantity``
    (creating the line); ``remove`` deletes it. ``currency`` is the currency
    ``price_seen`` is in: the store refuses the change (``StaleCurrency``) if
    the cart's currency is no longer that one.
    """

    sku: str
    mode: Literal["add", "set", "remove"]
    quantity: int = 0
    price_seen: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class MergeRecord:
    """Where a merged guest cart went (kept so a repeated merge can answer the same)."""

    customer_id: uuid.UUID
    cart_id: str


class StaleCurrency(Exception):
    """The cart's currency changed between pricing a line and writing it: price it again."""


class CartStore(Protocol):
    """Cart documents. Every call that finds a cart also extends its life (the TTL).

    Calls raise ``CartUnavailable`` when the store cannot be reached.
    """

    async def create_guest_cart(self, *, currency: str) -> Cart: ...

    async def open_customer_cart(
        self, *, customer_id: uuid.UUID, currency: str | None, default_currency: str
    ) -> tuple[Cart, bool]:
        """The customer's cart, created if they have none (True when created).

        ``currency`` None keeps an existing cart's currency (a new cart gets
        ``default_currency``). An empty cart switches to ``currency``; a cart with lines in
        another currency raises ``CartCurrencyConflict``.
        """
        ...

    async def read(self, cart_id: str, *, by: Viewer) -> Cart | None:
        """The cart, or None if there is none the viewer may see."""
        ...

    async def customer_cart(self, customer_id: uuid.UUID) -> Cart | None: ...

    async def change_line(self, cart_id: str, change: LineChange, *, by: Viewer) -> Cart:
        """Apply ``change`` atomically and return the cart after it.

        Raises ``CartNotFound``, ``CartLineNotFound`` (removing a line that is not
        there), ``LineQuantityLimit``, ``LineLimit`` or ``StaleCurrency``.
        """
        ...

    async def check_out(self, cart_id: str, *, version: int) -> Cart | None:
        """Remove the lines unchanged since ``version``; None if the cart is gone."""
        ...

    async def commit_merge(
        self, *, customer_id: uuid.UUID, guest: Cart, into: Cart | None, plan: MergePlan
    ) -> Cart | None:
        """Write ``plan`` into the customer's cart and delete the guest cart, in one step.

        Only if neither cart changed since it was read (``into`` None: the
        customer still has no cart); otherwise nothing is written and None is
        returned, so the caller reads both again.
        """
        ...

    async def merged_into(self, guest_cart_id: str) -> MergeRecord | None: ...


class StockLevels(Protocol):
    """The part of the inventory's facade a cart needs: stock, to show next to each line."""

    async def availability(self, skus: Sequence[str]) -> dict[str, Availability]: ...
