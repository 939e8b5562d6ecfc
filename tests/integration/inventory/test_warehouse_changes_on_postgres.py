"""Changing warehouses on the real PostgreSQL: what deactivation does, and how it races.

The race tests pause a transaction right before its commit, with every lock it
took still held (``PausedBeforeCommit``), and look at ``pg_stat_activity`` to
see who waits for whom, so the interleavings they check happen for certain
rather than by luck of timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.inventory.adapters import tables
from orderly.modules.inventory.adapters.repository import InventorySqlUnitOfWork, is_transient_db_error
from orderly.modules.inventory.adapters.tables import reservation_allocations, reservations
from orderly.modules.inventory.api import ReservationLine
from orderly.modules.inventory.application.commands import AdjustStock, ChangeWarehouse, ReserveStock
from orderly.modules.inventory.application.handlers import adjust_stock, change_warehouse, reserve_stock
from orderly.modules.inventory.application.retry import RetryPolicy
from orderly.modules.inventory.contracts import StockLevelChanged
from orderly.modules.inventory.domain.errors import StaleWarehouseVersion
from orderly.modules.inventory.domain.reservation import Line, ReservationStatus
from orderly.modules.inventory.domain.stock import AdjustmentReason
from orderly.modules.inventory.module import InventoryModule
from orderly.platform.db import create_engine
from orderly.platform.settings import Settings
from tests.integration.inventory.support import (
    assert_movements_add_up,
    build_inventory,
    events,
    levels,
    receive,
    register,
    warehouse,
)

TTL = timedelta(minutes=15)
WAIT_S = 20.0


class TransientCounter:
    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, exc: BaseException) -> bool:
        transient = is_transient_db_error(exc)
        self.seen += transient
        return transient


class PausedBeforeCommit(InventorySqlUnitOfWork):
    """A unit of work that stops right before committing, every lock still held, until let go."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        super().__init__(
            engine,
            outbox=tables.outbox,
            inbox=tables.inbox,
            partitions=settings.outbox_partitions,
            isolation_level="READ COMMITTED",
        )
        self.reached = asyncio.Event()
        self.go = asyncio.Event()

    async def commit(self) -> None:
        self.reached.set()
        await asyncio.wait_for(self.go.wait(), WAIT_S)
        await super().commit()


