"""The saga sweep as a background task: finds sagas whose step deadline passed.

Safe with any number of workers: each batch claims its orders with
``FOR UPDATE SKIP LOCKED`` (one transaction per batch), so two sweepers never
handle the same order and never wait for each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

import structlog

from orderly.modules.ordering.application.orders import sweep_overdue
from orderly.modules.ordering.application.ports import OrderingDeps

log = structlog.get_logger(module="ordering.sweep")


class SagaSweeper:
    def __init__(
        self, *, deps: OrderingDeps, interval_s: float, batch_size: int, max_batches_per_pass: int = 20
    ) -> None:
        self._deps = deps
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._max_batches = max_batches_per_pass

    async def run_once(self) -> int:
        """Handle what is overdue now, a batch at a time; returns how many orders were handled."""
        total = 0
        for _ in range(self._max_batches):
            handled = await sweep_overdue(deps=self._deps, batch_size=self._batch_size)
            total += handled
            if handled < self._batch_size:
                break
        return total

    async def run_forever(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await self.run_once()
                failures = 0
                delay = self._interval_s * random.uniform(0.8, 1.2)
            except Exception:
                failures += 1
                delay = min(30.0, self._interval_s * 2**failures) * random.uniform(0.5, 1.0)
                log.exception("saga sweep failed", retry_in_s=round(delay, 2))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
