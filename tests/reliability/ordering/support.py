"""What the heavy ordering tests share: their scale, waiting for sagas to settle, and the books.

Scale: each test has a local default that runs in seconds on this 2-core machine
and the full counts of issue 5, used under ``CI=true`` (or ``ORDERLY_FULL_SCALE=1``
to run them here). Every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.ordering.adapters import tables as ordering
from tests.conftest import IN_CI
from tests.integration.ordering.support import Shop

FULL_SCALE = IN_CI or os.environ.get("ORDERLY_FULL_SCALE", "") == "1"

UNPAID_ENDINGS = frozenset({"cancelled", "payment_failed", "rejected", "expired"})
OPEN_STATUSES = frozenset({"pending", "awaiting_payment"})


def scale(local: int, full: int) -> int:
    return full if FULL_SCALE else local


async def settle(engine: AsyncEngine, *, timeout_s: float, poll_s: float = 0.2) -> float:
    """Wait until no saga is running; returns the seconds it took. Fails past ``timeout_s``."""
    started = time.monotonic()
    while True:
        async with engine.connect() as conn:
            running = int(
                await conn.scalar(
                    select(func.count())
                    .select_from(ordering.orders)
                    .where(ordering.orders.c.saga_step != "done")
                )
                or 0
            )
        if running == 0:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{running} sagas still running after {timeout_s} s")
        await asyncio.sleep(poll_s)


@dataclass(frozen=True)
class OrderRow:
    id: uuid.UUID
    status: str
    quantity: int
    total: str


async def orders(engine: AsyncEngine) -> list[OrderRow]:
    query = (
        select(
            ordering.orders.c.id,
            ordering.orders.c.status,
            ordering.orders.c.total,
            func.sum(ordering.order_lines.c.quantity).label("quantity"),
        )
        .join(ordering.order_lines, ordering.order_lines.c.order_id == ordering.orders.c.id)
        .group_by(ordering.orders.c.id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [OrderRow(r.id, r.status, int(r.quantity), str(r.total)) for r in rows]


async def assert_books_balance(s: Shop, *, sku: str, initial_stock: int) -> dict[str, int]:
    """After every saga settled: stock, money and orders tell the same story.

    * on hand = initial - units of confirmed orders; nothing is reserved (no order is open);
    * every confirmed order was captured exactly once at the provider, for its total;
    * no other order holds money there (nothing authorized, nothing captured).
    Returns the count of orders per status.
    """
    rows = await orders(s.engine)
    by_status = Counter(row.status for row in rows)
    assert not OPEN_STATUSES & set(by_status), by_status
    confirmed = [row for row in rows if row.status == "confirmed"]
    stock = await s.stock(sku)
    assert stock["reserved"] == 0, stock
    assert stock["on_hand"] == initial_stock - sum(row.quantity for row in confirmed), (stock, by_status)
    intents = await s.intents()
    by_order: dict[str, list[dict[str, Any]]] = {}
    for intent in intents:
        by_order.setdefault(intent["metadata"]["order_id"], []).append(intent)
    for row in confirmed:
        [intent] = by_order[str(row.id)]
        assert len(intent["captures"]) == 1, intent
        assert intent["status"] == "captured", intent
    confirmed_ids = {str(row.id) for row in confirmed}
    for order_id, held in by_order.items():
        if order_id not in confirmed_ids:
            assert all(i["status"] in ("declined", "voided") for i in held), held
    return dict(by_status)
