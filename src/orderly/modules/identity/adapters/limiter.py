"""Attempt counters in Redis: fixed windows that start at the first recorded failure.

Each limit is one key holding a counter whose TTL is the window; a Lua script
increments it and sets the TTL atomically, so concurrent failures from many
API replicas count exactly.

If Redis is unreachable the limiter fails open (sign-in keeps working,
unthrottled) and says so in the log: losing Redis degrades protection, never
availability (DESIGN.md). It also fails open *fast*: each Redis call has a small
time budget, and after a failure Redis is left alone for a few seconds instead
of every sign-in paying the client's connect timeouts and retries again.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

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
T = TypeVar("T")


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
        self._budget_s = budget_s
        self._pause_s = pause_after_failure_s
        self._clock = clock
        self._paused_until = 0.0
        # The Redis client's pool is shared with carts, caches and other limits;
        # a burst of sign-ins waits here rather than exhausting it.
        self._slots = asyncio.Semaphore(max_concurrent)
        self._increment: Any = redis.register_script(_INCREMENT)

    async def retry_after(self, limits: Sequence[Limit]) -> int | None:
        async def read() -> list[Any]:
            async with self._redis.pipeline(transaction=False) as pipe:
                for limit in limits:
                    pipe.get(self._key(limit))
                    pipe.pttl(self._key(limit))
                return list(await pipe.execute())

        replies = await self._call("check", read)
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

        await self._call("record", increment)

    async def clear(self, limit: Limit) -> None:
        async def remove() -> None:
            await self._redis.delete(self._key(limit))

        await self._call("clear", remove)

    async def _call(self, operation: str, action: Callable[[], Awaitable[T]]) -> T | None:
        # Waiting for a slot is back-pressure, not a Redis fault: only the Redis
        # call itself is timed, so a flood of sign-ins cannot make a healthy
        # Redis look down and switch the limiter off.
        async with self._slots:
            if self._clock() < self._paused_until:
                return None
            try:
                return await asyncio.wait_for(action(), timeout=self._budget_s)
            except _FAILURES as exc:
                self._paused_until = self._clock() + self._pause_s
                log.warning(
                    "rate limiter unavailable; failing open",
                    operation=operation,
                    error=type(exc).__name__,
                    pause_s=self._pause_s,
                )
                return None

    def _key(self, limit: Limit) -> str:
        return self._prefix + limit.key
