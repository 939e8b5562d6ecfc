"""The reaper: deletes keys past their retention, in bounded batches."""

from __future__ import annotations

import asyncio
import random

import structlog

from orderly.platform.idempotency.config import IdempotencyConfig
from orderly.platform.idempotency.store import PostgresIdempotencyStore

log = structlog.get_logger(module="platform.idempotency")


class KeyPruner:
    """Runs in every API process; the batches use SKIP LOCKED, so processes
    pruning at the same moment split the work instead of queueing on it."""

    def __init__(self, store: PostgresIdempotencyStore, config: IdempotencyConfig) -> None:
        self._store = store
        self._config = config
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def prune_once(self) -> int:
        """One pass: batches until a short one, at most ``prune_max_batches``."""
        total = 0
        for _ in range(self._config.prune_max_batches):
            deleted = await self._store.prune(
                older_than=self._config.retention, batch_size=self._config.prune_batch_size
            )
            total += deleted
            if deleted < self._config.prune_batch_size:
                break
        if total:
            log.info("idempotency keys pruned", count=total)
        return total

    async def run(self, stop: asyncio.Event) -> None:
        interval = self._config.prune_interval.total_seconds()
        # Spread the processes' passes instead of starting them in step.
        delay = random.uniform(0, interval)
        while not await _stopped_within(stop, delay):
            try:
                await self.prune_once()
            except Exception:
                log.exception("idempotency key pruning failed")
            delay = interval * random.uniform(0.8, 1.2)

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self.run(self._stop))

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
