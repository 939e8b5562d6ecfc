"""The sweep that releases expired reservations: it releases what is due, once, and nothing else."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.inventory.adapters.sweeper import ReservationSweeper
from orderly.modules.inventory.adapters.tables import stock_movements
from orderly.modules.inventory.api import ReservationLine, ReservationNotActive
from orderly.modules.inventory.application.commands import ExpireDueReservations
from orderly.modules.inventory.application.handlers import expire_due_reservations
from orderly.modules.inventory.contracts import StockReleased
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
    reservation_statuses,
    warehouse,
)


@pytest.fixture
async def inventory(settings: Settings, engine: AsyncEngine) -> InventoryModule:
    module = build_inventory(settings, engine)
    await warehouse(module, "AMS")
    await register(module, "MUG", "CUP")
    await receive(module, "MUG", "AMS", 100)
    await receive(module, "CUP", "AMS", 100)
    return module


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


class TestExpirySweep:
    async def test_an_expired_reservation_is_released_by_the_sweep_and_availability_returns(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        facade = inventory.facade()
        await facade.reserve("order-1", [ReservationLine("MUG", 30)], timedelta(seconds=1))
        assert (await facade.availability(["MUG"]))["MUG"].available == 70

        await asyncio.sleep(1.2)
        assert await inventory.sweeper.run_once() == 1

        assert (await facade.availability(["MUG"]))["MUG"].available == 100
        assert (await facade.reservation("order-1")) is not None
        assert (await facade.reservation("order-1")).status == "expired"  # type: ignore[union-attr]
        (released,) = await events(engine, StockReleased.event_type)
        assert released["reason"] == "expired"
        with pytest.raises(ReservationNotActive):
            await facade.confirm("order-1")
        await assert_movements_add_up(engine)

    async def test_reservations_not_yet_due_are_left_alone(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        facade = inventory.facade()
        await facade.reserve("soon", [ReservationLine("MUG", 1)], timedelta(seconds=60))
        await facade.reserve("later", [ReservationLine("MUG", 2)], timedelta(seconds=600))
        await facade.reserve("done", [ReservationLine("MUG", 4)], timedelta(seconds=1))
        await facade.confirm("done")

        expired = await expire_due_reservations(
            ExpireDueReservations(batch_size=10),
            uow_factory=inventory.unit_of_work,
            retry=inventory.retry,
            now=later(61),
        )

        assert expired == 1
        assert await reservation_statuses(engine) == {"expired": 1, "active": 1, "confirmed": 1}
        assert await levels(engine, "MUG") == {"AMS": (96, 2)}

    async def test_two_sweeps_running_at_once_release_each_reservation_exactly_once(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        facade = inventory.facade()
        for n in range(60):
            sku = "MUG" if n % 2 else "CUP"
            await facade.reserve(f"order-{n}", [ReservationLine(sku, 1)], timedelta(seconds=30))

        async def sweep() -> int:
            total = 0
            while True:
                batch = await expire_due_reservations(
                    ExpireDueReservations(batch_size=7),
                    uow_factory=inventory.unit_of_work,
                    retry=inventory.retry,
                    now=later(31),
                )
                total += batch
                if batch == 0:
                    return total

        first, second = await asyncio.gather(sweep(), sweep())

        assert first + second == 60
        released = await events(engine, StockReleased.event_type)
        assert sorted(e["reference"] for e in released) == sorted(f"order-{n}" for n in range(60))
        assert await count(engine, stock_movements, stock_movements.c.kind == "expiry") == 60
        assert await levels(engine, "MUG") == {"AMS": (100, 0)}
        assert await levels(engine, "CUP") == {"AMS": (100, 0)}
        await assert_movements_add_up(engine)

    async def test_the_background_task_sweeps_until_told_to_stop(
        self, inventory: InventoryModule, engine: AsyncEngine
    ) -> None:
        await inventory.facade().reserve("order-1", [ReservationLine("MUG", 5)], timedelta(seconds=1))
        sweeper = ReservationSweeper(
            uow_factory=inventory.unit_of_work, retry=inventory.retry, batch_size=10, interval_s=0.1
        )
        stop = asyncio.Event()
        task = asyncio.create_task(sweeper.run_forever(stop))
        try:
            for _ in range(50):
                if await levels(engine, "MUG") == {"AMS": (100, 0)}:
                    break
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=5)
        assert await levels(engine, "MUG") == {"AMS": (100, 0)}
