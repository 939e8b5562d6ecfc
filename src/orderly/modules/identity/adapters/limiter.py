"""Attempt counters in Redis: fixed windows that start at the first recorded failure.

Each limit is one key holding a counter whose TTL is the window; a Lua script
increments it and sets the TTL atomically, so concurrent failures from many
API replicas count exactly.

If Redis is unreachable the limiter fails open (sign-in keeps working,
unthrottled) and says so in the log and the ``orderly_rate_limit_fail_open``
metric: losing Redis degrades protection, never availability (DESIGN.md). It
fails open *fast*, through the platform's ``FailOpen`` guard, which the API's
rate limiter uses too: each Redis call has a small time budget, and after a
failure Redis is left alone for a few seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as aioredis

from orderly.modules.identity.application.ports import Limit
from orderly.platform.ratelimit import FailOpen

_INCREMENT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return count
"""


class RedisAttemptLimiter:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str = "orderly:identity:",
        budget_s: float = 1.0,
        pause_after_failure_s: float = 5.0,
        max_concurrent: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._guard = FailOpen(
            limiter="identity",
            budget_s=budget_s,
            pause_after_failure_s=pause_after_failure_s,
            max_concurrent=max_concurrent,
            clock=clock,
        )
        self._increment: Any = redis.register_script(_INCREMENT)

    async def retry_after(self, limits: Sequence[Limit]) -> int | None:
        async def read() -> list[Any]:
            async with self._redis.pipeline(transaction=False) as pipe:
                for limit in limits:
                    pipe.get(self._key(limit))
                    pipe.pttl(self._key(limit))
                return list(await pipe.execute())

        replies = await self._guard.call("check", read)
        if replies is None:
            return None
        waits = []
        for index, limit in enumerate(limits):
            count, ttl_ms = replies[2 * index], int(replies[2 * index + 1])
            if count is not None and int(count) >= limit.max_attempts:
                waits.append(max(1, math.ceil(ttl_ms / 1000)) if ttl_ms > 0 else limit.window_s)
        return max(waits) if waits else None

    async def record(self, limits: Sequence[Limit]) -> None:
        async def increment() -> None:
            for limit in limits:
                await self._increment(keys=[self._key(limit)], args=[limit.window_s])

        await self._guard.call("record", increment)

    async def clear(self, limit: Limit) -> None:
        async def remove() -> None:
            await self._redis.delete(self._key(limit))

        await self._guard.call("clear", remove)

    def _key(self, limit: Limit) -> str:
        return self._prefix + limit.key
