"""Bad input: each a clear 4xx problem document, and nothing written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.inventory.module import InventoryModule
from tests.integration.inventory.support import receive, register, warehouse, writes_nothing
from tests.support.http import assert_problem, invalid_field_names

# One app for the module: every case checks that its own request wrote nothing,
# so they share the seeded tables instead of rebuilding the app each time.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module", autouse=True)
async def stocked(shared_inventory: InventoryModule) -> None:
    await warehouse(shared_inventory, "AMS")
    await register(shared_inventory, "MUG")
    await receive(shared_inventory, "MUG", "AMS", 10)


def reservation(*, quantity: object = 1, sku: object = "MUG", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference": "order-1",
        "lines": [{"sku": sku, "quantity": quantity}],
        "ttl_seconds": 60,
    }
    body.update(overrides)
    return body


def adjustment(**overrides: Any) -> dict[str, Any]:
    return {"sku": "MUG", "warehouse": "AMS", "delta": 1, "reason": "received", **overrides}


class TestBadReservations:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (reservation(quantity=0), "lines.0.quantity"),
            (reservation(quantity=-5), "lines.0.quantity"),
            (reservation(quantity=10**12), "lines.0.quantity"),
            (reservation(quantity=2**63), "lines.0.quantity"),
            (reservation(quantity="5"), "lines.0.quantity"),
            (reservation(quantity=1.5), "lines.0.quantity"),
            (reservation(quantity=True), "lines.0.quantity"),
            (reservation(sku="MUG\u0000"), "lines.0.sku"),
            (reservation(lines=[]), "lines"),
            (reservation(reference="has space"), "reference"),
            (reservation(reference="x" * 101), "reference"),
            (reservation(ttl_seconds=0), "ttl_seconds"),
            (reservation(ttl_seconds=10**9), "ttl_seconds"),
            (reservation(surprise=1), "surprise"),
        ],
    )
    async def test_a_malformed_reservation_is_422_naming_the_field(
        self, shared_client: httpx.AsyncClient, shared_engine: AsyncEngine, body: dict[str, Any], field: str
    ) -> None:
        async with writes_nothing(shared_engine):
            response = await shared_client.post("/v1/reservations", json=body)
        problem = assert_problem(response, 422, "validation-error")
        assert field in invalid_field_names(problem)

    async def test_the_same_sku_on_two_lines_is_refused(
        self, shared_client: httpx.AsyncClient, shared_engine: AsyncEngine
    ) -> None:
        body = reservation(lines=[{"sku": "MUG", "quantity": 1}, {"sku": "MUG", "quantity": 2}])
        async with writes_nothing(shared_engine):
            response = await shared_client.post("/v1/reservations", json=body)
        assert invalid_field_names(assert_problem(response, 422, "invalid-input")) == {"lines.1.sku"}

    async def test_an_unknown_sku_is_422_naming_it(
        self, shared_client: httpx.AsyncClient, shared_engine: AsyncEngine
    ) -> None:
        body = reservation(lines=[{"sku": "MUG", "quantity": 1}, {"sku": "GHOST-1", "quantity": 1}])
        async with writes_nothing(shared_engine):
            response = await shared_client.post("/v1/reservations", json=body)
        problem = assert_problem(response, 422, "unknown-sku")
        assert problem["sku"] == "GHOST-1"
        assert invalid_field_names(problem) == {"lines.1.sku"}

    async def test_a_malformed_reference_in_the_path_is_422(self, shared_client: httpx.AsyncClient) -> None:
        assert_problem(
            await shared_client.post("/v1/reservations/bad%20ref/confirm"), 422, "validation-error"
        )


class TestBadAdjustments:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (adjustment(delta=10**7), "delta"),
            (adjustment(delta=-(10**7)), "delta"),
            (adjustment(delta="3"), "delta"),
            (adjustment(reason="stolen-by-elves"), "reason"),
            (adjustment(warehouse="lower-case"), "warehouse"),
            (adjustment(note="x" * 501), "note"),
        ],
    )
    async def test_a_malformed_adjustment_is_422_naming_the_field(
        self, shared_client: httpx.AsyncClient, shared_engine: AsyncEngine, body: dict[str, Any], field: str
    ) -> None:
        async with writes_nothing(shared_engine):
            response = await shared_client.post("/v1/inventory/adjustments", json=body)
        assert field in invalid_field_names(assert_problem(response, 422, "validation-error"))

    @pytest.mark.parametrize(
        ("body", "slug", "field"),
        [
            (adjustment(delta=0), "invalid-input", "delta"),
            (adjustment(delta=-1, reason="received"), "invalid-input", "delta"),
            (adjustment(delta=5, reason="damaged"), "invalid-input", "delta"),
            (adjustment(sku="GHOST-1"), "unknown-sku", "sku"),
            (adjustment(warehouse="NOWHERE"), "unknown-warehouse", "warehouse"),
        ],
    )
    async def test_an_adjustment_the_rules_refuse_is_422_and_changes_nothing(
        self,
        shared_client: httpx.AsyncClient,
        shared_engine: AsyncEngine,
        body: dict[str, Any],
        slug: str,
        field: str,
    ) -> None:
        async with writes_nothing(shared_engine):
            response = await shared_client.post("/v1/inventory/adjustments", json=body)
        assert invalid_field_names(assert_problem(response, 422, slug)) == {field}

    async def test_removing_more_than_is_on_hand_is_a_conflict(
        self, shared_client: httpx.AsyncClient, shared_engine: AsyncEngine
    ) -> None:
        async with writes_nothing(shared_engine):
            response = await shared_client.post(
                "/v1/inventory/adjustments", json=adjustment(delta=-11, reason="lost")
            )
        assert_problem(response, 409, "insufficient-stock")

    async def test_stock_beyond_the_per_level_limit_is_refused(
        self, shared_client: httpx.AsyncClient, shared_engine: AsyncEngine
    ) -> None:
        async with writes_nothing(shared_engine):
            # Integers past PostgreSQL's range never reach it: the edge's bounds stop them.
            response = await shared_client.post("/v1/inventory/adjustments", json=adjustment(delta=2**40))
        assert_problem(response, 422, "validation-error")


class TestBadWarehouses:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"code": "ams", "name": "Lower"}, "code"),
            ({"code": "", "name": "Empty"}, "code"),
            ({"code": "A" * 33, "name": "Long"}, "code"),
            ({"code": "AMS2", "name": ""}, "name"),
            ({"code": "AMS2", "name": "Nul\u0000"}, "name"),
            ({"code": "AMS2", "name": "Ok", "priority": -1}, "priority"),
            ({"code": "AMS2", "name": "Ok", "priority": 10**6}, "priority"),
        ],
    )
    async def test_a_malformed_warehouse_is_422_naming_the_field(
        self, shared_client: httpx.AsyncClient, shared_engine: AsyncEngine, body: dict[str, Any], field: str
    ) -> None:
        async with writes_nothing(shared_engine):
            response = await shared_client.post("/v1/warehouses", json=body)
        assert field in invalid_field_names(assert_problem(response, 422, "validation-error"))

    async def test_a_malformed_sku_in_the_path_is_422(self, shared_client: httpx.AsyncClient) -> None:
        assert_problem(await shared_client.get("/v1/inventory/bad%20sku"), 422, "validation-error")
