"""Carts live for a TTL after their last use: every read and change extends it."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis

from orderly.modules.cart.adapters.store import RedisCartStore
from orderly.modules.cart.application.ports import ANONYMOUS, LineChange, viewer
from tests.integration.cart.conftest import TTL_S

ALMOST_GONE_MS = 5_000
# Well above what is left before the refresh, well below the full TTL.
REFRESHED_MS = TTL_S * 1000 - 60_000


async def age(redis_client: aioredis.Redis, *keys: str) -> None:
    for key in keys:
        assert await redis_client.pexpire(key, ALMOST_GONE_MS)


class TestRefreshOnUse:
    async def test_reading_a_guest_cart_gives_it_a_full_ttl_again(
        self, store: RedisCartStore, redis_client: aioredis.Redis
    ) -> None:
        cart = await store.create_guest_cart(currency="EUR")
        key = store.keys.cart(cart.id)
        await age(redis_client, key)
        assert await store.read(cart.id, by=ANONYMOUS) is not None
        assert await redis_client.pttl(key) > REFRESHED_MS

    async def test_changing_a_customer_cart_refreshes_the_cart_and_the_customers_pointer(
        self, store: RedisCartStore, redis_client: aioredis.Redis
    ) -> None:
        customer = uuid.uuid4()
        cart, created = await store.open_customer_cart(
            customer_id=customer, currency=None, default_currency="EUR"
        )
        assert created
        cart_key, pointer = store.keys.cart(cart.id), store.keys.owner(customer)
        await age(redis_client, cart_key, pointer)
        await store.change_line(cart.id, LineChange("MUG-1", "set", 2, None, "EUR"), by=viewer(customer))
        assert await redis_client.pttl(cart_key) > REFRESHED_MS
        assert await redis_client.pttl(pointer) > REFRESHED_MS

    async def test_finding_the_customers_cart_refreshes_both_keys(
        self, store: RedisCartStore, redis_client: aioredis.Redis
    ) -> None:
        customer = uuid.uuid4()
        cart, _ = await store.open_customer_cart(customer_id=customer, currency=None, default_currency="EUR")
        await age(redis_client, store.keys.cart(cart.id), store.keys.owner(customer))
        assert await store.customer_cart(customer) is not None
        assert await redis_client.pttl(store.keys.cart(cart.id)) > REFRESHED_MS
        assert await redis_client.pttl(store.keys.owner(customer)) > REFRESHED_MS

    async def test_a_read_the_caller_may_not_make_extends_nothing(
        self, store: RedisCartStore, redis_client: aioredis.Redis
    ) -> None:
        cart, _ = await store.open_customer_cart(
            customer_id=uuid.uuid4(), currency=None, default_currency="EUR"
        )
        key = store.keys.cart(cart.id)
        await age(redis_client, key)
        assert await store.read(cart.id, by=viewer(uuid.uuid4())) is None
        assert await redis_client.pttl(key) <= ALMOST_GONE_MS


class TestExpiry:
    async def test_a_cart_left_alone_for_its_ttl_is_gone(
        self, redis_client: aioredis.Redis, namespace: str
    ) -> None:
        short = RedisCartStore(redis_client, ttl_s=1, namespace=namespace)
        cart = await short.create_guest_cart(currency="EUR")
        await asyncio.sleep(1.2)
        assert await short.read(cart.id, by=ANONYMOUS) is None
        assert await redis_client.exists(short.keys.cart(cart.id)) == 0

    async def test_every_key_the_store_writes_has_a_ttl(
        self, store: RedisCartStore, redis_client: aioredis.Redis, namespace: str
    ) -> None:
        customer = uuid.uuid4()
        guest = await store.create_guest_cart(currency="EUR")
        await store.change_line(guest.id, LineChange("MUG-1", "add", 1, None, "EUR"), by=ANONYMOUS)
        await store.open_customer_cart(customer_id=customer, currency=None, default_currency="EUR")
        keys = [key async for key in redis_client.scan_iter(match=namespace + "*")]
        assert len(keys) == 3
        for key in keys:
            assert await redis_client.pttl(key) > 0, key
