"""A read-through cache in Redis that can only ever make reads faster, never fail them.

Keys are versioned twice: ``catalog:v<N>:`` names the shape of the cached
JSON (bump it when that changes, so old and new replicas never read each
other's documents during a rollout), and listing keys embed a generation
counter that every product change increments, which retires every cached page
at once without scanning for keys.

Every Redis failure is logged and treated as a miss. After one, the cache
stays off for a short cool-down instead of paying a connection timeout on
every request while Redis is away.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

log = structlog.get_logger(module="catalog.cache")

KEY_PREFIX = "catalog:v1:"
LISTING_GENERATION = "gen:listing"

T = TypeVar("T")

_FAILURES = (RedisError, OSError, TimeoutError)


class ReadCache:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        product_ttl_s: int = 60,
        listing_ttl_s: int = 30,
        cooldown_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        namespace: str = KEY_PREFIX,
    ) -> None:
        self._redis = redis
        self._ns = namespace
        self.product_ttl_s = product_ttl_s
        self.listing_ttl_s = listing_ttl_s
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._off_until = 0.0

    async def get(self, key: str) -> bytes | None:
        value = await self._guard(lambda: self._redis.get(self._ns + key), None)
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, *, ttl_s: int) -> None:
        await self._guard(lambda: self._redis.set(self._ns + key, value, ex=ttl_s), None)

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._guard(lambda: self._redis.delete(*(self._ns + k for k in keys)), None)

    async def listing_generation(self) -> int | None:
        """The current listing generation; None when Redis cannot say (then do not cache)."""
        value = await self._guard(lambda: self._redis.get(self._ns + LISTING_GENERATION), None)
        if value is None:
            return None if self._is_off() else 0
        return int(value)

    async def retire_listings(self) -> None:
        await self._guard(lambda: self._redis.incr(self._ns + LISTING_GENERATION), None)

    def _is_off(self) -> bool:
        return self._clock() < self._off_until

    async def _guard(self, call: Callable[[], Awaitable[T]], fallback: T) -> T:
        if self._is_off():
            return fallback
        try:
            return await call()
        except _FAILURES as exc:
            self._off_until = self._clock() + self._cooldown_s
            log.warning(
                "redis unavailable, reading from the database", error=repr(exc), cooldown_s=self._cooldown_s
            )
            return fallback


def product_key(product_id: object) -> str:
    return f"product:{product_id}"


def slug_key(slug: str) -> str:
    return f"slug:{slug}"


def listing_key(generation: int, digest: str) -> str:
    return f"list:{generation}:{digest}"


CATEGORY_TREE_KEY = "categories"
