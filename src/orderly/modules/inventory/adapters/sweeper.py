"""The background sweep that releases expired reservations."""

from __future__ import annotations

import asyncio
import contextlib
import random

import structlog

from orderly.modules.inventory.application.commands import ExpireDueReservations
from orderly.modules.inventory.application.handlers import UowFactory, expire_due_reservations
from orderly.modules.inventory.application.retry import RetryPolicy

log = structlog.get_logger(module="inventory")


class ReservationSweeper:
    """Expires due reservations in bounded batches, one transaction per batch.

    Safe with any number of copies running (one per worker): batches are
    claimed with FOR UPDATE SKIP LOCKED, so two sweepers never expire the same
    reservation and never wait for each other's claims.
    """

    def __init__(
        self,
        *,
        uow_factory: UowFactory,
        retry: RetryPolicy,
        batch_size: int = 200,
        interval_s: float = 1.0,
        max_batches_per_pass: int = 50,
    ) -> None:
        self._uow_factory = uow_factory
        self._retry = retry
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._max_batches = max_batches_per_pass

    async def run_once(self) -> int:
        """Expire what is due now, a batch at a time; returns how many were expired."""
        total = 0
        for _ in range(self._max_batches):
            expired = await expire_due_reservations(
                ExpireDueReservations(batch_size=self._batch_size),
                uow_factory=self._uow_factory,
                retry=self._retry,
            )
            total += expired
            if expired < self._batch_size:
                break
        if total:
            log.info("reservations expired", count=total)
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
                log.exception("reservation sweep failed", retry_in_s=round(delay, 2))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
