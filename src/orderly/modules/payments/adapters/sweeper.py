"""The payments sweep as a background task: one process at a time, every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from datetime import timedelta

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.payments.application.handlers import UowFactory, sweep
from orderly.modules.payments.application.ports import PaymentProvider

log = structlog.get_logger(module="payments.sweep")

_LOCK_KEY = zlib.crc32(b"orderly.payments.sweep")


async def run_sweeper(
    stop: asyncio.Event,
    *,
    engine: AsyncEngine,
    uow_factory: UowFactory,
    provider: PaymentProvider,
    interval_s: float,
    stale_after: timedelta,
    release_grace: timedelta,
) -> None:
    while not stop.is_set():
        try:
            await _pass(engine, uow_factory, provider, stale_after, release_grace)
        except Exception:
            log.exception("payments sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)


async def _pass(
    engine: AsyncEngine,
    uow_factory: UowFactory,
    provider: PaymentProvider,
    stale_after: timedelta,
    release_grace: timedelta,
) -> None:
    # A session lock on an autocommit connection: held for the whole pass
    # without keeping a transaction open while the provider is called.
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        if not await conn.scalar(select(func.pg_try_advisory_lock(_LOCK_KEY))):
            return
        try:
            report = await sweep(
                uow_factory=uow_factory,
                provider=provider,
                stale_after=stale_after,
                release_grace=release_grace,
            )
            if (
                report.authorizations_resumed
                or report.releases_done
                or report.refunds_resumed
                or report.failures
            ):
                log.info("payments sweep", **vars(report))
        finally:
            await conn.scalar(select(func.pg_advisory_unlock(_LOCK_KEY)))
