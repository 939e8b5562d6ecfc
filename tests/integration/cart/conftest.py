"""The cart on the real Redis: each test gets its own key namespace, removed afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from orderly.modules.cart.adapters.store import RedisCartStore
from orderly.modules.cart.application.handlers import CartService
from tests.integration.cart.fakes import FakeCatalog, FakeInventory

TTL_S = 3600


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def namespace(redis_client: aioredis.Redis, unique_prefix: str) -> AsyncIterator[str]:
    prefix = f"{unique_prefix}:cart:"
    try:
        yield prefix
    finally:
        keys = [key async for key in redis_client.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await redis_client.delete(*keys)


@pytest.fixture
def store(redis_client: aioredis.Redis, namespace: str) -> RedisCartStore:
    return RedisCartStore(redis_client, ttl_s=TTL_S, namespace=namespace)


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    for n in range(1, 6):
        catalog.add(f"MUG-{n}", f"1{n}.50")
    catalog.add("MUG-1", "14.00", "USD")
    return catalog


@pytest.fixture
def inventory() -> FakeInventory:
    return FakeInventory()


@pytest.fixture
def service(store: RedisCartStore, catalog: FakeCatalog, inventory: FakeInventory) -> CartService:
    return CartService(store=store, catalog=catalog, inventory=inventory, default_currency="EUR")


async def cart_keys(redis_client: aioredis.Redis, namespace: str) -> dict[str, object]:
    """Every key of the namespace with its content: to show that nothing was written."""
    state: dict[str, object] = {}
    async for raw in redis_client.scan_iter(match=namespace + "*", count=500):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        kind = await redis_client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        state[key] = await redis_client.hgetall(key) if kind == "hash" else await redis_client.get(key)
    return state
