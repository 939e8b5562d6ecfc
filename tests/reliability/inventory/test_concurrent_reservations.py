"""No oversell under concurrency, on the real PostgreSQL, from many connections at once.

Each test drives hundreds of reservations through the facade (or HTTP) with
``asyncio.gather`` behind a semaphore, over an engine whose pool holds 40
connections, so PostgreSQL sees up to 40 transactions competing for the same
rows. The retry policy counts every transient error it sees: the locking order
of ADR 0010 means there should be none at all (no deadlock, no serialization
failure), not merely none that escaped.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.inventory.adapters.facade import SqlInventoryApi
from orderly.modules.inventory.adapters.repository import is_transient_db_error
from orderly.modules.inventory.adapters.tables import reservation_allocations, reservations
from orderly.modules.inventory.api import ReservationLine, ReservationResult
from orderly.modules.inventory.application.retry import RetryPolicy
from orderly.modules.inventory.contracts import StockReservationRejected, StockReserved
from orderly.modules.inventory.module import InventoryModule
from orderly.platform.db import create_engine
from orderly.platform.settings import Settings
from tests.e2e.inventory.client import inventory_client
from tests.integration.inventory.support import (
    assert_movements_add_up,
    build_inventory,
    events,
    levels,
    receive,
    register,
    totals,
    warehouse,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

POOL = 40
T = TypeVar("T")


class TransientCounter:
    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, exc: BaseException) -> bool:
        transient = is_transient_db_error(exc)
        self.seen += transient
        return transient


@pytest.fixture
async def wide_engine(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> AsyncIterator[AsyncEngine]:
    """Many connections (the ``engine`` fixture has already emptied the tables)."""
    wide = create_engine(settings.model_copy(update={"db_pool_overflow": 0}), database_url, pool_size=POOL)
    try:
        yield wide
    finally:
        await wide.dispose()


@pytest.fixture
def transient() -> TransientCounter:
    return TransientCounter()


@pytest.fixture
def inventory(settings: Settings, wide_engine: AsyncEngine) -> InventoryModule:
    return build_inventory(settings, wide_engine)


@pytest.fixture
def facade(
    inventory: InventoryModule, wide_engine: AsyncEngine, transient: TransientCounter
) -> SqlInventoryApi:
    return SqlInventoryApi(
        wide_engine,
        uow_factory=inventory.unit_of_work,
        retry=RetryPolicy(is_transient=transient),
        queries=inventory.queries,
    )


async def bounded_gather(
    calls: list[Callable[[], Awaitable[T]]], *, limit: int = 64
) -> list[T | BaseException]:
    gate = asyncio.Semaphore(limit)

    async def run(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return await asyncio.gather(*(run(call) for call in calls), return_exceptions=True)


def only_results(outcomes: list[ReservationResult | BaseException]) -> list[ReservationResult]:
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert errors == [], errors[:3]
    return [o for o in outcomes if isinstance(o, ReservationResult)]


class TestHotSku:
    async def test_500_attempts_at_50_units_reserve_exactly_50(
        self,
        inventory: InventoryModule,
        facade: SqlInventoryApi,
        wide_engine: AsyncEngine,
        transient: TransientCounter,
    ) -> None:
        await warehouse(inventory, "AMS", priority=0)
        await warehouse(inventory, "BER", priority=1)
        await register(inventory, "HOT")
        await receive(inventory, "HOT", "AMS", 20)
        await receive(inventory, "HOT", "BER", 30)

        def attempt(n: int) -> Callable[[], Awaitable[ReservationResult]]:
            return lambda: facade.reserve(f"order-{n}", [ReservationLine("HOT", 1)], timedelta(minutes=5))

        results = only_results(await bounded_gather([attempt(n) for n in range(500)]))

        assert Counter(r.status for r in results) == {"active": 50, "rejected": 450}
        assert all(r.shortfalls[0].available == 0 for r in results if r.status == "rejected")
        assert await levels(wide_engine, "HOT") == {"AMS": (20, 20), "BER": (30, 30)}
        assert len(await events(wide_engine, StockReserved.event_type)) == 50
        assert len(await events(wide_engine, StockReservationRejected.event_type)) == 450
        assert transient.seen == 0, "no deadlock or serialization failure even happened"
        await assert_movements_add_up(wide_engine)


class TestOverlappingMultiLineReservations:
    SKUS = ("A", "B", "C", "D", "E")

    async def test_lines_in_any_order_never_oversell_and_conserve_stock(
        self,
        inventory: InventoryModule,
        facade: SqlInventoryApi,
        wide_engine: AsyncEngine,
        transient: TransientCounter,
    ) -> None:
        await warehouse(inventory, "AMS", priority=0)
        await warehouse(inventory, "BER", priority=0)
        await register(inventory, *self.SKUS)
        for sku in self.SKUS:
            await receive(inventory, sku, "AMS", 15)
            await receive(inventory, sku, "BER", 15)
        rng = random.Random(20261127)
        requests: dict[str, list[ReservationLine]] = {}
        for n in range(300):
            skus = rng.sample(self.SKUS, k=rng.randint(2, 4))  # a random order each time
            requests[f"order-{n}"] = [ReservationLine(sku, rng.randint(1, 3)) for sku in skus]

        def attempt(reference: str) -> Callable[[], Awaitable[ReservationResult]]:
            return lambda: facade.reserve(reference, requests[reference], timedelta(minutes=5))

        results = only_results(await bounded_gather([attempt(ref) for ref in requests]))

        held: dict[str, int] = defaultdict(int)
        for result in results:
            if result.status == "active":
                for line in result.lines:
                    assert sum(a.quantity for a in result.allocations if a.sku == line.sku) == line.quantity
                    held[line.sku] += line.quantity
            else:
                assert result.status == "rejected"
                assert result.allocations == ()
        assert 0 < Counter(r.status for r in results)["active"] < len(results)
        for sku in self.SKUS:
            on_hand, reserved = await totals(wide_engine, sku)
            assert on_hand == 30
            assert reserved == held[sku] <= on_hand
        await _assert_allocations_match_levels(wide_engine)
        await assert_movements_add_up(wide_engine)
        assert transient.seen == 0

    async def test_reserve_confirm_release_and_sweep_at_once_conserve_stock(
        self,
        inventory: InventoryModule,
        facade: SqlInventoryApi,
        wide_engine: AsyncEngine,
        transient: TransientCounter,
    ) -> None:
        await warehouse(inventory, "AMS")
        await register(inventory, *self.SKUS)
        for sku in self.SKUS:
            await receive(inventory, sku, "AMS", 60)
        rng = random.Random(7)
        first = {f"old-{n}": [ReservationLine(s, 1) for s in rng.sample(self.SKUS, k=2)] for n in range(100)}
        for reference, lines in first.items():
            placed = await facade.reserve(
                reference, lines, timedelta(seconds=1 if reference.endswith("7") else 300)
            )
            assert placed.status == "active"
        await asyncio.sleep(1.1)

        calls: list[Callable[[], Awaitable[object]]] = []
        for n, reference in enumerate(first):
            if reference.endswith("7") or n % 3 == 2:
                continue  # due (the sweeps take them) or left active
            calls.append(partial(facade.confirm if n % 3 == 0 else facade.release, reference))
        for n in range(150):
            lines = [ReservationLine(s, 1) for s in rng.sample(self.SKUS, k=3)]
            calls.append(partial(facade.reserve, f"new-{n}", lines, timedelta(minutes=5)))
        calls.extend([inventory.sweeper.run_once, inventory.sweeper.run_once])
        rng.shuffle(calls)

        outcomes = await bounded_gather(calls)

        assert [o for o in outcomes if isinstance(o, BaseException)] == []
        async with wide_engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        reservations.c.status,
                        reservation_allocations.c.sku,
                        reservation_allocations.c.quantity,
                    ).join(reservation_allocations)
                )
            ).all()
        confirmed: dict[str, int] = defaultdict(int)
        held: dict[str, int] = defaultdict(int)
        for status, sku, quantity in rows:
            if status == "confirmed":
                confirmed[sku] += quantity
            elif status == "active":
                held[sku] += quantity
        for sku in self.SKUS:
            assert await totals(wide_engine, sku) == (60 - confirmed[sku], held[sku])
        await assert_movements_add_up(wide_engine)
        assert transient.seen == 0


class TestThroughHttp:
    async def test_concurrent_http_reservations_of_the_last_units_never_answer_5xx(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        inventory = build_inventory(settings, engine)
        await warehouse(inventory, "AMS")
        await register(inventory, "HOT")
        await receive(inventory, "HOT", "AMS", 20)
        wide = settings.model_copy(update={"db_pool_size": 30, "db_pool_overflow": 0})

        async with inventory_client(wide, database_url, run_background=False) as client:

            def attempt(n: int) -> Callable[[], Awaitable[int]]:
                async def post() -> int:
                    body = {
                        "reference": f"order-{n}",
                        "lines": [{"sku": "HOT", "quantity": 1}],
                        "ttl_seconds": 300,
                    }
                    response = await client.post("/v1/reservations", json=body)
                    return response.status_code

                return post

            statuses = await bounded_gather([attempt(n) for n in range(200)], limit=50)

        assert Counter(statuses) == {201: 20, 409: 180}
        assert await levels(engine, "HOT") == {"AMS": (20, 20)}


async def _assert_allocations_match_levels(engine: AsyncEngine) -> None:
    """Reserved stock per level is exactly what active reservations hold there."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    reservation_allocations.c.sku,
                    reservation_allocations.c.warehouse_code,
                    reservation_allocations.c.quantity,
                )
                .join(reservations)
                .where(reservations.c.status == "active")
            )
        ).all()
    held: dict[tuple[str, str], int] = defaultdict(int)
    for sku, warehouse_code, quantity in rows:
        held[(sku, warehouse_code)] += quantity
    for sku in TestOverlappingMultiLineReservations.SKUS:
        for warehouse_code, (_, reserved) in (await levels(engine, sku)).items():
            assert reserved == held[(sku, warehouse_code)]
