"""Who reaches which cart: a guest cart by its id, a customer's cart by that customer only."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from orderly.modules.cart.adapters.store import RedisCartStore
from orderly.modules.cart.api import CartNotFound
from orderly.modules.cart.application.commands import OpenCart, RemoveLine, SetLineQuantity
from orderly.modules.cart.application.handlers import CartService
from orderly.modules.cart.application.ports import ANONYMOUS, SYSTEM, viewer
from orderly.modules.cart.domain.errors import CartCurrencyConflict
from tests.integration.cart.conftest import cart_keys


class TestGuestCarts:
    async def test_a_guest_cart_is_reached_by_its_id_with_or_without_a_customer(
        self, service: CartService, store: RedisCartStore
    ) -> None:
        priced, created = await service.open_cart(OpenCart(customer_id=None))
        assert created
        assert priced.cart.customer_id is None
        await service.set_quantity(SetLineQuantity(priced.cart.id, uuid.uuid4(), "MUG-1", 1))
        assert await store.read(priced.cart.id, by=ANONYMOUS) is not None
        assert await store.read(priced.cart.id, by=viewer(uuid.uuid4())) is not None

    async def test_an_unknown_id_is_not_found(self, service: CartService) -> None:
        with pytest.raises(CartNotFound):
            await service.show(cart_id="A" * 32, customer_id=None)


class TestCustomerCarts:
    async def test_only_the_owner_reaches_a_customers_cart(
        self, service: CartService, store: RedisCartStore
    ) -> None:
        owner = uuid.uuid4()
        priced, _ = await service.open_cart(OpenCart(customer_id=owner))
        cart_id = priced.cart.id
        assert await store.read(cart_id, by=viewer(owner)) is not None
        assert await store.read(cart_id, by=viewer(uuid.uuid4())) is None
        assert await store.read(cart_id, by=ANONYMOUS) is None
        assert await store.read(cart_id, by=SYSTEM) is not None

    async def test_someone_elses_customer_cart_cannot_be_changed_and_is_left_as_it_was(
        self, service: CartService, redis_client: aioredis.Redis, namespace: str
    ) -> None:
        owner = uuid.uuid4()
        priced, _ = await service.open_cart(OpenCart(customer_id=owner))
        await service.set_quantity(SetLineQuantity(priced.cart.id, owner, "MUG-1", 2))
        before = await cart_keys(redis_client, namespace)
        for intruder in (None, uuid.uuid4()):
            with pytest.raises(CartNotFound):
                await service.set_quantity(SetLineQuantity(priced.cart.id, intruder, "MUG-1", 9))
            with pytest.raises(CartNotFound):
                await service.remove_line(RemoveLine(priced.cart.id, intruder, "MUG-1"))
            with pytest.raises(CartNotFound):
                await service.show(cart_id=priced.cart.id, customer_id=intruder)
        assert await cart_keys(redis_client, namespace) == before

    async def test_a_customer_has_one_cart_however_many_open_it_at_once(self, service: CartService) -> None:
        owner = uuid.uuid4()
        opened = await asyncio.gather(*(service.open_cart(OpenCart(customer_id=owner)) for _ in range(10)))
        assert len({priced.cart.id for priced, _ in opened}) == 1
        assert sum(created for _, created in opened) == 1
        mine = await service.show_customer_cart(customer_id=owner)
        assert mine.cart.id == opened[0][0].cart.id

    async def test_an_empty_customer_cart_switches_currency_but_one_with_lines_does_not(
        self, service: CartService
    ) -> None:
        owner = uuid.uuid4()
        await service.open_cart(OpenCart(customer_id=owner))
        switched, created = await service.open_cart(OpenCart(customer_id=owner, currency="USD"))
        assert (switched.cart.currency, created) == ("USD", False)
        await service.set_quantity(SetLineQuantity(switched.cart.id, owner, "MUG-1", 1))
        with pytest.raises(CartCurrencyConflict):
            await service.open_cart(OpenCart(customer_id=owner, currency="EUR"))
        kept, _ = await service.open_cart(OpenCart(customer_id=owner))
        assert kept.cart.currency == "USD"
        assert str(kept.subtotal.amount) == "14.00"
