"""The sign-in attempt limiter against a real Redis: exact counts under concurrency, windows, fail-open."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from orderly.modules.identity.adapters.limiter import RedisAttemptLimiter
from orderly.modules.identity.application.ports import Limit


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def _limit(max_attempts: int = 3, window_s: int = 60) -> Limit:
    return Limit(f"test:{uuid.uuid4().hex}", max_attempts, window_s)


class TestAttemptLimiter:
    async def test_the_limit_blocks_after_max_attempts_for_the_rest_of_the_window(
        self, redis: aioredis.Redis
    ) -> None:
        limiter = RedisAttemptLimiter(redis, prefix="orderly:test:")
        limit = _limit(max_attempts=3, window_s=60)
        for _ in range(2):
            await limiter.record([limit])
            assert await limiter.retry_after([limit]) is None
        await limiter.record([limit])
        wait = await limiter.retry_after([limit])
        assert wait is not None
        assert 55 <= wait <= 60
        await limiter.clear(limit)
        assert await limiter.retry_after([limit]) is None

    async def test_concurrent_failures_from_many_replicas_are_counted_exactly(
        self, redis: aioredis.Redis, redis_url: str
    ) -> None:
        # Each replica has its own client and pool, as separate API processes do;
        # 100 concurrent attempts each is more than one client's pool holds.
        clients = [aioredis.from_url(redis_url) for _ in range(3)]
        try:
            replicas = [RedisAttemptLimiter(client, prefix="orderly:test:") for client in clients]
            limit = _limit(max_attempts=1000)
            await asyncio.gather(*(replicas[n % 3].record([limit]) for n in range(300)))
        finally:
            for client in clients:
                await client.aclose()
        assert int(await redis.get("orderly:test:" + limit.key) or 0) == 300
        assert 0 < await redis.ttl("orderly:test:" + limit.key) <= 60

    async def test_the_window_starts_at_the_first_failure_and_is_not_extended(
        self, redis: aioredis.Redis
    ) -> None:
        limiter = RedisAttemptLimiter(redis, prefix="orderly:test:")
        limit = _limit(window_s=2)
        await limiter.record([limit])
        first_ttl = await redis.pttl("orderly:test:" + limit.key)
        await asyncio.sleep(0.3)
        await limiter.record([limit])
        assert await redis.pttl("orderly:test:" + limit.key) < first_ttl

    async def test_the_longest_wait_of_several_exhausted_limits_is_reported(
        self, redis: aioredis.Redis
    ) -> None:
        limiter = RedisAttemptLimiter(redis, prefix="orderly:test:")
        short, long = _limit(max_attempts=1, window_s=10), _limit(max_attempts=1, window_s=100)
        await limiter.record([short, long])
        wait = await limiter.retry_after([short, long])
        assert wait is not None
        assert wait > 90

    async def test_an_unreachable_redis_fails_open_quickly_and_is_left_alone_for_a_while(self) -> None:
        down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=2, socket_timeout=2)
        limiter = RedisAttemptLimiter(down, budget_s=0.3, pause_after_failure_s=30)
        limit = _limit(max_attempts=1)
        started = time.monotonic()
        await limiter.record([limit])
        assert await limiter.retry_after([limit]) is None
        for _ in range(20):
            await limiter.record([limit])
        assert time.monotonic() - started < 1.5
        await down.aclose()
