"""Retrying transactions that lost a race the database detected.

Serialization failures (40001) and deadlocks (40P01) mean "run the whole
transaction again"; the caller never sees them. Attempts are bounded and
spaced with full jitter (a random delay up to an exponentially growing cap) so
that retries of colliding transactions do not collide again in lockstep.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

from orderly.modules.inventory.domain.errors import InventoryBusy

log = structlog.get_logger(module="inventory")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``is_transient`` comes from the adapters: only they know how the database reports a lost race."""

    is_transient: Callable[[BaseException], bool]
    attempts: int = 8
    base_delay_s: float = 0.005
    max_delay_s: float = 0.2
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)

    async def run(self, operation: Callable[[], Awaitable[T]], *, name: str) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return await operation()
            except Exception as exc:
                if not self.is_transient(exc):
                    raise
                if attempt == self.attempts:
                    log.error("transient conflicts exhausted the retries", operation=name, attempts=attempt)
                    raise InventoryBusy(
                        "inventory is too contended right now; the request changed nothing, retry it"
                    ) from exc
                delay = random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt))
                log.info(
                    "transient conflict, retrying", operation=name, attempt=attempt, delay_s=round(delay, 4)
                )
                await self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
