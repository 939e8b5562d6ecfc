"""Wiring the rate limiter into an app (``orderly.entrypoints.api`` calls this)."""

from __future__ import annotations

import redis.asyncio as aioredis
from fastapi import FastAPI

from orderly.platform.ratelimit.failopen import FailOpen
from orderly.platform.ratelimit.gcra import RedisRateLimiter
from orderly.platform.ratelimit.middleware import RateLimitMiddleware
from orderly.platform.ratelimit.openapi import document_rate_limits
from orderly.platform.ratelimit.policy import PolicyTable
from orderly.platform.settings import Settings


def install_rate_limits(app: FastAPI, *, redis: aioredis.Redis, settings: Settings) -> None:
    """Hold every limited route of ``app`` to its clients' quotas; nothing if limits are off.

    Call it right after ``install_idempotency`` and before adding
    RequestContextMiddleware: the limiter must wrap the idempotency layer (a
    refused request never reaches its storage) and sit inside the request
    context (its 429 carries the request id).
    """
    if not settings.rate_limit_enabled:
        return
    guard = FailOpen(
        limiter="api",
        budget_s=settings.rate_limit_redis_budget_s,
        pause_after_failure_s=settings.rate_limit_pause_after_failure_s,
    )
    policies = PolicyTable.from_settings(settings)
    app.add_middleware(
        RateLimitMiddleware,
        limiter=RedisRateLimiter(redis, guard=guard),
        policies=policies,
        routes=app.router.routes,
    )
    document_rate_limits(app, policies)
