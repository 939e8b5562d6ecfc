"""Rate limits per client and route, in Redis (docs/api/rate-limits.md, docs/adr/0009)."""

from __future__ import annotations

from orderly.platform.ratelimit.failopen import FailOpen
from orderly.platform.ratelimit.gcra import Decision, Quota, RedisRateLimiter
from orderly.platform.ratelimit.install import install_rate_limits
from orderly.platform.ratelimit.middleware import RateLimitMiddleware
from orderly.platform.ratelimit.policy import PolicyTable

__all__ = [
    "Decision",
    "FailOpen",
    "PolicyTable",
    "Quota",
    "RateLimitMiddleware",
    "RedisRateLimiter",
    "install_rate_limits",
]
