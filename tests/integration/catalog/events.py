"""Helpers to feed the catalog's consumers and to run its outbox relay in tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.catalog.adapters.tables import outbox
from orderly.modules.inventory.contracts import StockLevelChanged
from orderly.platform.events import Message, to_payload
from orderly.platform.outbox import OutboxRelay


def stock_level_message(sku: str, *, available: int, at: datetime, reserved: int = 0) -> Message:
    event = StockLevelChanged(
        aggregate_id=sku,
        sku=sku,
        on_hand=available + reserved,
        reserved=reserved,
        available=available,
        occurred_at=at,
    )
    return Message(
        message_id=event.event_id,
        event_type=event.event_type,
        aggregate_id=sku,
        occurred_at=event.occurred_at,
        payload=to_payload(event),
    )


async def relay_until(
    relay: OutboxRelay, done: Callable[[], Awaitable[bool]], *, timeout_s: float = 10
) -> None:
    """Run the relay until ``done`` holds. A transaction open elsewhere on the server
    holds rows back (the relay waits for it, by design), hence polling, not one pass."""
    deadline = time.monotonic() + timeout_s
    while True:
        await relay.drain()
        if await done():
            return
        if time.monotonic() > deadline:
            raise AssertionError("the relay did not deliver in time")
        await asyncio.sleep(0.05)


async def relay_everything(relay: OutboxRelay, engine: AsyncEngine) -> None:
    """Run the relay until the catalog's outbox has nothing left to publish."""

    async def empty() -> bool:
        async with engine.connect() as conn:
            pending = await conn.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        return pending == 0

    await relay_until(relay, empty)
