"""Redis out of reach: every cart call says so at once, and comes back with Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from orderly.modules.cart.adapters.store import RedisCartStore
from orderly.modules.cart.api import CartUnavailable
from orderly.modules.cart.application.ports import ANONYMOUS

CLOSED_PORT = "redis://127.0.0.1:1/0"


@pytest.fixture
async def unreachable() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(CLOSED_PORT, socket_timeout=0.2, socket_connect_timeout=0.2)
    try:
        yield client
    finally:
        await client.aclose()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestUnreachable:
    async def test_every_call_raises_cart_unavailable(self, unreachable: aioredis.Redis) -> None:
        store = RedisCartStore(unreachable, ttl_s=60, cooldown_s=0)
        with pytest.raises(CartUnavailable):
            await store.create_guest_cart(currency="EUR")
        with pytest.raises(CartUnavailable):
            await store.read("A" * 32, by=ANONYMOUS)
        with pytest.raises(CartUnavailable):
            await store.merged_into("A" * 32)

    async def test_after_a_failure_redis_is_not_tried_again_until_the_cooldown_ends(
        self, unreachable: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        clock = FakeClock()
        store = RedisCartStore(unreachable, ttl_s=60, cooldown_s=5, clock=clock)
        with pytest.raises(CartUnavailable):
            await store.read("A" * 32, by=ANONYMOUS)
        attempts: list[object] = []
        script = store._read

        async def counted(**kwargs: Any) -> Any:
            attempts.append(kwargs)
            return await script(**kwargs)

        monkeypatch.setattr(store, "_read", counted)
        with pytest.raises(CartUnavailable):
            await store.read("A" * 32, by=ANONYMOUS)
        assert attempts == []
        clock.now += 5
        with pytest.raises(CartUnavailable):
            await store.read("A" * 32, by=ANONYMOUS)
        assert len(attempts) == 1


class TestPoolExhausted:
    async def test_a_busy_connection_pool_refuses_only_the_overflow_and_trips_nothing(
        self, redis_url: str, namespace: str
    ) -> None:
        tight = aioredis.from_url(redis_url, max_connections=2)
        try:
            store = RedisCartStore(tight, ttl_s=60, namespace=namespace, cooldown_s=60)
            cart = await store.create_guest_cart(currency="EUR")
            outcomes = await asyncio.gather(
                *(store.read(cart.id, by=ANONYMOUS) for _ in range(20)), return_exceptions=True
            )
            busy = [o for o in outcomes if isinstance(o, CartUnavailable)]
            assert busy, "the pool of two never ran out"
            assert all("busy" in o.message for o in busy)
            # Redis was never down: the next call goes through at once.
            assert await store.read(cart.id, by=ANONYMOUS) is not None
        finally:
            await tight.aclose()
