"""The facade checkout uses: a snapshot of the lines, and emptying the cart after the order."""

from __future__ import annotations

import uuid

import pytest

from orderly.modules.cart.adapters.facade import RedisCartApi
from orderly.modules.cart.adapters.store import RedisCartStore
from orderly.modules.cart.api import CartApi, CartLine, CartNotFound
from orderly.modules.cart.application.commands import AddToCart, OpenCart, SetLineQuantity
from orderly.modules.cart.application.handlers import CartService


@pytest.fixture
def facade(store: RedisCartStore) -> CartApi:
    return RedisCartApi(store)


async def filled_cart(service: CartService, customer: uuid.UUID | None = None) -> str:
    priced, _ = await service.open_cart(OpenCart(customer_id=customer))
    await service.set_quantity(SetLineQuantity(priced.cart.id, customer, "MUG-1", 2))
    await service.set_quantity(SetLineQuantity(priced.cart.id, customer, "MUG-2", 1))
    return priced.cart.id


class TestSnapshot:
    async def test_a_snapshot_has_the_lines_owner_currency_and_version(
        self, service: CartService, facade: CartApi
    ) -> None:
        customer = uuid.uuid4()
        cart_id = await filled_cart(service, customer)
        snapshot = await facade.snapshot(cart_id)
        assert snapshot.cart_id == cart_id
        assert snapshot.customer_id == customer
        assert snapshot.currency == "EUR"
        assert snapshot.lines == (CartLine("MUG-1", 2), CartLine("MUG-2", 1))
        assert snapshot.version == 3

    async def test_a_missing_cart_has_no_snapshot(self, facade: CartApi) -> None:
        with pytest.raises(CartNotFound):
            await facade.snapshot("Q" * 32)


class TestMarkCheckedOut:
    async def test_the_lines_ordered_are_removed(self, service: CartService, facade: CartApi) -> None:
        cart_id = await filled_cart(service)
        snapshot = await facade.snapshot(cart_id)
        await facade.mark_checked_out(cart_id, order_id=uuid.uuid4(), version=snapshot.version)
        after = await facade.snapshot(cart_id)
        assert after.lines == ()
        assert after.version == snapshot.version + 1

    async def test_lines_added_or_changed_after_the_snapshot_stay(
        self, service: CartService, facade: CartApi
    ) -> None:
        cart_id = await filled_cart(service)
        snapshot = await facade.snapshot(cart_id)
        await service.add_to_cart(AddToCart(cart_id, None, "MUG-3", 1))
        await service.set_quantity(SetLineQuantity(cart_id, None, "MUG-2", 5))
        await facade.mark_checked_out(cart_id, order_id=uuid.uuid4(), version=snapshot.version)
        assert (await facade.snapshot(cart_id)).lines == (CartLine("MUG-2", 5), CartLine("MUG-3", 1))

    async def test_marking_again_changes_nothing(self, service: CartService, facade: CartApi) -> None:
        cart_id = await filled_cart(service)
        snapshot = await facade.snapshot(cart_id)
        order_id = uuid.uuid4()
        await facade.mark_checked_out(cart_id, order_id=order_id, version=snapshot.version)
        await service.add_to_cart(AddToCart(cart_id, None, "MUG-1", 1))
        once = await facade.snapshot(cart_id)
        await facade.mark_checked_out(cart_id, order_id=order_id, version=snapshot.version)
        assert await facade.snapshot(cart_id) == once

    async def test_a_cart_that_expired_meanwhile_is_not_an_error(self, facade: CartApi) -> None:
        await facade.mark_checked_out("E" * 32, order_id=uuid.uuid4(), version=4)
