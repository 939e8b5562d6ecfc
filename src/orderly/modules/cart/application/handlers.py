"""The cart's use cases: each reads what it needs, asks the store for one atomic change,
and answers with the cart priced as it is now."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from orderly.modules.cart.api import CartNotFound
from orderly.modules.cart.application.commands import (
    AddToCart,
    MergeGuestCart,
    OpenCart,
    RemoveLine,
    SetLineQuantity,
)
from orderly.modules.cart.application.ports import (
    SYSTEM,
    CartStore,
    LineChange,
    StaleCurrency,
    StockLevels,
    viewer,
)
from orderly.modules.cart.domain.cart import Cart, checked_quantity, checked_sku
from orderly.modules.cart.domain.errors import SkuNotForSale, SkuNotPriced, UnknownSku
from orderly.modules.cart.domain.merge import MergeAdjustment, merge_currency, plan_merge
from orderly.modules.cart.domain.pricing import CatalogPrice, PricedCart, price_cart
from orderly.modules.catalog.api import CatalogApi
from orderly.shared_kernel.errors import ConcurrencyConflict, InvalidInput
from orderly.shared_kernel.money import is_currency

# A cart's currency changes only while it is empty, and a merge only loses a
# race to a change of one of its two carts: a couple of rounds settle either.
_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    cart: PricedCart
    # False when this call changed nothing: the guest cart had been merged
    # already (a repeated call), or it is the customer's own cart.
    merged: bool
    adjustments: tuple[MergeAdjustment, ...]


class CartService:
    def __init__(
        self, *, store: CartStore, catalog: CatalogApi, inventory: StockLevels, default_currency: str
    ) -> None:
        self._store = store
        self._default_currency = default_currency
        self._catalog = catalog
        self._inventory = inventory

    async def open_cart(self, command: OpenCart) -> tuple[PricedCart, bool]:
        """The new (or the customer's existing) cart, and whether it was created."""
        if command.currency is not None and not is_currency(command.currency):
            raise InvalidInput(f"'{command.currency}' is not an ISO 4217 currency code", field="currency")
        if command.customer_id is None:
            cart = await self._store.create_guest_cart(currency=command.currency or self._default_currency)
            created = True
        else:
            cart, created = await self._store.open_customer_cart(
                customer_id=command.customer_id,
                currency=command.currency,
                default_currency=self._default_currency,
            )
        return await self.priced(cart), created

    async def show(self, *, cart_id: str, customer_id: uuid.UUID | None) -> PricedCart:
        cart = await self._store.read(cart_id, by=viewer(customer_id))
        if cart is None:
            raise CartNotFound("no cart with this id")
        return await self.priced(cart)

    async def show_customer_cart(self, *, customer_id: uuid.UUID) -> PricedCart:
        cart = await self._store.customer_cart(customer_id)
        if cart is None:
            raise CartNotFound("this customer has no cart yet; open one with POST /v1/carts")
        return await self.priced(cart)

    async def set_quantity(self, command: SetLineQuantity, *, sku_location: str = "path") -> PricedCart:
        sku = checked_sku(command.sku, location=sku_location)
        quantity = checked_quantity(command.quantity, allow_zero=True)
        if quantity == 0:
            return await self.remove_line(RemoveLine(command.cart_id, command.customer_id, sku))
        return await self._priced_change(
            command.cart_id, command.customer_id, sku, "set", quantity, sku_location=sku_location
        )

    async def add_to_cart(self, command: AddToCart) -> PricedCart:
        sku = checked_sku(command.sku, location="body")
        quantity = checked_quantity(command.quantity, allow_zero=False)
        return await self._priced_change(
            command.cart_id, command.customer_id, sku, "add", quantity, sku_location="body"
        )

    async def remove_line(self, command: RemoveLine) -> PricedCart:
        # Removing needs no price: a line can always leave, even one whose
        # product the catalog no longer sells.
        sku = checked_sku(command.sku)
        cart = await self._store.change_line(
            command.cart_id, LineChange(sku=sku, mode="remove"), by=viewer(command.customer_id)
        )
        return await self.priced(cart)

    async def merge(self, command: MergeGuestCart) -> MergeOutcome:
        """Merge the guest cart into the customer's; a repeat answers with the merged cart."""
        for _ in range(_ATTEMPTS):
            guest = await self._store.read(command.guest_cart_id, by=SYSTEM)
            if guest is None:
                return await self._merged_before(command)
            if guest.customer_id is not None:
                if guest.customer_id != command.customer_id:
                    # Another customer's cart: as if it did not exist.
                    raise CartNotFound("no cart with this id")
                return MergeOutcome(await self.priced(guest), merged=False, adjustments=())
            into = await self._store.customer_cart(command.customer_id)
            currency = merge_currency(guest=guest, into=into)
            prices: dict[str, Decimal] = {}
            if currency != guest.currency and guest.lines:
                found = await self._catalog.variant_prices(guest.skus, currency=currency)
                prices = {sku: price.amount for sku, price in found.items()}
            plan = plan_merge(guest=guest, into=into, prices=prices)
            merged = await self._store.commit_merge(
                customer_id=command.customer_id, guest=guest, into=into, plan=plan
            )
            if merged is not None:
                return MergeOutcome(await self.priced(merged), merged=True, adjustments=plan.adjustments)
        raise ConcurrencyConflict("the carts kept changing during the merge; try again")

    async def priced(self, cart: Cart) -> PricedCart:
        """The cart with the catalog's current prices and the inventory's current stock."""
        if not cart.lines:
            return price_cart(cart, prices={}, available={})
        found, stock = await asyncio.gather(
            self._catalog.variant_prices(cart.skus, currency=cart.currency),
            self._inventory.availability(cart.skus),
        )
        prices = {sku: CatalogPrice(amount=p.amount, for_sale=p.published) for sku, p in found.items()}
        return price_cart(cart, prices=prices, available={sku: s.available for sku, s in stock.items()})

    async def _priced_change(
        self,
        cart_id: str,
        customer_id: uuid.UUID | None,
        sku: str,
        mode: Literal["add", "set"],
        quantity: int,
        *,
        sku_location: str,
    ) -> PricedCart:
        by = viewer(customer_id)
        for _ in range(_ATTEMPTS):
            cart = await self._store.read(cart_id, by=by)
            if cart is None:
                raise CartNotFound("no cart with this id")
            price = await self._current_price(sku, cart.currency, location=sku_location)
            change = LineChange(
                sku=sku, mode=mode, quantity=quantity, price_seen=price, currency=cart.currency
            )
            try:
                changed = await self._store.change_line(cart_id, change, by=by)
            except StaleCurrency:
                continue
            return await self.priced(changed)
        raise ConcurrencyConflict("the cart's currency kept changing; try again")

    async def _current_price(self, sku: str, currency: str, *, location: str) -> Decimal:
        found = (await self._catalog.variant_prices([sku], currency=currency)).get(sku)
        if found is None:
            if await self._catalog.variant_prices([sku]):
                raise SkuNotPriced(sku, currency, location=location)
            raise UnknownSku(sku, location=location)
        if not found.published:
            raise SkuNotForSale(sku, location=location)
        return found.amount

    async def _merged_before(self, command: MergeGuestCart) -> MergeOutcome:
        record = await self._store.merged_into(command.guest_cart_id)
        if record is None or record.customer_id != command.customer_id:
            raise CartNotFound("no cart with this id")
        cart = await self._store.customer_cart(command.customer_id)
        if cart is None or cart.id != record.cart_id:
            # The merged cart expired or was replaced since: nothing left to show.
            raise CartNotFound("no cart with this id")
        return MergeOutcome(await self.priced(cart), merged=False, adjustments=())
