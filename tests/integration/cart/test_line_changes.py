"""Changing lines on the real Redis: each change is one atomic step, however many race."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from orderly.modules.cart.adapters.store import RedisCartStore
from orderly.modules.cart.application.commands import AddToCart, OpenCart, RemoveLine, SetLineQuantity
from orderly.modules.cart.application.handlers import CartService
from orderly.modules.cart.application.ports import ANONYMOUS, LineChange
from orderly.modules.cart.domain.cart import MAX_LINES, MAX_QUANTITY
from orderly.modules.cart.domain.errors import (
    CartLineNotFound,
    LineLimit,
    LineQuantityLimit,
    SkuNotForSale,
    SkuNotPriced,
    UnknownSku,
)
from tests.integration.cart.conftest import cart_keys
from tests.integration.cart.fakes import FakeCatalog


async def new_cart(service: CartService) -> str:
    priced, _ = await service.open_cart(OpenCart(customer_id=None))
    return priced.cart.id


async def line_quantity(store: RedisCartStore, cart_id: str, sku: str) -> int | None:
    cart = await store.read(cart_id, by=ANONYMOUS)
    assert cart is not None
    line = cart.line(sku)
    return line.quantity if line is not None else None


class TestConcurrentAdds:
    async def test_fifty_concurrent_adds_of_one_end_at_fifty(
        self, service: CartService, store: RedisCartStore
    ) -> None:
        cart_id = await new_cart(service)
        await asyncio.gather(*(service.add_to_cart(AddToCart(cart_id, None, "MUG-1", 1)) for _ in range(50)))
        cart = await store.read(cart_id, by=ANONYMOUS)
        assert cart is not None
        assert cart.line("MUG-1") is not None
        assert cart.item_count == 50
        # One version per change: none was lost, none counted twice.
        assert cart.version == 1 + 50

    async def test_racing_adds_never_take_a_line_past_the_most_it_holds(
        self, service: CartService, store: RedisCartStore
    ) -> None:
        cart_id = await new_cart(service)
        await service.set_quantity(SetLineQuantity(cart_id, None, "MUG-1", 500))
        outcomes = await asyncio.gather(
            *(service.add_to_cart(AddToCart(cart_id, None, "MUG-1", 100)) for _ in range(10)),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, LineQuantityLimit)]
        assert len(refused) == 6, outcomes
        assert len(outcomes) - len(refused) == 4
        assert await line_quantity(store, cart_id, "MUG-1") == 900

    async def test_racing_new_skus_never_take_a_cart_past_its_line_limit(
        self, service: CartService, store: RedisCartStore, catalog: FakeCatalog
    ) -> None:
        cart_id = await new_cart(service)
        for n in range(MAX_LINES + 4):
            catalog.add(f"BULK-{n}", "1.00")
        for n in range(MAX_LINES - 2):
            await store.change_line(
                cart_id,
                LineChange(f"BULK-{n}", "set", 1, None, "EUR"),
                by=ANONYMOUS,
            )
        outcomes = await asyncio.gather(
            *(
                service.add_to_cart(AddToCart(cart_id, None, f"BULK-{n}", 1))
                for n in range(MAX_LINES - 2, MAX_LINES + 4)
            ),
            return_exceptions=True,
        )
        assert sum(isinstance(o, LineLimit) for o in outcomes) == 4, outcomes
        cart = await store.read(cart_id, by=ANONYMOUS)
        assert cart is not None
        assert len(cart.lines) == MAX_LINES

    async def test_racing_sets_and_removals_keep_the_line_count_true(
        self, service: CartService, store: RedisCartStore, redis_client: aioredis.Redis
    ) -> None:
        cart_id = await new_cart(service)
        skus = [f"MUG-{n}" for n in range(1, 6)]

        async def churn(i: int) -> None:
            sku = skus[i % len(skus)]
            try:
                if i % 3 == 0:
                    await service.remove_line(RemoveLine(cart_id, None, sku))
                else:
                    await service.set_quantity(SetLineQuantity(cart_id, None, sku, i % 7 + 1))
            except CartLineNotFound:
                pass

        await asyncio.gather(*(churn(i) for i in range(60)))
        fields = await redis_client.hgetall(store.keys.cart(cart_id))
        lines = [name for name in fields if isinstance(name, bytes) and name.startswith(b"l:")]
        assert int(fields[b"n"]) == len(lines)


class TestRefusedChangesWriteNothing:
    async def test_adding_past_the_line_maximum_is_refused_with_the_current_quantity(
        self, service: CartService, store: RedisCartStore, redis_client: aioredis.Redis, namespace: str
    ) -> None:
        cart_id = await new_cart(service)
        await service.set_quantity(SetLineQuantity(cart_id, None, "MUG-1", 990))
        before = await cart_keys(redis_client, namespace)
        with pytest.raises(LineQuantityLimit) as refused:
            await service.add_to_cart(AddToCart(cart_id, None, "MUG-1", 10))
        assert refused.value.details["current"] == 990
        assert refused.value.details["limit"] == MAX_QUANTITY
        assert await cart_keys(redis_client, namespace) == before

    @pytest.mark.parametrize(
        ("sku", "error"),
        [("NOPE-1", UnknownSku), ("MUG-2", SkuNotPriced), ("MUG-3", SkuNotForSale)],
    )
    async def test_a_sku_that_cannot_be_sold_in_the_cart_is_refused_by_name(
        self,
        service: CartService,
        catalog: FakeCatalog,
        redis_client: aioredis.Redis,
        namespace: str,
        sku: str,
        error: type[Exception],
    ) -> None:
        catalog.take_off_sale("MUG-3")
        priced, _ = await service.open_cart(OpenCart(customer_id=None, currency="USD"))
        catalog.add("MUG-3", "2.00", "USD")
        before = await cart_keys(redis_client, namespace)
        with pytest.raises(error) as refused:
            await service.set_quantity(SetLineQuantity(priced.cart.id, None, sku, 1))
        assert sku in str(refused.value)
        assert await cart_keys(redis_client, namespace) == before

    async def test_removing_a_line_the_cart_does_not_have_is_refused(
        self, service: CartService, redis_client: aioredis.Redis, namespace: str
    ) -> None:
        cart_id = await new_cart(service)
        before = await cart_keys(redis_client, namespace)
        with pytest.raises(CartLineNotFound):
            await service.set_quantity(SetLineQuantity(cart_id, None, "MUG-1", 0))
        assert await cart_keys(redis_client, namespace) == before


class TestLineHistory:
    async def test_each_change_is_one_version_and_remembers_the_price_shown(
        self, service: CartService, catalog: FakeCatalog
    ) -> None:
        cart_id = await new_cart(service)
        first = await service.set_quantity(SetLineQuantity(cart_id, None, "MUG-1", 2))
        catalog.add("MUG-1", "15.00")
        shown = await service.show(cart_id=cart_id, customer_id=None)
        [line] = shown.lines
        assert line.price_changed
        assert line.price_seen is not None
        assert str(line.price_seen.amount) == "11.50"
        assert shown.cart.version == first.cart.version
        # Changing the line is the shopper acting on the new price: it becomes the price seen.
        again = await service.add_to_cart(AddToCart(cart_id, None, "MUG-1", 1))
        assert again.cart.version == first.cart.version + 1
        assert not again.lines[0].price_changed
        assert again.lines[0].quantity == 3

    async def test_lines_keep_the_order_they_were_added_in_when_changed(self, service: CartService) -> None:
        cart_id = await new_cart(service)
        for sku in ("MUG-3", "MUG-1", "MUG-2"):
            await service.set_quantity(SetLineQuantity(cart_id, None, sku, 1))
        changed = await service.set_quantity(SetLineQuantity(cart_id, None, "MUG-3", 5))
        assert [line.sku for line in changed.lines] == ["MUG-3", "MUG-1", "MUG-2"]
