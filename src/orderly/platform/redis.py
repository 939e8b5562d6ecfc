"""Redis client: the real server when a URL is set, an in-process stand-in otherwise."""

from __future__ import annotations

from typing import Any

import fakeredis
import redis.asyncio as aioredis


def create_redis(url: str | None) -> aioredis.Redis:
    if url is None:
        # fakeredis implements the Redis command set (Lua included) in memory;
        # the embedded default keeps carts, cache and limits there.
        client: Any = fakeredis.FakeAsyncRedis()
        return client  # type: ignore[no-any-return]
    # A blocking pool queues a burst for a moment instead of failing at once
    # when every connection is busy; callers would take that for an outage.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=200,
        timeout=1.0,
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
        health_check_interval=30,
    )
    return aioredis.Redis(connection_pool=pool)
