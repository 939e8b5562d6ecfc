"""Building and seeding the inventory module on the real database, and reading what it wrote.

Shared by the inventory's integration, reliability and e2e tests.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.inventory.adapters.tables import (
    metadata,
    outbox,
    reservations,
    stock_levels,
    stock_movements,
)
from orderly.modules.inventory.application.commands import AdjustStock, CreateWarehouse
from orderly.modules.inventory.application.handlers import adjust_stock, create_warehouse, register_skus
from orderly.modules.inventory.domain.stock import AdjustmentReason
from orderly.modules.inventory.module import InventoryModule
from orderly.platform.messaging.inprocess import InProcessBus
from orderly.platform.modules import ModuleContext
from orderly.platform.redis import create_redis
from orderly.platform.settings import Settings


def build_inventory(settings: Settings, engine: AsyncEngine) -> InventoryModule:
    """The module as the composition root builds it, on the test's engine."""
    ctx = ModuleContext(settings=settings, engine=engine, bus=InProcessBus(), redis=create_redis(None))
    return InventoryModule(ctx)


async def register(module: InventoryModule, *skus: str) -> None:
    """Register SKUs the way the catalog's ProductCreated does (same handler, own unit of work)."""
    async with module.unit_of_work() as uow:
        await register_skus(product_id=uuid.uuid4(), skus=list(skus), uow=uow)
        await uow.commit()


async def warehouse(module: InventoryModule, code: str, *, priority: int = 0, active: bool = True) -> None:
    await create_warehouse(
        CreateWarehouse(code=code, name=f"Warehouse {code}", priority=priority, active=active),
        uow=module.unit_of_work(),
    )


async def receive(module: InventoryModule, sku: str, warehouse_code: str, units: int) -> None:
    await adjust_stock(
        AdjustStock(sku=sku, warehouse=warehouse_code, delta=units, reason=AdjustmentReason.RECEIVED),
        uow_factory=module.unit_of_work,
        retry=module.retry,
    )


async def levels(engine: AsyncEngine, sku: str) -> dict[str, tuple[int, int]]:
    """(on_hand, reserved) per warehouse."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(stock_levels).where(stock_levels.c.sku == sku))
        return {r.warehouse_code: (r.on_hand, r.reserved) for r in rows}


async def totals(engine: AsyncEngine, sku: str) -> tuple[int, int]:
    values = (await levels(engine, sku)).values()
    return sum(v[0] for v in values), sum(v[1] for v in values)


async def events(engine: AsyncEngine, event_type: str) -> list[dict[str, Any]]:
    """Payloads in the inventory outbox of one event type, in commit order."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.payload).where(outbox.c.event_type == event_type).order_by(outbox.c.id)
        )
        return [dict(r.payload) for r in rows]


async def count(engine: AsyncEngine, table: Any, *where: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def reservation_statuses(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(reservations.c.status, func.count().label("n")).group_by(reservations.c.status)
        )
        return {row.status: int(row.n) for row in rows}


async def assert_movements_add_up(engine: AsyncEngine, skus: Iterable[str] | None = None) -> None:
    """Every level equals the sum of its movements, and each movement's running totals are right."""
    async with engine.connect() as conn:
        query = select(stock_movements).order_by(stock_movements.c.occurred_at, stock_movements.c.id)
        movements = (await conn.execute(query)).all()
        level_rows = (await conn.execute(select(stock_levels))).all()
    running: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for m in movements:
        running[(m.sku, m.warehouse_code)][0] += m.on_hand_delta
        running[(m.sku, m.warehouse_code)][1] += m.reserved_delta
    wanted = set(skus) if skus is not None else None
    for level in level_rows:
        if wanted is None or level.sku in wanted:
            assert running[(level.sku, level.warehouse_code)] == [level.on_hand, level.reserved], level


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every inventory table (less the relay's own bookkeeping)."""
    async with engine.connect() as conn:
        result: dict[str, list[tuple[Any, ...]]] = {}
        for table in metadata.sorted_tables:
            # The background relay marks rows published while a test runs.
            columns = [c for c in table.columns if c.name != "published_at"]
            rows = await conn.execute(select(*columns))
            result[table.name] = sorted((tuple(row) for row in rows), key=repr)
        return result


@asynccontextmanager
async def writes_nothing(engine: AsyncEngine) -> AsyncIterator[None]:
    """Fail if any inventory row was added, changed or removed inside the block."""
    before = await snapshot(engine)
    yield
    after = await snapshot(engine)
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, f"inventory tables written: {changed}"
