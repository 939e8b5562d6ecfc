"""Warehouses, adjustments, stock levels and movement history through HTTP."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from orderly.modules.inventory.module import InventoryModule
from tests.integration.inventory.support import register
from tests.support.http import assert_problem, product_body


async def make_warehouse(
    client: httpx.AsyncClient, code: str, priority: int = 0, *, active: bool = True
) -> None:
    response = await client.post(
        "/v1/warehouses",
        json={"code": code, "name": f"Warehouse {code}", "priority": priority, "active": active},
    )
    assert response.status_code == 201, response.text


async def adjust(
    client: httpx.AsyncClient, sku: str, warehouse: str, delta: int, reason: str = "received"
) -> httpx.Response:
    return await client.post(
        "/v1/inventory/adjustments",
        json={"sku": sku, "warehouse": warehouse, "delta": delta, "reason": reason},
    )


class TestWarehouses:
    async def test_warehouses_are_listed_in_allocation_order(self, client: httpx.AsyncClient) -> None:
        await make_warehouse(client, "FAR", priority=5)
        await make_warehouse(client, "NEAR", priority=1, active=False)

        response = await client.get("/v1/warehouses")

        assert response.status_code == 200
        assert [(w["code"], w["priority"], w["active"]) for w in response.json()] == [
            ("NEAR", 1, False),
            ("FAR", 5, True),
        ]

    async def test_a_taken_code_is_a_conflict_naming_it(self, client: httpx.AsyncClient) -> None:
        await make_warehouse(client, "AMS")
        response = await client.post("/v1/warehouses", json={"code": "AMS", "name": "Again"})
        body = assert_problem(response, 409, "duplicate-warehouse")
        assert body["warehouse"] == "AMS"


class TestAdjustmentsAndLevels:
    async def test_an_adjustment_changes_the_levels_and_enters_the_history(
        self, client: httpx.AsyncClient, inventory: InventoryModule
    ) -> None:
        await register(inventory, "MUG")
        await make_warehouse(client, "AMS", 0)
        await make_warehouse(client, "BER", 1)

        received = await adjust(client, "MUG", "AMS", 10)
        assert received.status_code == 201, received.text
        assert received.json()["movement"]["on_hand_after"] == 10
        assert (await adjust(client, "MUG", "BER", 4)).status_code == 201
        damaged = await adjust(client, "MUG", "AMS", -3, "damaged")
        assert damaged.json()["on_hand"] == 11

        stock = (await client.get("/v1/inventory/MUG")).json()
        assert (stock["on_hand"], stock["reserved"], stock["available"]) == (11, 0, 11)
        assert [(w["warehouse"], w["on_hand"]) for w in stock["warehouses"]] == [("AMS", 7), ("BER", 4)]
        history = (await client.get("/v1/inventory/MUG/movements")).json()["items"]
        assert [(m["reason"], m["on_hand_delta"]) for m in history] == [
            ("damaged", -3),
            ("received", 4),
            ("received", 10),
        ]

    async def test_the_history_is_paged_newest_first_by_an_opaque_cursor(
        self, client: httpx.AsyncClient, inventory: InventoryModule
    ) -> None:
        await register(inventory, "MUG")
        await make_warehouse(client, "AMS")
        for units in range(1, 6):
            assert (await adjust(client, "MUG", "AMS", units)).status_code == 201

        seen: list[int] = []
        cursor: str | None = None
        for _ in range(5):
            params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/inventory/MUG/movements", params=params)).json()
            seen.extend(m["on_hand_delta"] for m in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [5, 4, 3, 2, 1]

        tampered = await client.get(
            "/v1/inventory/MUG/movements", params={"cursor": "eyJ2IjoxLCJhZnRlciI6MX0"}
        )
        assert_problem(tampered, 422, "invalid-input")

    async def test_stock_held_by_a_reservation_cannot_be_adjusted_away(
        self, client: httpx.AsyncClient, inventory: InventoryModule
    ) -> None:
        await register(inventory, "MUG")
        await make_warehouse(client, "AMS")
        await adjust(client, "MUG", "AMS", 2)
        reserve = {"reference": "order-1", "lines": [{"sku": "MUG", "quantity": 2}]}
        assert (await client.post("/v1/reservations", json=reserve)).status_code == 201

        response = await adjust(client, "MUG", "AMS", -1, "lost")

        body = assert_problem(response, 409, "insufficient-stock")
        assert body["unreserved"] == 0

    async def test_an_unknown_sku_has_no_stock_page(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/v1/inventory/NOPE"), 404, "sku-not-found")
        assert_problem(await client.get("/v1/inventory/NOPE/movements"), 404, "sku-not-found")


class TestFromCatalogToReservation:
    async def test_a_product_created_in_the_catalog_can_be_stocked_and_reserved(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await client.post("/v1/products", json=product_body(sku="FLOW-MUG"))
        assert created.status_code == 201, created.text
        # The SKU reaches inventory through the outbox, the relay and the consumer.
        for _ in range(100):
            if (await client.get("/v1/inventory/FLOW-MUG")).status_code == 200:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the SKU never reached inventory")
        await make_warehouse(client, "AMS")
        assert (await adjust(client, "FLOW-MUG", "AMS", 3)).status_code == 201

        reserved = await client.post(
            "/v1/reservations", json={"reference": "order-1", "lines": [{"sku": "FLOW-MUG", "quantity": 3}]}
        )
        assert reserved.status_code == 201, reserved.text
        assert (await client.post("/v1/reservations/order-1/confirm")).json()["status"] == "confirmed"
        stock = (await client.get("/v1/inventory/FLOW-MUG")).json()
        assert (stock["on_hand"], stock["reserved"], stock["available"]) == (0, 0, 0)
