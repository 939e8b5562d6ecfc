"""Checkout with a saved address through HTTP: the address book of ``/v1/me/addresses``
feeds the order a copy, other people's addresses stay unknowable, and guests type theirs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from orderly.platform.db import create_engine
from orderly.platform.settings import Settings
from tests.conftest import truncate_all
from tests.integration.ordering.support import ADDRESS, Shop, shop
from tests.reliability.ordering.support import settle
from tests.support.auth import AuthKit, SignedInCustomer
from tests.support.http import assert_problem, invalid_field_names

SAVED = {
    "recipient": "Ada Lovelace",
    "line1": "Unter den Linden 1",
    "line2": "3rd floor",
    "city": "Berlin",
    "postal_code": "10117",
    "region": "Berlin",
    "country": "DE",
    "phone": "+49 30 1234567",
}

# One app for the module; each test makes its own customers and carts.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def s(database_url: str) -> AsyncIterator[Shop]:
    settings = Settings(database_url=database_url, log_json=False)
    engine = create_engine(settings, database_url, pool_size=2)
    await truncate_all(engine)
    async with shop(settings, database_url, engine) as the_shop:
        await the_shop.product("MUG-1", stock=50)
        # Only the refusal tests order this one, so its stock moves for no other reason.
        await the_shop.product("PEN-1", stock=5)
        yield the_shop
    await engine.dispose()


async def customer(s: Shop) -> SignedInCustomer:
    return await AuthKit.from_app(s.app).customer()


async def save_address(s: Shop, who: SignedInCustomer, **changes: str) -> str:
    response = await s.client.post("/v1/me/addresses", json={**SAVED, **changes}, headers=who.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def checkout(
    s: Shop, body: dict[str, Any], who: SignedInCustomer | None = None, *, key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key or str(uuid.uuid4()), **(who.headers if who else {})}
    return await s.client.post("/v1/checkouts", json=body, headers=headers)


def cart_for(s: Shop, who: SignedInCustomer | None, sku: str = "MUG-1") -> str:
    return s.cart((sku, 1), customer_id=who.id if who else None)


class TestCheckoutWithASavedAddress:
    async def test_the_order_ships_to_the_saved_address_and_mails_the_account(self, s: Shop) -> None:
        ada = await customer(s)
        address_id = await save_address(s, ada)
        response = await checkout(s, {"cart_id": cart_for(s, ada), "shipping_address_id": address_id}, ada)
        assert response.status_code == 201, response.text
        placed = response.json()
        assert placed["shipping_address"] == SAVED
        assert placed["email"] == ada.email
        stored = await s.order(placed["id"])
        assert (stored["shipping_address"], stored["email"]) == (SAVED, ada.email)

    async def test_an_email_given_is_kept(self, s: Shop) -> None:
        ada = await customer(s)
        body = {
            "cart_id": cart_for(s, ada),
            "email": "orders@lovelace.example",
            "shipping_address_id": await save_address(s, ada),
        }
        response = await checkout(s, body, ada)
        assert response.status_code == 201, response.text
        assert response.json()["email"] == "orders@lovelace.example"

    async def test_editing_or_removing_the_address_afterwards_leaves_the_order_as_placed(
        self, s: Shop
    ) -> None:
        ada = await customer(s)
        address_id = await save_address(s, ada)
        key = str(uuid.uuid4())
        body = {"cart_id": cart_for(s, ada), "shipping_address_id": address_id}
        placed = (await checkout(s, body, ada, key=key)).json()
        edited = await s.client.patch(
            f"/v1/me/addresses/{address_id}", json={"line1": "Friedrichstr. 50"}, headers=ada.headers
        )
        assert edited.status_code == 200, edited.text
        assert (await s.order(placed["id"]))["shipping_address"] == SAVED
        # A retry of the same press replays the first answer, not one read from the edited book.
        replay = await checkout(s, body, ada, key=key)
        assert replay.headers["idempotent-replayed"] == "true"
        assert (replay.json()["id"], replay.json()["shipping_address"]) == (placed["id"], SAVED)
        removed = await s.client.delete(f"/v1/me/addresses/{address_id}", headers=ada.headers)
        assert removed.status_code == 204, removed.text
        assert (await s.order(placed["id"]))["shipping_address"] == SAVED


class TestSavedAddressRefusals:
    async def test_someone_elses_address_is_422_like_an_unknown_one_and_nothing_is_reserved(
        self, s: Shop
    ) -> None:
        ada, eve = await customer(s), await customer(s)
        adas = await save_address(s, ada)
        # Orders of the other tests may still be reserving: count once their sagas are done.
        await settle(s.engine, timeout_s=30)
        stock, orders, reservations = await s.stock("PEN-1"), await s.order_count(), await s.reservations()
        problems = []
        for address_id in (adas, str(uuid.uuid4())):
            response = await checkout(
                s, {"cart_id": cart_for(s, eve, "PEN-1"), "shipping_address_id": address_id}, eve
            )
            problem = assert_problem(response, 422, "invalid-input")
            problems.append((problem["detail"], invalid_field_names(problem)))
        assert problems == [("no such address", {"shipping_address_id"})] * 2
        assert await s.stock("PEN-1") == stock
        assert (await s.order_count(), await s.reservations()) == (orders, reservations)

    async def test_a_guest_sending_an_address_id_is_422(self, s: Shop) -> None:
        adas = await save_address(s, await customer(s))
        body = {"cart_id": cart_for(s, None), "email": "guest@example.com", "shipping_address_id": adas}
        problem = assert_problem(await checkout(s, body), 422, "invalid-input")
        assert invalid_field_names(problem) == {"shipping_address_id"}

    async def test_a_guest_without_an_email_is_422(self, s: Shop) -> None:
        problem = assert_problem(
            await checkout(s, {"cart_id": cart_for(s, None), "shipping_address": ADDRESS}),
            422,
            "invalid-input",
        )
        assert invalid_field_names(problem) == {"email"}

    async def test_a_saved_address_without_a_postal_code_is_422_naming_the_id(self, s: Shop) -> None:
        ada = await customer(s)
        address_id = await save_address(s, ada, postal_code="")
        response = await checkout(s, {"cart_id": cart_for(s, ada), "shipping_address_id": address_id}, ada)
        problem = assert_problem(response, 422, "invalid-input")
        assert invalid_field_names(problem) == {"shipping_address_id"}
        assert "postal_code" in problem["detail"]

    @pytest.mark.parametrize("both", [True, False], ids=["both", "neither"])
    async def test_both_or_neither_address_is_422_naming_shipping_address(self, s: Shop, both: bool) -> None:
        ada = await customer(s)
        body: dict[str, Any] = {"cart_id": cart_for(s, ada)}
        if both:
            body |= {"shipping_address": ADDRESS, "shipping_address_id": await save_address(s, ada)}
        problem = assert_problem(await checkout(s, body, ada), 422, "validation-error")
        assert invalid_field_names(problem) == {"shipping_address"}
