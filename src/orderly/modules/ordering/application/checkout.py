"""Checkout: turn a cart into a pending order whose saga then reserves stock and takes payment.

Everything that can be judged up front is judged here, before anything is
written, so bad input changes nothing: a guest without an e-mail, a saved
address that is not the customer's, an unknown or empty cart, a variant
the catalog does not sell, an address the rate table does not ship to, and
a quantity over what inventory could reserve *right now* (409; a race with
another checkout can still lose later, at the saga's reservation step, and
then the order ends ``rejected``).

Crash safety: the order's ``checkout_reference`` is derived from the caller
and their Idempotency-Key and is UNIQUE, so a re-execution of the same
request (the first died mid-way) finds the order the first one made instead
of making a second. It looks for that order before reading anything else
(the customer's saved address or e-mail may have changed since), so it
answers with the order as first made.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from dataclasses import dataclass

import structlog

from orderly.modules.cart.api import CartNotFound, CartSnapshot, CartUnavailable
from orderly.modules.catalog.api import VariantPrice
from orderly.modules.ordering.application.commands import PlaceOrder
from orderly.modules.ordering.application.customer_details import (
    SAVED_ADDRESS_FIELD,
    order_email,
    shipping_address,
)
from orderly.modules.ordering.application.ports import OrderingDeps
from orderly.modules.ordering.domain.address import ShippingAddress
from orderly.modules.ordering.domain.errors import (
    EmptyCart,
    InsufficientStock,
    ShippingNotAvailable,
    VariantUnavailable,
)
from orderly.modules.ordering.domain.order import CheckoutDraft, Order, OrderLine
from orderly.modules.ordering.domain.pricing import PriceableLine, Totals
from orderly.shared_kernel.errors import InvalidInput
from orderly.shared_kernel.ids import new_id
from orderly.shared_kernel.money import Money

log = structlog.get_logger(module="ordering")

MAX_LINES = 100
MAX_QUANTITY = 10_000


@dataclass(frozen=True)
class Placed:
    order: Order
    # Only for guest orders: the bearer secret that lets the guest read and
    # cancel this order. Shown once (its hash is stored).
    guest_token: str | None


def hash_guest_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def place_order(command: PlaceOrder, *, deps: OrderingDeps) -> Placed:
    if command.attempt > 1:
        # An earlier execution of this request may have made the order before it died.
        existing = await _reissue(command.checkout_reference, deps=deps)
        if existing is not None:
            return existing
    email = await order_email(command, deps=deps)
    address = await shipping_address(command, deps=deps)
    cart = await _cart(command, deps=deps)
    quantities = _merged(cart)
    prices = await _prices(quantities, currency=cart.currency, deps=deps)
    await _check_stock(quantities, deps=deps)
    totals = _totals(command, quantities, prices, address=address, currency=cart.currency, deps=deps)
    token = secrets.token_urlsafe(32) if command.customer_id is None else None
    draft = CheckoutDraft(
        order_id=new_id(),
        checkout_reference=command.checkout_reference,
        customer_id=command.customer_id,
        email=email,
        cart_id=cart.cart_id,
        cart_version=cart.version,
        address=address,
        lines=tuple(
            OrderLine(
                sku=line.sku,
                product_id=prices[line.sku].product_id,
                quantity=line.quantity,
                unit_price=line.unit_price,
                line_total=line.line_total,
            )
            for line in totals.lines
        ),
        totals=totals,
        guest_token_hash=hash_guest_token(token) if token else None,
    )
    order = Order.place(draft, now=deps.clock(), policy=deps.policy)
    async with deps.uow_factory() as uow:
        added = await uow.orders.add(order)
        if added:
            await uow.commit()
    if not added:
        # A zombie execution of the same request won the insert.
        log.warning("checkout re-executed concurrently", checkout_reference=command.checkout_reference)
        existing = await _reissue(command.checkout_reference, deps=deps)
        if existing is None:  # pragma: no cover - the insert just conflicted with it
            raise RuntimeError("checkout reference conflict without an order")
        return existing
    log.info("order placed", order_id=str(order.id), total=str(order.total.amount), currency=order.currency)
    return Placed(order=order, guest_token=token)


async def _cart(command: PlaceOrder, *, deps: OrderingDeps) -> CartSnapshot:
    carts = deps.cart()
    if carts is None:
        raise CartUnavailable("carts are not served by this deployment")
    cart = await carts.snapshot(command.cart_id)
    # Someone else's cart is answered like an unknown one: its existence is not leaked.
    if cart.customer_id is not None and cart.customer_id != command.customer_id:
        raise CartNotFound("no cart with this id", cart_id=command.cart_id)
    if not cart.lines:
        raise EmptyCart(command.cart_id)
    if len(cart.lines) > MAX_LINES:
        raise InvalidInput(f"an order has at most {MAX_LINES} lines", field="cart_id")
    return cart


async def _prices(
    quantities: OrderedDict[str, int], *, currency: str, deps: OrderingDeps
) -> dict[str, VariantPrice]:
    prices = await deps.catalog.variant_prices(list(quantities), currency=currency)
    for index, sku in enumerate(quantities):
        price = prices.get(sku)
        if price is None:
            raise VariantUnavailable(sku, why=f"not sold in {currency}", index=index)
        if not price.published:
            raise VariantUnavailable(sku, why="the product is not on sale", index=index)
    return prices


async def _check_stock(quantities: OrderedDict[str, int], *, deps: OrderingDeps) -> None:
    skus = list(quantities)
    availability = await deps.inventory.availability(skus)
    async with deps.uow_factory() as uow:
        waiting = await uow.orders.awaiting_reservation(skus)
    for sku in skus:
        # A SKU inventory has never stocked has no levels yet: none available. Orders
        # placed but not yet reserved will take their units first (in a rush, checkout
        # intake outruns the saga): counting them turns most doomed checkouts into a
        # 409 now instead of a rejected order later. The reservation stays the arbiter.
        stock = availability.get(sku)
        available = max((stock.available if stock is not None else 0) - waiting.get(sku, 0), 0)
        if available < quantities[sku]:
            raise InsufficientStock(sku=sku, requested=quantities[sku], available=available)


def _totals(
    command: PlaceOrder,
    quantities: OrderedDict[str, int],
    prices: dict[str, VariantPrice],
    *,
    address: ShippingAddress,
    currency: str,
    deps: OrderingDeps,
) -> Totals:
    lines = [PriceableLine(sku, qty, Money(prices[sku].amount, currency)) for sku, qty in quantities.items()]
    try:
        return deps.pricing.price(lines, country=address.country, currency=currency)
    except ShippingNotAvailable as refused:
        if isinstance(command.address, ShippingAddress):
            raise
        # The client sent a saved address's id, not its country: blame what they sent.
        raise ShippingNotAvailable(
            country=refused.country, currency=refused.currency, field=SAVED_ADDRESS_FIELD
        ) from refused


def _merged(cart: CartSnapshot) -> OrderedDict[str, int]:
    quantities: OrderedDict[str, int] = OrderedDict()
    for line in cart.lines:
        quantities[line.sku] = quantities.get(line.sku, 0) + line.quantity
    for index, (sku, quantity) in enumerate(quantities.items()):
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidInput(
                f"'{sku}': a quantity is between 1 and {MAX_QUANTITY}", field=f"lines.{index}.quantity"
            )
    return quantities


async def _reissue(reference: str, *, deps: OrderingDeps) -> Placed | None:
    """The order an earlier execution made, with a fresh guest token (the first one's
    answer never reached the client, or this execution would not be running)."""
    async with deps.uow_factory() as uow:
        order = await uow.orders.get_by_checkout_reference(reference, for_update=True)
        if order is None:
            return None
        token = None
        if order.customer_id is None:
            token = secrets.token_urlsafe(32)
            order.issue_guest_token(hash_guest_token(token))
            await uow.orders.save(order)
            await uow.commit()
    return Placed(order=order, guest_token=token)
