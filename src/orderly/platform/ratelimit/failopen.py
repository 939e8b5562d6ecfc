"""Redis calls for limiters that must never cost availability.

Losing Redis degrades protection, never availability (DESIGN.md): a limiter
whose store fails lets the request through. It must also fail open *fast*.
Each call gets a small time budget, and after a failure Redis is left alone
for a few seconds, so that while it is down requests do not each pay the
client's connect timeout and retries again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeout

from orderly.platform.observability.metrics import RATE_LIMIT_FAIL_OPEN

log = structlog.get_logger(module="platform.ratelimit")

# What a lost, refused or too slow Redis raises through redis-py.
FAILURES = (RedisError, OSError, TimeoutError)
T = TypeVar("T")


class FailOpen:
    """Runs one limiter's Redis calls; a call that fails, or outlasts its budget, returns None.

    ``limiter`` names the limiter in the log and in the
    ``orderly_rate_limit_fail_open`` metric (a fixed name, never request data).
    """

    def __init__(
        self,
        *,
        limiter: str,
        budget_s: float,
        pause_after_failure_s: float,
        max_concurrent: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limiter = limiter
        self._budget_s = budget_s
        self._pause_s = pause_after_failure_s
        self._clock = clock
        self._paused_until = 0.0
        # The Redis client's pool is shared with carts, caches and the other
        # limits; a burst waits here rather than exhausting it.
        self._slots = asyncio.Semaphore(max_concurrent)
        self._skipped = RATE_LIMIT_FAIL_OPEN.labels(limiter, "paused")
        self._failed = {
            reason: RATE_LIMIT_FAIL_OPEN.labels(limiter, reason) for reason in ("timeout", "error")
        }

    async def call(self, operation: str, action: Callable[[], Awaitable[T]]) -> T | None:
        # Waiting for a slot is back-pressure, not a Redis fault: only the
        # Redis call itself is timed, so a flood of requests cannot make a
        # healthy Redis look down and switch the limiter off.
        if self._skip():
            return None
        async with self._slots:
            if self._skip():
                return None
            try:
                return await asyncio.wait_for(action(), timeout=self._budget_s)
            except FAILURES as exc:
                self._fail(operation, exc)
                return None

    def _skip(self) -> bool:
        """True while Redis is left alone after a failure (the call is then counted, not made)."""
        if self._clock() < self._paused_until:
            self._skipped.inc()
            return True
        return False

    def _fail(self, operation: str, exc: BaseException) -> None:
        reason = "timeout" if isinstance(exc, TimeoutError | RedisTimeout) else "error"
        self._failed[reason].inc()
        self._paused_until = self._clock() + self._pause_s
        log.warning(
            "rate limiter unavailable; failing open",
            limiter=self.limiter,
            operation=operation,
            error=type(exc).__name__,
            pause_s=self._pause_s,
        )
