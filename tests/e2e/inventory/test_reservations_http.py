"""Reservations through HTTP: the lifecycle, idempotency, and the answers clients rely on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.inventory.module import InventoryModule
from tests.integration.inventory.support import levels, receive, register, warehouse, writes_nothing
from tests.support.http import assert_problem


@pytest.fixture
async def stocked(inventory: InventoryModule) -> InventoryModule:
    await warehouse(inventory, "AMS", priority=0)
    await warehouse(inventory, "BER", priority=1)
    await register(inventory, "MUG", "CUP")
    await receive(inventory, "MUG", "AMS", 2)
    await receive(inventory, "MUG", "BER", 3)
    await receive(inventory, "CUP", "AMS", 1)
    return inventory


def reservation(reference: str = "order-1", **quantities: int) -> dict[str, Any]:
    lines = [{"sku": sku, "quantity": q} for sku, q in (quantities or {"MUG": 1}).items()]
    return {"reference": reference, "lines": lines, "ttl_seconds": 600}


@pytest.mark.usefixtures("stocked")
class TestReservationLifecycle:
    async def test_reserve_then_confirm_deducts_the_stock(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        created = await client.post("/v1/reservations", json=reservation(MUG=4, CUP=1))
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["status"] == "active"
        assert [(a["sku"], a["warehouse"], a["quantity"]) for a in body["allocations"]] == [
            ("CUP", "AMS", 1),
            ("MUG", "AMS", 2),
            ("MUG", "BER", 2),
        ]
        assert (await client.get("/v1/reservations/order-1")).json() == body

        confirmed = await client.post("/v1/reservations/order-1/confirm")
        assert confirmed.status_code == 200
        assert confirmed.json()["status"] == "confirmed"
        assert await levels(engine, "MUG") == {"AMS": (0, 0), "BER": (1, 0)}

    async def test_release_gives_the_stock_back_and_confirming_afterwards_is_refused(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        await client.post("/v1/reservations", json=reservation(MUG=3))
        for _ in range(2):
            released = await client.post("/v1/reservations/order-1/release")
            assert released.status_code == 200
            assert released.json()["status"] == "released"
        assert await levels(engine, "MUG") == {"AMS": (2, 0), "BER": (3, 0)}

        body = assert_problem(
            await client.post("/v1/reservations/order-1/confirm"), 409, "reservation-not-active"
        )
        assert body["reservation_status"] == "released"

    async def test_releasing_a_confirmed_reservation_is_refused(self, client: httpx.AsyncClient) -> None:
        await client.post("/v1/reservations", json=reservation())
        await client.post("/v1/reservations/order-1/confirm")
        assert_problem(await client.post("/v1/reservations/order-1/release"), 409, "reservation-not-active")

    async def test_an_unknown_reservation_is_not_found(self, client: httpx.AsyncClient) -> None:
        for response in (
            await client.get("/v1/reservations/nope"),
            await client.post("/v1/reservations/nope/confirm"),
            await client.post("/v1/reservations/nope/release"),
        ):
            assert_problem(response, 404, "reservation-not-found")


@pytest.mark.usefixtures("stocked")
class TestReservationIdempotency:
    async def test_the_same_request_twice_reserves_once_and_answers_the_same(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        first = await client.post("/v1/reservations", json=reservation(MUG=2))
        second = await client.post("/v1/reservations", json=reservation(MUG=2))
        assert (first.status_code, second.status_code) == (201, 201)
        assert first.json() == second.json()
        assert await levels(engine, "MUG") == {"AMS": (2, 2), "BER": (3, 0)}

    async def test_a_rejection_is_409_with_the_shortfalls_and_a_retry_gets_it_again(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        stock_before = [await levels(engine, sku) for sku in ("MUG", "CUP")]
        first = await client.post("/v1/reservations", json=reservation(MUG=1, CUP=2))
        body = assert_problem(first, 409, "reservation-rejected")
        assert [await levels(engine, sku) for sku in ("MUG", "CUP")] == stock_before
        assert body["shortfalls"] == [{"sku": "CUP", "requested": 2, "available": 1}]
        again = assert_problem(
            await client.post("/v1/reservations", json=reservation(MUG=1, CUP=2)), 409, "reservation-rejected"
        )
        assert again["shortfalls"] == body["shortfalls"]
        assert (await client.get("/v1/reservations/order-1")).json()["status"] == "rejected"

    async def test_a_reference_reused_for_other_lines_is_a_conflict(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        await client.post("/v1/reservations", json=reservation(MUG=1))
        async with writes_nothing(engine):
            response = await client.post("/v1/reservations", json=reservation(MUG=2))
        assert_problem(response, 409, "reservation-reference-reused")
