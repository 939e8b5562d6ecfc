"""Reading and changing a warehouse through HTTP: ETag and If-Match, bad input, who may,
and what deactivating does to reservations and to the availability the storefront shows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.inventory.module import InventoryModule
from orderly.platform.settings import Settings
from tests.integration.inventory.support import register
from tests.support.auth import bearer, identity_app
from tests.support.http import assert_problem, invalid_field_names, writes_nothing


async def make_warehouse(client: httpx.AsyncClient, code: str, priority: int = 0) -> None:
    response = await client.post(
        "/v1/warehouses", json={"code": code, "name": f"Warehouse {code}", "priority": priority}
    )
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'


async def patch(
    client: httpx.AsyncClient, code: str, body: Any, *, if_match: str | None = '"1"'
) -> httpx.Response:
    headers = {"If-Match": if_match} if if_match is not None else {}
    return await client.patch(f"/v1/warehouses/{code}", json=body, headers=headers)


async def adjust(client: httpx.AsyncClient, sku: str, warehouse: str, delta: int) -> None:
    response = await client.post(
        "/v1/inventory/adjustments",
        json={"sku": sku, "warehouse": warehouse, "delta": delta, "reason": "received"},
    )
    assert response.status_code == 201, response.text


async def eventually(read: Callable[[], Any], wanted: Any, *, what: str, timeout_s: float = 10.0) -> None:
    """Poll ``read`` until it returns ``wanted`` (events travel through the outbox and the relay)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    seen = None
    while asyncio.get_running_loop().time() < deadline:
        seen = await read()
        if seen == wanted:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"{what}: still {seen!r}, wanted {wanted!r}")


class TestReadAndChange:
    async def test_a_change_answers_200_with_the_new_etag_and_is_what_a_read_returns(
        self, client: httpx.AsyncClient
    ) -> None:
        await make_warehouse(client, "AMS", priority=3)

        read = await client.get("/v1/warehouses/AMS")
        assert read.status_code == 200
        assert read.headers["etag"] == '"1"'
        assert (read.json()["priority"], read.json()["version"]) == (3, 1)

        changed = await patch(client, "AMS", {"name": " Amsterdam ", "priority": 0, "active": False})

        assert changed.status_code == 200, changed.text
        assert changed.headers["etag"] == '"2"'
        body = changed.json()
        assert (body["name"], body["priority"], body["active"], body["version"]) == ("Amsterdam", 0, False, 2)
        again = await client.get("/v1/warehouses/AMS")
        assert again.headers["etag"] == '"2"'
        assert again.json() == body
        listed = (await client.get("/v1/warehouses")).json()
        assert [(w["code"], w["active"], w["version"]) for w in listed] == [("AMS", False, 2)]

    async def test_a_change_to_the_same_values_keeps_the_etag(self, client: httpx.AsyncClient) -> None:
        await make_warehouse(client, "AMS")
        same = await patch(client, "AMS", {"active": True, "priority": 0})
        assert same.status_code == 200, same.text
        assert same.headers["etag"] == '"1"'

    async def test_a_stale_if_match_is_412_with_the_current_version_and_writes_nothing(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        await make_warehouse(client, "AMS")
        assert (await patch(client, "AMS", {"priority": 5})).status_code == 200

        async with writes_nothing(engine):
            stale = await patch(client, "AMS", {"active": False}, if_match='"1"')
            weak = await patch(client, "AMS", {"active": False}, if_match='W/"2"')

        assert assert_problem(stale, 412, "precondition-failed")["current_version"] == 2
        assert_problem(weak, 412, "precondition-failed")
        current = (await client.get("/v1/warehouses/AMS")).json()
        assert (current["active"], current["priority"], current["version"]) == (True, 5, 2)
        # A star says "whatever is current" on purpose.
        assert (await patch(client, "AMS", {"active": False}, if_match="*")).headers["etag"] == '"3"'

    async def test_without_if_match_it_is_428_and_with_a_malformed_one_400(
        self, client: httpx.AsyncClient
    ) -> None:
        await make_warehouse(client, "AMS")
        assert_problem(
            await patch(client, "AMS", {"active": False}, if_match=None), 428, "precondition-required"
        )
        assert_problem(
            await patch(client, "AMS", {"active": False}, if_match="version 1"), 400, "bad-request"
        )
        assert (await client.get("/v1/warehouses/AMS")).json()["active"] is True

    async def test_an_unknown_code_is_404(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/v1/warehouses/NOWHERE"), 404, "warehouse-not-found")
        body = assert_problem(await patch(client, "NOWHERE", {"active": False}), 404, "warehouse-not-found")
        assert body["warehouse"] == "NOWHERE"


class TestBadChanges:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "body"),
            ({"name": ""}, "name"),
            ({"name": "   "}, "name"),
            ({"name": "x" * 201}, "name"),
            ({"name": None}, "name"),
            ({"priority": -1}, "priority"),
            ({"priority": 10_001}, "priority"),
            ({"priority": "5"}, "priority"),
            ({"priority": 1.5}, "priority"),
            ({"active": "false"}, "active"),
            ({"active": 0}, "active"),
            ({"active": None}, "active"),
            ({"code": "BER"}, "code"),
        ],
    )
    async def test_a_bad_body_is_422_naming_the_field_and_writes_nothing(
        self, client: httpx.AsyncClient, engine: AsyncEngine, body: dict[str, Any], field: str
    ) -> None:
        await make_warehouse(client, "AMS")
        async with writes_nothing(engine):
            response = await patch(client, "AMS", body)
        problem = response.json()
        assert response.status_code == 422, problem
        assert field in invalid_field_names(problem), problem
        assert (await client.get("/v1/warehouses/AMS")).headers["etag"] == '"1"'

    async def test_a_malformed_code_in_the_path_is_422(self, client: httpx.AsyncClient) -> None:
        response = await patch(client, "ams", {"active": False})
        assert response.status_code == 422
        assert "code" in invalid_field_names(response.json())


