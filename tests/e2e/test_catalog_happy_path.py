"""Creating, reading and paging products through HTTP, and the event reaching inventory."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.inventory.adapters.tables import stock_items
from tests.support.http import product_body


async def _create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/products", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class TestCreateAndReadAProduct:
    async def test_a_created_product_is_answered_201_with_its_id_and_location(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/v1/products",
            json=product_body(
                name="  Mug  ",
                variants=[
                    {"sku": "MUG-1", "price": {"amount": "12.5", "currency": "EUR"}},
                    {"sku": "MUG-JP", "price": {"amount": "1500", "currency": "JPY"}},
                    {"sku": "MUG-BH", "price": {"amount": "1.25", "currency": "BHD"}},
                ],
            ),
        )
        assert response.status_code == 201, response.text
        assert response.headers["content-type"] == "application/json"
        product = response.json()
        product_id = uuid.UUID(product["id"])
        assert response.headers["location"] == f"/v1/products/{product_id}"
        assert product["name"] == "Mug"
        assert product["description"] == "Stoneware, 330 ml"
        assert product["version"] == 1
        # Amounts come back as strings with exactly the currency's decimals.
        assert [(v["sku"], v["price"]) for v in product["variants"]] == [
            ("MUG-1", {"amount": "12.50", "currency": "EUR"}),
            ("MUG-JP", {"amount": "1500", "currency": "JPY"}),
            ("MUG-BH", {"amount": "1.250", "currency": "BHD"}),
        ]

    async def test_a_created_product_reads_back_the_same(self, client: httpx.AsyncClient) -> None:
        created = await _create(client, product_body(name="Teapot", sku="POT-1", amount="30"))
        response = await client.get(f"/v1/products/{created['id']}")
        assert response.status_code == 200
        assert response.json() == created

    async def test_a_name_and_description_with_any_unicode_survive_the_round_trip(
        self, client: httpx.AsyncClient
    ) -> None:
        name = "Tasse à café ☕ — 杯子"
        description = "Ligne 1\nLigne 2\t«guillemets» 🫖"
        created = await _create(client, product_body(name=name, description=description))
        fetched = (await client.get(f"/v1/products/{created['id']}")).json()
        assert (fetched["name"], fetched["description"]) == (name, description)


class TestListProducts:
    async def test_paging_visits_every_product_exactly_once_then_ends(
        self, client: httpx.AsyncClient
    ) -> None:
        created_ids = [
            (await _create(client, product_body(name=f"Product {i}", sku=f"SKU-{i:02d}")))["id"]
            for i in range(11)
        ]
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, str | int] = {"limit": 4}
            if cursor is not None:
                params["cursor"] = cursor
            response = await client.get("/v1/products", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            pages += 1
            assert len(page["items"]) <= 4
            seen.extend(item["id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
            assert pages < 10, "the cursor never ended"
        assert pages == 3
        assert len(seen) == len(set(seen)) == 11
        # Keyset order is creation order (ids are UUIDv7).
        assert seen == created_ids

    async def test_a_page_that_exactly_fills_the_limit_at_the_end_has_no_next_cursor(
        self, client: httpx.AsyncClient
    ) -> None:
        for i in range(4):
            await _create(client, product_body(sku=f"EXACT-{i}"))
        first = (await client.get("/v1/products", params={"limit": 2})).json()
        second = (
            await client.get("/v1/products", params={"limit": 2, "cursor": first["next_cursor"]})
        ).json()
        assert len(second["items"]) == 2
        assert second["next_cursor"] is None

    async def test_a_product_created_while_paging_is_seen_on_a_later_page(
        self, client: httpx.AsyncClient
    ) -> None:
        for i in range(3):
            await _create(client, product_body(sku=f"BEFORE-{i}"))
        first = (await client.get("/v1/products", params={"limit": 2})).json()
        late = await _create(client, product_body(sku="LATE-1"))
        rest = (await client.get("/v1/products", params={"limit": 10, "cursor": first["next_cursor"]})).json()
        ids = [p["id"] for p in first["items"]] + [p["id"] for p in rest["items"]]
        assert len(ids) == len(set(ids)) == 4
        assert ids[-1] == late["id"]

    async def test_an_empty_catalog_is_one_empty_page(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/products")
        assert response.status_code == 200
        assert response.json() == {"items": [], "next_cursor": None}


class TestProductCreatedReachesInventory:
    async def test_after_the_relay_runs_inventory_knows_every_sku_once(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        created = await _create(
            client,
            product_body(
                variants=[
                    {"sku": "INV-1", "price": {"amount": "1.00", "currency": "EUR"}},
                    {"sku": "INV-2", "price": {"amount": "2.00", "currency": "EUR"}},
                ]
            ),
        )
        # The relay and the in-process consumer run inside the app; poll with a deadline.
        deadline = time.monotonic() + 10
        rows: list[tuple[str, uuid.UUID]] = []
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                result = await conn.execute(
                    select(stock_items.c.sku, stock_items.c.product_id).order_by(stock_items.c.sku)
                )
                rows = [(r.sku, r.product_id) for r in result]
            if len(rows) == 2:
                break
            await asyncio.sleep(0.05)
        product_id = uuid.UUID(created["id"])
        assert rows == [("INV-1", product_id), ("INV-2", product_id)]
