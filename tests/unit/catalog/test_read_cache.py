"""The read cache only ever speeds reads up: any Redis failure is a miss, then a pause."""

from __future__ import annotations

from typing import Any

import fakeredis
from redis.exceptions import ConnectionError as RedisConnectionError

from orderly.modules.catalog.adapters.cache import ReadCache


class _DownRedis:
    """A Redis client whose every command fails, counting the attempts."""

    def __init__(self) -> None:
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        async def fail(*args: object, **kwargs: object) -> None:
            self.calls += 1
            raise RedisConnectionError("Connection refused")

        return fail


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TestReadCache:
    async def test_a_stored_document_is_read_back_until_deleted(self) -> None:
        cache = ReadCache(fakeredis.FakeAsyncRedis())
        await cache.set("product:1", b"{}", ttl_s=60)
        assert await cache.get("product:1") == b"{}"
        await cache.delete("product:1")
        assert await cache.get("product:1") is None

    async def test_retiring_listings_moves_the_generation_on(self) -> None:
        cache = ReadCache(fakeredis.FakeAsyncRedis())
        assert await cache.listing_generation() == 0
        await cache.retire_listings()
        assert await cache.listing_generation() == 1

    async def test_a_failing_redis_reads_as_a_miss_and_writes_are_dropped(self) -> None:
        cache = ReadCache(_DownRedis())  # type: ignore[arg-type]
        assert await cache.get("product:1") is None
        await cache.set("product:1", b"{}", ttl_s=60)
        await cache.delete("product:1")
        await cache.retire_listings()

    async def test_after_a_failure_redis_is_left_alone_for_the_cool_down(self) -> None:
        redis, clock = _DownRedis(), _Clock()
        cache = ReadCache(redis, cooldown_s=5, clock=clock)  # type: ignore[arg-type]
        await cache.get("a")
        for _ in range(10):
            assert await cache.get("a") is None
        assert redis.calls == 1
        clock.now += 5.1
        await cache.get("a")
        assert redis.calls == 2

    async def test_listings_are_not_cached_while_redis_cannot_give_the_generation(self) -> None:
        cache = ReadCache(_DownRedis())  # type: ignore[arg-type]
        assert await cache.listing_generation() is None
