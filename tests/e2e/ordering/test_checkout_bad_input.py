"""Bad checkouts: each is a clear 4xx problem document, and nothing is ordered, reserved or charged."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from orderly.modules.inventory.adapters import tables as inventory_tables
from orderly.modules.ordering.adapters import tables as ordering_tables
from orderly.modules.payments.adapters import tables as payment_tables
from orderly.platform.db import create_engine
from orderly.platform.settings import Settings
from tests.conftest import truncate_all
from tests.integration.ordering.support import ADDRESS, Shop, shop
from tests.support.auth import AuthKit
from tests.support.http import assert_problem, invalid_field_names

WATCHED = (
    ordering_tables.orders,
    ordering_tables.outbox,
    inventory_tables.reservations,
    payment_tables.payments,
)


# One app for the module: every case checks that it wrote nothing, so they can share it.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def s(database_url: str) -> AsyncIterator[Shop]:
    settings = Settings(database_url=database_url, log_json=False)
    engine = create_engine(settings, database_url, pool_size=2)
    await truncate_all(engine)
    async with shop(
        settings,
        database_url,
        engine,
        ordering_shipping_rates={"DE": {"EUR": "4.90"}},
    ) as the_shop:
        await the_shop.product("MUG-1", stock=3)
        await the_shop.product("OLD-1", stock=3)
        await the_shop.archive("OLD-1")
        await the_shop.product("NOSTOCK-1", stock=0)
        yield the_shop
    await engine.dispose()


async def counts(s: Shop) -> dict[str, int]:
    return {table.fullname: await s.count(table) for table in WATCHED}


async def checkout(s: Shop, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    before = await counts(s)
    response = await s.client.post(
        "/v1/checkouts",
        json=body,
        headers=headers if headers is not None else {"Idempotency-Key": str(uuid.uuid4())},
    )
    assert await counts(s) == before, "a refused checkout wrote something"
    assert await s.intents() == [], "a refused checkout reached the payment provider"
    return response


def body(cart_id: str, **overrides: Any) -> dict[str, Any]:
    return {"cart_id": cart_id, "email": "ada@example.com", "shipping_address": ADDRESS, **overrides}


class TestCheckoutBadInput:
    async def test_an_empty_cart_is_422(self, s: Shop) -> None:
        assert_problem(await checkout(s, body(s.cart())), 422, "cart-empty")

    async def test_an_unknown_cart_is_404(self, s: Shop) -> None:
        assert_problem(await checkout(s, body("cart-that-never-was")), 404, "cart-not-found")

    async def test_an_address_missing_fields_is_422_naming_each(self, s: Shop) -> None:
        address = {"recipient": "Ada", "country": "DE"}
        problem = assert_problem(
            await checkout(s, body(s.cart(("MUG-1", 1)), shipping_address=address)), 422, "validation-error"
        )
        assert {"shipping_address.line1", "shipping_address.city", "shipping_address.postal_code"} <= (
            invalid_field_names(problem)
        )

    async def test_a_blank_required_address_field_is_422(self, s: Shop) -> None:
        address = {**ADDRESS, "city": "   "}
        problem = assert_problem(
            await checkout(s, body(s.cart(("MUG-1", 1)), shipping_address=address)), 422, "invalid-input"
        )
        assert invalid_field_names(problem) == {"shipping_address.city"}

    async def test_an_archived_variant_is_422_naming_the_line(self, s: Shop) -> None:
        problem = assert_problem(
            await checkout(s, body(s.cart(("MUG-1", 1), ("OLD-1", 1)))), 422, "variant-unavailable"
        )
        assert problem["sku"] == "OLD-1"
        assert invalid_field_names(problem) == {"lines.1.sku"}

    async def test_an_unknown_variant_is_422(self, s: Shop) -> None:
        assert_problem(await checkout(s, body(s.cart(("GHOST-1", 1)))), 422, "variant-unavailable")

    async def test_more_than_the_stock_is_409_with_what_is_left(self, s: Shop) -> None:
        problem = assert_problem(await checkout(s, body(s.cart(("MUG-1", 4)))), 409, "insufficient-stock")
        assert (problem["sku"], problem["requested"], problem["available"]) == ("MUG-1", 4, 3)

    async def test_a_sold_out_variant_is_409(self, s: Shop) -> None:
        assert_problem(await checkout(s, body(s.cart(("NOSTOCK-1", 1)))), 409, "insufficient-stock")

    async def test_a_country_the_rate_table_does_not_ship_to_is_422(self, s: Shop) -> None:
        address = {**ADDRESS, "country": "FR"}
        problem = assert_problem(
            await checkout(s, body(s.cart(("MUG-1", 1)), shipping_address=address)),
            422,
            "shipping-not-available",
        )
        assert invalid_field_names(problem) == {"shipping_address.country"}

    async def test_a_malformed_email_is_422(self, s: Shop) -> None:
        problem = assert_problem(
            await checkout(s, body(s.cart(("MUG-1", 1)), email="not-an-address")), 422, "validation-error"
        )
        assert invalid_field_names(problem) == {"email"}

    async def test_without_an_idempotency_key_the_checkout_is_400(self, s: Shop) -> None:
        assert_problem(
            await checkout(s, body(s.cart(("MUG-1", 1))), headers={}), 400, "idempotency-key-missing"
        )

    async def test_someone_elses_cart_is_404(self, s: Shop) -> None:
        cart = s.cart(("MUG-1", 1), customer_id=uuid.uuid4())
        assert_problem(await checkout(s, body(cart)), 404, "cart-not-found")

    async def test_a_staff_token_cannot_check_out(self, s: Shop) -> None:
        response = await checkout(
            s, body(s.cart(("MUG-1", 1))), headers={"Idempotency-Key": str(uuid.uuid4()), **s.staff}
        )
        assert_problem(response, 403, "forbidden")

    async def test_a_customer_token_without_orders_write_is_403(self, s: Shop) -> None:
        customer = await AuthKit.from_app(s.app).customer(scopes={"orders:read"})
        response = await checkout(
            s,
            body(s.cart(("MUG-1", 1), customer_id=customer.id)),
            headers={"Idempotency-Key": str(uuid.uuid4()), **customer.headers},
        )
        assert_problem(response, 403, "forbidden")

    async def test_carts_unreachable_is_503_with_retry_after(self, s: Shop) -> None:
        cart = s.cart(("MUG-1", 1))
        s.carts.unavailable = True
        try:
            response = await checkout(s, body(cart))
        finally:
            s.carts.unavailable = False
        assert_problem(response, 503, "cart-store-unavailable")
        assert response.headers["retry-after"].isdigit()
