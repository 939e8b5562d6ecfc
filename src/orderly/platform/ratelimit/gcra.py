"""The generic cell rate algorithm (GCRA) in Redis: one key and one Lua call per request.

A quota of ``limit`` requests per ``window_s`` becomes an emission interval
``T = window / limit``. The key holds the bucket's theoretical arrival time
(TAT): when the next request would be due if the client sent at exactly the
allowed rate. A request is admitted while the TAT, pushed on by ``T``, stays
within one window of now; so a quiet client may burst the whole quota at
once, then gets one more request every ``T``. Nothing refills in the
background and the key expires when the bucket is full again (redis-cell's
algorithm, without the module).

The script reads the clock of Redis itself (``TIME``), so API replicas whose
clocks disagree still share one schedule, and does everything in one atomic
call: concurrent requests from every replica are admitted exactly up to the
quota.

Why no library: ``limits`` (alisaifee, the maintained Python choice) builds
its own Redis client from a URL, so it can run neither on the app's client
(with its pool, timeouts and fail-open guard) nor on the embedded default's
in-process fakeredis; its moving window keeps one entry per request (a list
as long as the quota, per client and route), its sliding-window counter is
an approximation, and reading what the RateLimit headers need takes a second
round trip after the hit. GCRA answers all of it in one call on one small key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from orderly.platform.ratelimit.failopen import FailOpen

PREFIX = "orderly:ratelimit:"

# KEYS[1]: the bucket. ARGV[1]: quota (requests), ARGV[2]: window (microseconds).
# Returns {admitted (1 or 0), remaining, wait}: wait is the time (microseconds)
# until one more request would be admitted. Integer microseconds stay exact in
# Lua's doubles (2^53 us is 285 years past the epoch). The emission interval is
# rounded up to a whole microsecond and the burst is exactly `quota` of them.
_ACQUIRE = """
local quota = tonumber(ARGV[1])
local emission = math.ceil(tonumber(ARGV[2]) / quota)
local period = emission * quota
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local debt = tat + emission - now
if debt > period then
  return {0, 0, debt - period}
end
redis.call('SET', KEYS[1], string.format('%d', now + debt), 'PX', math.ceil(debt / 1000))
local remaining = math.floor((period - debt) / emission)
return {1, remaining, debt - period + (remaining + 1) * emission}
"""


@dataclass(frozen=True, slots=True)
class Quota:
    """``limit`` requests per ``window_s`` seconds, in a burst or spread out."""

    limit: int
    window_s: int

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_s < 1:
            raise ValueError("a quota needs at least one request per at least one second")


@dataclass(frozen=True, slots=True)
class Decision:
    admitted: bool
    # Requests the client may still send at once.
    remaining: int
    # Seconds until one more request would be admitted.
    wait_s: float

    @property
    def wait_whole_s(self) -> int:
        """``wait_s`` rounded up to whole seconds, as HTTP's delay-seconds are (at least 1)."""
        return max(1, math.ceil(self.wait_s))


class RedisRateLimiter:
    """Admits or refuses one request against one bucket; None when Redis could not say."""

    def __init__(self, redis: aioredis.Redis, *, guard: FailOpen, prefix: str = PREFIX) -> None:
        self._prefix = prefix
        self._guard = guard
        self._acquire: Any = redis.register_script(_ACQUIRE)

    async def acquire(self, key: str, quota: Quota) -> Decision | None:
        async def run() -> list[Any]:
            reply: list[Any] = await self._acquire(
                keys=[self._prefix + key], args=[quota.limit, quota.window_s * 1_000_000]
            )
            return reply

        reply = await self._guard.call("acquire", run)
        if reply is None:
            return None
        admitted, remaining, wait_us = (int(value) for value in reply)
        return Decision(admitted=admitted == 1, remaining=remaining, wait_s=wait_us / 1_000_000)
