"""Deleting what can no longer be used: spent codes, expired grants, unpublished keys.

Runs in every worker (or in ``serve`` on the embedded default); a
transaction-scoped advisory lock lets one process at a time do a pass, and
each pass deletes in bounded batches so it never holds long locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import timedelta

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.identity.adapters.keystore import SqlKeyStore
from orderly.modules.identity.adapters.tables import access_tokens, authorization_codes, token_families
from orderly.shared_kernel.domain import utcnow

log = structlog.get_logger(module="identity.housekeeping")

_LOCK_KEY = 0x1D_0E_4B_E2
BATCH = 1000
# Kept a while after expiry so a late replay is still recognised as one.
GRACE = timedelta(hours=1)


async def purge_once(engine: AsyncEngine, keys: SqlKeyStore, *, max_batches: int = 20) -> int:
    removed = 0
    cutoff = utcnow() - GRACE
    for table, column in (
        (authorization_codes, authorization_codes.c.expires_at),
        (access_tokens, access_tokens.c.expires_at),
        # refresh tokens go with their family (ON DELETE CASCADE)
        (token_families, token_families.c.expires_at),
    ):
        for _ in range(max_batches):
            async with engine.begin() as conn:
                if not await conn.scalar(select(func.pg_try_advisory_xact_lock(_LOCK_KEY))):
                    return removed
                pk = next(iter(table.primary_key.columns))
                batch = select(pk).where(column < cutoff).limit(BATCH).scalar_subquery()
                result = await conn.execute(delete(table).where(pk.in_(batch)))
            removed += int(result.rowcount)
            if result.rowcount < BATCH:
                break
    removed += await keys.purge_unpublished()
    return removed


async def run_housekeeping(
    engine: AsyncEngine, keys: SqlKeyStore, stop: asyncio.Event, *, every_s: float
) -> None:
    while not stop.is_set():
        try:
            removed = await purge_once(engine, keys)
            if removed:
                log.info("expired grants purged", rows=removed)
        except Exception:
            log.exception("identity housekeeping failed; will retry")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s * random.uniform(0.8, 1.2))
