"""Attempt counters in Redis: fixed windows that start at the first recorded failure.

Each limit is one key holding a counter whose TTL is the window; a Lua script
increments it and sets the TTL atomically, so concurrent failures from many
API replicas count exactly. If Redis is unreachable the limiter fails open
(sign-in keeps working, unthrottled) and says so in the log: losing Redis
degrades protection, never availability (DESIGN.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from orderly.modules.identity.application.ports import Limit

log = structlog.get_logger(module="identity.limiter")

_INCREMENT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return count
"""
_FAILURES = (RedisError, OSError, TimeoutError)


class RedisAttemptLimiter:
    def __init__(self, redis: aioredis.Redis, *, prefix: str = "orderly:identity:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._increment: Any = redis.register_script(_INCREMENT)

    async def retry_after(self, limits: Sequence[Limit]) -> int | None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for limit in limits:
                    pipe.get(self._key(limit))
                    pipe.pttl(self._key(limit))
                replies = await pipe.execute()
        except _FAILURES as exc:
            log.warning("rate limiter unavailable; failing open", error=type(exc).__name__)
            return None
        waits = []
        for index, limit in enumerate(limits):
            count, ttl_ms = replies[2 * index], replies[2 * index + 1]
            if count is not None and int(count) >= limit.max_attempts:
                waits.append(max(1, math.ceil(int(ttl_ms) / 1000)) if int(ttl_ms) > 0 else limit.window_s)
        return max(waits) if waits else None

    async def record(self, limits: Sequence[Limit]) -> None:
        try:
            for limit in limits:
                await self._increment(keys=[self._key(limit)], args=[limit.window_s])
        except _FAILURES as exc:
            log.warning("rate limiter unavailable; attempt not counted", error=type(exc).__name__)

    async def clear(self, limit: Limit) -> None:
        try:
            await self._redis.delete(self._key(limit))
        except _FAILURES as exc:
            log.warning("rate limiter unavailable; counter not cleared", error=type(exc).__name__)

    def _key(self, limit: Limit) -> str:
        return self._prefix + limit.key