class TestWhoMay:
    async def test_a_customer_token_is_403_and_a_reader_cannot_change(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with identity_app(settings, database_url) as (http, kit):
            staff = bearer(await kit.staff_token(role="inventory_manager"))
            created = await http.post("/v1/warehouses", json={"code": "AMS", "name": "A"}, headers=staff)
            assert created.status_code == 201, created.text
            customer = bearer(await kit.customer_token())
            reader = bearer(await kit.staff_token(role="catalog_manager"))

            for headers in (customer, reader):
                refused = await http.patch(
                    "/v1/warehouses/AMS", json={"active": False}, headers={**headers, "If-Match": '"1"'}
                )
                assert_problem(refused, 403, "forbidden")
            assert_problem(await http.get("/v1/warehouses/AMS", headers=customer), 403, "forbidden")
            assert (await http.get("/v1/warehouses/AMS", headers=reader)).json()["active"] is True


class TestDeactivation:
    async def test_reservations_go_elsewhere_and_those_held_there_still_confirm_and_release(
        self, client: httpx.AsyncClient, inventory: InventoryModule
    ) -> None:
        await register(inventory, "MUG")
        await make_warehouse(client, "AMS", priority=0)
        await make_warehouse(client, "BER", priority=1)
        await adjust(client, "MUG", "AMS", 5)
        await adjust(client, "MUG", "BER", 5)
        for reference in ("held-1", "held-2"):
            held = await client.post(
                "/v1/reservations", json={"reference": reference, "lines": [{"sku": "MUG", "quantity": 2}]}
            )
            assert [a["warehouse"] for a in held.json()["allocations"]] == ["AMS"]

        assert (await patch(client, "AMS", {"active": False})).status_code == 200

        stock = (await client.get("/v1/inventory/MUG")).json()
        assert (stock["on_hand"], stock["reserved"], stock["available"]) == (10, 4, 5)
        new = await client.post(
            "/v1/reservations", json={"reference": "new-1", "lines": [{"sku": "MUG", "quantity": 5}]}
        )
        assert new.status_code == 201, new.text
        assert [(a["warehouse"], a["quantity"]) for a in new.json()["allocations"]] == [("BER", 5)]
        more = await client.post(
            "/v1/reservations", json={"reference": "new-2", "lines": [{"sku": "MUG", "quantity": 1}]}
        )
        assert assert_problem(more, 409, "reservation-rejected")["shortfalls"] == [
            {"sku": "MUG", "requested": 1, "available": 0}
        ]
        assert (await client.post("/v1/reservations/held-1/confirm")).json()["status"] == "confirmed"
        assert (await client.post("/v1/reservations/held-2/release")).json()["status"] == "released"
        # A stock count in progress: adjustments there stay allowed.
        await adjust(client, "MUG", "AMS", 1)
        stock = (await client.get("/v1/inventory/MUG")).json()
        assert [
            (w["warehouse"], w["on_hand"], w["reserved"], w["available"]) for w in stock["warehouses"]
        ] == [
            ("AMS", 4, 0, 0),
            ("BER", 5, 5, 0),
        ]

    async def test_the_storefront_availability_follows_a_deactivation_and_a_reactivation(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await client.post(
            "/v1/admin/products", json={**_product("DEACT-MUG"), "status": "published"}
        )
        assert created.status_code == 201, created.text
        product = f"/v1/admin/products/{created.json()['id']}"

        async def tracked() -> int:
            return (await client.get("/v1/inventory/DEACT-MUG")).status_code

        await eventually(tracked, 200, what="the SKU reaching inventory")
        await make_warehouse(client, "AMS")
        await adjust(client, "DEACT-MUG", "AMS", 3)

        async def shown() -> tuple[int | None, str]:
            variant = (await client.get(product)).json()["variants"][0]
            return variant["available"], variant["availability"]

        await eventually(shown, (3, "low"), what="availability after the delivery")
        assert (await patch(client, "AMS", {"active": False})).status_code == 200
        await eventually(shown, (0, "out_of_stock"), what="availability after deactivating")
        assert (await patch(client, "AMS", {"active": True}, if_match='"2"')).status_code == 200
        await eventually(shown, (3, "low"), what="availability after reactivating")


def _product(sku: str) -> dict[str, Any]:
    return {
        "name": f"Mug {sku}",
        "description": "Stoneware",
        "variants": [{"sku": sku, "price": {"amount": "12.50", "currency": "EUR"}}],
    }