@pytest.fixture
async def wide_engine(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> AsyncIterator[AsyncEngine]:
    """A connection for each of the 50 racing reservations and the deactivation (``engine`` emptied
    the tables)."""
    wide = create_engine(settings.model_copy(update={"db_pool_overflow": 0}), database_url, pool_size=52)
    try:
        yield wide
    finally:
        await wide.dispose()


@pytest.fixture
async def inventory(settings: Settings, engine: AsyncEngine) -> InventoryModule:
    """MUG: 3 in AMS (priority 0), 5 in BER (priority 1); CUP: 2 in AMS; BOWL: 4 in BER only."""
    module = build_inventory(settings, engine)
    await warehouse(module, "AMS", priority=0)
    await warehouse(module, "BER", priority=1)
    await register(module, "MUG", "CUP", "BOWL")
    await receive(module, "MUG", "AMS", 3)
    await receive(module, "MUG", "BER", 5)
    await receive(module, "CUP", "AMS", 2)
    await receive(module, "BOWL", "BER", 4)
    return module


def lines(*pairs: tuple[str, int]) -> list[ReservationLine]:
    return [ReservationLine(sku=sku, quantity=quantity) for sku, quantity in pairs]


async def switch(module: InventoryModule, code: str, *, active: bool, expected: int | None = None) -> None:
    await change_warehouse(
        ChangeWarehouse(code=code, expected_version=expected, active=active),
        uow_factory=module.unit_of_work,
        retry=module.retry,
    )


async def restated_with(engine: AsyncEngine, code: str) -> dict[str, tuple[int, int, int, datetime]]:
    """StockLevelChanged committed by the transaction that last wrote the warehouse's row:
    (on_hand, reserved, available, occurred_at) per SKU."""
    query = text(
        "SELECT o.payload, o.occurred_at FROM inventory.outbox o "
        "JOIN inventory.warehouses w ON xid(o.xid) = w.xmin "
        "WHERE w.code = :code AND o.event_type = :event_type"
    )
    async with engine.connect() as conn:
        rows = await conn.execute(query, {"code": code, "event_type": StockLevelChanged.event_type})
        return {
            r.payload["sku"]: (
                r.payload["on_hand"],
                r.payload["reserved"],
                r.payload["available"],
                r.occurred_at,
            )
            for r in rows
        }


async def latest_published(engine: AsyncEngine) -> dict[str, int]:
    """The ``available`` of each SKU's latest StockLevelChanged, as the catalog's projection keeps it."""
    latest: dict[str, dict[str, Any]] = {}
    for payload in await events(engine, StockLevelChanged.event_type):
        latest[payload["sku"]] = payload
    return {sku: int(payload["available"]) for sku, payload in latest.items()}


async def lock_waiters(engine: AsyncEngine, statement_part: str) -> int:
    """Backends of this database waiting for a lock in a statement containing ``statement_part``."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE :part"
    )
    async with engine.connect() as conn:
        return int(await conn.scalar(query, {"part": f"%{statement_part}%"}) or 0)


async def until_waiting(engine: AsyncEngine, statement_part: str, *, at_least: int = 1) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while await lock_waiters(engine, statement_part) < at_least:
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"nobody waited for a lock in '{statement_part}' within {WAIT_S}s")
        await asyncio.sleep(0.02)


class TestDeactivated:
    async def test_new_reservations_skip_it_and_every_availability_agrees(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        facade = inventory.facade()
        await switch(inventory, "AMS", active=False, expected=1)

        result = await facade.reserve("order-1", lines(("MUG", 5)), TTL)
        assert [(a.warehouse, a.quantity) for a in result.allocations] == [("BER", 5)]
        rejected = await facade.reserve("order-2", lines(("CUP", 1)), TTL)
        assert [(s.sku, s.available) for s in rejected.shortfalls] == [("CUP", 0)]

        available = {
            sku: a.available for sku, a in (await facade.availability(["MUG", "CUP", "BOWL"])).items()
        }
        assert available == {"MUG": 0, "CUP": 0, "BOWL": 4}
        stock_pages = {sku: (await inventory.queries.stock(sku)) for sku in available}
        assert {sku: view.available for sku, view in stock_pages.items() if view} == available
        assert await latest_published(engine) == available

    async def test_the_totals_of_its_skus_are_restated_in_the_same_transaction(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        await inventory.facade().reserve("order-1", lines(("MUG", 1)), TTL)

        await switch(inventory, "AMS", active=False)

        restated = await restated_with(engine, "AMS")
        # BOWL has no stock there, so its availability did not change and it is not restated.
        assert {sku: totals[:3] for sku, totals in restated.items()} == {
            "MUG": (8, 1, 5),
            "CUP": (2, 0, 0),
        }

        await switch(inventory, "AMS", active=True)

        restated = await restated_with(engine, "AMS")
        assert {sku: totals[:3] for sku, totals in restated.items()} == {"MUG": (8, 1, 7), "CUP": (2, 0, 2)}
        assert await latest_published(engine) == {"MUG": 7, "CUP": 2, "BOWL": 4}

    async def test_reservations_held_there_still_confirm_and_release_and_stock_can_be_counted(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        facade = inventory.facade()
        await facade.reserve("order-1", lines(("MUG", 2)), TTL)
        await facade.reserve("order-2", lines(("MUG", 1)), TTL)
        await switch(inventory, "AMS", active=False)

        assert (await facade.confirm("order-1")).status == "confirmed"
        assert (await facade.release("order-2")).status == "released"
        await adjust_stock(
            AdjustStock(sku="MUG", warehouse="AMS", delta=-1, reason=AdjustmentReason.LOST),
            uow_factory=inventory.unit_of_work,
            retry=inventory.retry,
        )

        assert await levels(engine, "MUG") == {"AMS": (0, 0), "BER": (5, 0)}
        assert (await facade.availability(["MUG"]))["MUG"].available == 5
        assert (await latest_published(engine))["MUG"] == 5
        await assert_movements_add_up(engine)

    async def test_a_stale_version_writes_nothing_and_publishes_nothing(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        await switch(inventory, "AMS", active=True, expected=1)
        published = len(await events(engine, StockLevelChanged.event_type))
        await change_warehouse(
            ChangeWarehouse(code="AMS", expected_version=1, priority=9),
            uow_factory=inventory.unit_of_work,
            retry=inventory.retry,
        )

        with pytest.raises(StaleWarehouseVersion):
            await switch(inventory, "AMS", active=False, expected=1)

        assert len(await events(engine, StockLevelChanged.event_type)) == published
        async with engine.connect() as conn:
            row = (
                await conn.execute(select(tables.warehouses).where(tables.warehouses.c.code == "AMS"))
            ).one()
        assert (row.active, row.priority, row.version) == (True, 9, 2)

    async def test_a_new_priority_changes_where_the_next_reservation_draws_from(
        self, inventory: InventoryModule
    ) -> None:
        await change_warehouse(
            ChangeWarehouse(code="BER", expected_version=1, priority=0, name="Berlin"),
            uow_factory=inventory.unit_of_work,
            retry=inventory.retry,
        )
        # Equal priorities: the warehouse with the most available stock first.
        result = await inventory.facade().reserve("order-1", lines(("MUG", 1)), TTL)
        assert [a.warehouse for a in result.allocations] == ["BER"]


class TestRaces:
    async def test_no_reservation_allocates_from_a_warehouse_after_its_deactivation_committed(
        self, settings: Settings, wide_engine: AsyncEngine
    ) -> None:
        """50 one-unit reservations of MUG, half started before the deactivation of AMS (the
        preferred warehouse, with plenty of stock), racing with it, and half while it holds its
        locks. A reservation
        stamps ``created_at`` with the database clock after its SKU lock, the deactivation stamps
        its StockLevelChanged the same way: every reservation from AMS must be stamped before the
        deactivation, every later one must draw from BER, and both groups must be non-empty."""
        module = build_inventory(settings, wide_engine)
        await warehouse(module, "AMS", priority=0)
        await warehouse(module, "BER", priority=1)
        await register(module, "MUG")
        await receive(module, "MUG", "AMS", 1000)
        await receive(module, "MUG", "BER", 1000)
        transient = TransientCounter()
        retry = RetryPolicy(is_transient=transient)
        paused = PausedBeforeCommit(wide_engine, settings)

        async def reserve(n: int) -> None:
            command = ReserveStock(reference=f"order-{n}", lines=(Line(sku="MUG", quantity=1),), ttl=TTL)
            reservation = await reserve_stock(command, uow_factory=module.unit_of_work, retry=retry)
            assert reservation.status is ReservationStatus.ACTIVE

        async def deactivate() -> None:
            await change_warehouse(
                ChangeWarehouse(code="AMS", expected_version=1, active=False),
                uow_factory=lambda: paused,
                retry=retry,
            )

        before = [asyncio.create_task(reserve(n)) for n in range(25)]
        # One of them surely ran first; the others race with the deactivation.
        await asyncio.wait(before, timeout=WAIT_S, return_when=asyncio.FIRST_COMPLETED)
        deactivation = asyncio.create_task(deactivate())
        await asyncio.wait_for(paused.reached.wait(), WAIT_S)
        during = [asyncio.create_task(reserve(n)) for n in range(25, 50)]
        await until_waiting(wide_engine, "stock_items")
        paused.go.set()
        await asyncio.wait_for(asyncio.gather(deactivation, *before, *during), WAIT_S)

        deactivated_at = (await restated_with(wide_engine, "AMS"))["MUG"][3]
        async with wide_engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(reservations.c.created_at, reservation_allocations.c.warehouse_code).join(
                        reservation_allocations
                    )
                )
            ).all()
        assert len(rows) == 50
        from_ams = [r.created_at for r in rows if r.warehouse_code == "AMS"]
        from_ber = [r.created_at for r in rows if r.warehouse_code == "BER"]
        assert from_ams, "no reservation ran before the deactivation"
        assert from_ber, "no reservation ran after the deactivation"
        assert max(from_ams) < deactivated_at < min(from_ber)
        assert await levels(wide_engine, "MUG") == {
            "AMS": (1000, len(from_ams)),
            "BER": (1000, len(from_ber)),
        }
        assert (await module.facade().availability(["MUG"]))["MUG"].available == 1000 - len(from_ber)
        assert await latest_published(wide_engine) == {"MUG": 1000 - len(from_ber)}
        assert transient.seen == 0

    async def test_a_level_created_while_deactivating_is_restated_too(
        self, inventory: InventoryModule, settings: Settings, engine: AsyncEngine
    ) -> None:
        """BOWL gets its first stock in AMS while AMS is being deactivated: the deactivation
        waits for that adjustment (which holds AMS FOR SHARE) and then restates BOWL as well,
        so the last word on BOWL does not count AMS."""
        paused = PausedBeforeCommit(engine, settings)
        adjustment = asyncio.create_task(
            adjust_stock(
                AdjustStock(sku="BOWL", warehouse="AMS", delta=6, reason=AdjustmentReason.RECEIVED),
                uow_factory=lambda: paused,
                retry=inventory.retry,
            )
        )
        await asyncio.wait_for(paused.reached.wait(), WAIT_S)
        deactivation = asyncio.create_task(switch(inventory, "AMS", active=False))
        await until_waiting(engine, "warehouses")
        assert not deactivation.done()

        paused.go.set()
        await asyncio.wait_for(asyncio.gather(adjustment, deactivation), WAIT_S)

        restated = await restated_with(engine, "AMS")
        assert restated["BOWL"][:3] == (10, 0, 4)
        assert (await latest_published(engine))["BOWL"] == 4
        assert (await inventory.facade().availability(["BOWL"]))["BOWL"].available == 4
