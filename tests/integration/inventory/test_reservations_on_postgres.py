"""Reservations through the facade on the real PostgreSQL: effects, events, idempotency, backstops."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.inventory.adapters.tables import reservations, stock_levels, stock_movements
from orderly.modules.inventory.api import (
    ReferenceReused,
    ReservationLine,
    ReservationNotActive,
    UnknownSku,
)
from orderly.modules.inventory.contracts import (
    StockConfirmed,
    StockLevelChanged,
    StockReleased,
    StockReservationRejected,
    StockReserved,
)
from orderly.modules.inventory.domain.stock import StockInvariantViolated
from orderly.modules.inventory.module import InventoryModule
from orderly.platform.settings import Settings
from tests.integration.inventory.support import (
    assert_movements_add_up,
    build_inventory,
    count,
    events,
    levels,
    receive,
    register,
    warehouse,
)

TTL = timedelta(minutes=15)


@pytest.fixture
async def inventory(settings: Settings, engine: AsyncEngine) -> InventoryModule:
    module = build_inventory(settings, engine)
    await warehouse(module, "AMS", priority=0)
    await warehouse(module, "BER", priority=1)
    await warehouse(module, "OLD", priority=0, active=False)
    await register(module, "MUG", "CUP")
    await receive(module, "MUG", "AMS", 3)
    await receive(module, "MUG", "BER", 5)
    await receive(module, "MUG", "OLD", 50)
    await receive(module, "CUP", "AMS", 2)
    return module


def lines(*pairs: tuple[str, int]) -> list[ReservationLine]:
    return [ReservationLine(sku=sku, quantity=quantity) for sku, quantity in pairs]


class TestReserve:
    async def test_a_line_is_split_by_priority_and_the_totals_are_published(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        result = await inventory.facade().reserve("order-1", lines(("MUG", 6), ("CUP", 1)), TTL)

        assert result.status == "active"
        assert [(a.sku, a.warehouse, a.quantity) for a in result.allocations] == [
            ("CUP", "AMS", 1),
            ("MUG", "AMS", 3),
            ("MUG", "BER", 3),
        ]
        assert await levels(engine, "MUG") == {"AMS": (3, 3), "BER": (5, 3), "OLD": (50, 0)}
        (reserved,) = await events(engine, StockReserved.event_type)
        assert reserved["reference"] == "order-1"
        # The inactive warehouse's stock is on hand but not available.
        changed = await events(engine, StockLevelChanged.event_type)
        assert [_totals(payload) for payload in changed[-2:]] == [("CUP", 2, 1, 1), ("MUG", 58, 6, 2)]
        assert await count(engine, stock_movements, stock_movements.c.kind == "reservation") == 3
        await assert_movements_add_up(engine)

    async def test_one_short_line_holds_nothing_and_publishes_the_shortfall(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        result = await inventory.facade().reserve("order-1", lines(("MUG", 1), ("CUP", 3)), TTL)

        assert result.status == "rejected"
        assert [(s.sku, s.requested, s.available) for s in result.shortfalls] == [("CUP", 3, 2)]
        assert await levels(engine, "CUP") == {"AMS": (2, 0)}
        assert await levels(engine, "MUG") == {"AMS": (3, 0), "BER": (5, 0), "OLD": (50, 0)}
        (rejected,) = await events(engine, StockReservationRejected.event_type)
        assert rejected["shortfalls"] == [{"sku": "CUP", "requested": 3, "available": 2}]

    async def test_the_same_reference_twice_reserves_once(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        facade = inventory.facade()
        first = await facade.reserve("order-1", lines(("MUG", 2)), TTL)
        # Concurrent retries too: they queue on the reference and find the first outcome.
        retries = await asyncio.gather(*(facade.reserve("order-1", lines(("MUG", 2)), TTL) for _ in range(5)))

        assert all(r == first for r in retries)
        assert await levels(engine, "MUG") == {"AMS": (3, 2), "BER": (5, 0), "OLD": (50, 0)}
        assert await count(engine, reservations) == 1
        assert len(await events(engine, StockReserved.event_type)) == 1

    async def test_a_reference_reused_for_other_lines_is_a_conflict_and_changes_nothing(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        await inventory.facade().reserve("order-1", lines(("MUG", 2)), TTL)
        with pytest.raises(ReferenceReused):
            await inventory.facade().reserve("order-1", lines(("MUG", 2), ("CUP", 1)), TTL)
        assert await levels(engine, "CUP") == {"AMS": (2, 0)}
        assert await count(engine, reservations) == 1

    async def test_an_unknown_sku_is_named_and_nothing_is_written(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        before = await count(engine, stock_movements)
        with pytest.raises(UnknownSku) as refused:
            await inventory.facade().reserve("order-1", lines(("MUG", 1), ("GHOST", 1)), TTL)
        assert refused.value.sku == "GHOST"
        assert await count(engine, reservations) == 0
        assert await count(engine, stock_movements) == before


class TestConfirmAndRelease:
    async def test_confirm_deducts_once_and_publishes(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        facade = inventory.facade()
        await facade.reserve("order-1", lines(("MUG", 4)), TTL)
        first = await facade.confirm("order-1")
        again = await facade.confirm("order-1")

        assert first.status == again.status == "confirmed"
        assert await levels(engine, "MUG") == {"AMS": (0, 0), "BER": (4, 0), "OLD": (50, 0)}
        assert len(await events(engine, StockConfirmed.event_type)) == 1
        assert (await facade.availability(["MUG"]))["MUG"].available == 4
        await assert_movements_add_up(engine)

    async def test_release_gives_stock_back_and_confirm_is_then_refused(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        facade = inventory.facade()
        await facade.reserve("order-1", lines(("MUG", 4)), TTL)
        await facade.release("order-1")
        await facade.release("order-1")

        assert await levels(engine, "MUG") == {"AMS": (3, 0), "BER": (5, 0), "OLD": (50, 0)}
        (released,) = await events(engine, StockReleased.event_type)
        assert released["reason"] == "released"
        with pytest.raises(ReservationNotActive):
            await facade.confirm("order-1")


class TestAvailability:
    async def test_totals_count_every_warehouse_but_only_active_ones_are_available(
        self, inventory: InventoryModule
    ) -> None:
        result = await inventory.facade().availability(["MUG", "CUP", "GHOST"])
        assert set(result) == {"MUG", "CUP"}
        assert (result["MUG"].on_hand, result["MUG"].reserved, result["MUG"].available) == (58, 0, 8)


class TestDatabaseBackstops:
    async def test_the_check_constraint_refuses_reserving_more_than_on_hand(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        with pytest.raises(IntegrityError, match="ck_stock_levels_reserved_within_on_hand"):
            async with engine.begin() as conn:
                await conn.execute(
                    update(stock_levels)
                    .where(stock_levels.c.sku == "CUP", stock_levels.c.warehouse_code == "AMS")
                    .values(reserved=3)
                )

    async def test_the_movement_history_refuses_update_and_delete(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        for statement in (
            "UPDATE inventory.stock_movements SET on_hand_delta = 100",
            "DELETE FROM inventory.stock_movements",
        ):
            with pytest.raises(IntegrityError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(text(statement))
        assert await count(engine, stock_movements) == 4

    async def test_a_level_changed_behind_the_lock_is_detected_not_overwritten(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        async with inventory.unit_of_work() as uow:
            locked = await uow.stock.lock(["CUP"])
            locked.stocks["CUP"].hold(locked.stocks["CUP"].plan(2).allocations, reference="order-1")
            # A writer that skips the SKU lock (no code path does) takes one unit away.
            async with engine.begin() as rogue:
                await rogue.execute(
                    update(stock_levels)
                    .where(stock_levels.c.sku == "CUP")
                    .values(on_hand=stock_levels.c.on_hand - 1)
                )
            with pytest.raises(StockInvariantViolated):
                await uow.stock.save(locked.stocks.values())
        assert await levels(engine, "CUP") == {"AMS": (1, 0)}


def _totals(payload: dict[str, object]) -> tuple[object, ...]:
    return tuple(payload[k] for k in ("sku", "on_hand", "reserved", "available"))
