"""Bad requests to the cart API: each a clear 4xx problem, and not one byte written to Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.cart.conftest import Shop
from tests.support.auth import SignedInCustomer
from tests.support.http import assert_problem, invalid_field_names

pytestmark = pytest.mark.asyncio(loop_scope="module")

SUFFIX = uuid.uuid4().hex[:6].upper()
MUG = f"MUG-{SUFFIX}"
DRAFT = f"DRAFT-{SUFFIX}"
UNKNOWN = f"NOPE-{SUFFIX}"


@dataclass
class Setting:
    shop: Shop
    cart_id: str
    owner: SignedInCustomer
    owned_cart_id: str
    stranger: SignedInCustomer


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def setting(shared_shop: Shop) -> AsyncIterator[Setting]:
    shop = shared_shop
    await shop.product(MUG, ("12.50", "EUR"))
    await shop.product(DRAFT, ("5.00", "EUR"), published=False)
    cart = await shop.open_cart()
    assert (await shop.put_line(cart["id"], MUG, 990)).status_code == 200
    owner, stranger = await shop.customer(), await shop.customer()
    owned = await shop.open_cart(as_=owner)
    assert (await shop.put_line(owned["id"], MUG, 1, as_=owner)).status_code == 200
    yield Setting(shop, cart["id"], owner, owned["id"], stranger)


async def refused(
    setting: Setting, method: str, path: str, status: int, slug: str, *, body: Any = None, **kwargs: Any
) -> dict[str, Any]:
    shop = setting.shop
    before = await shop.cart_documents()
    response = await shop.http.request(method, path, json=body, **kwargs)
    problem = assert_problem(response, status, slug)
    assert await shop.cart_documents() == before, f"{method} {path} wrote to Redis"
    return problem


class TestQuantities:
    @pytest.mark.parametrize(
        ("quantity", "why"),
        [
            (1000, "above 999"),
            (-1, "negative"),
            (1.5, "fractional"),
            ("2", "a string"),
            (True, "a boolean"),
            (None, "null"),
        ],
    )
    async def test_a_line_quantity_that_is_not_0_to_999_is_refused(
        self, setting: Setting, quantity: object, why: str
    ) -> None:
        problem = await refused(
            setting,
            "PUT",
            f"/v1/carts/{setting.cart_id}/lines/{MUG}",
            422,
            "validation-error",
            body={"quantity": quantity},
        )
        assert invalid_field_names(problem) == {"quantity"}, why

    # 2.0 is a JSON Schema integer, and counts as 2 (tests/unit/http/test_whole_numbers.py).
    @pytest.mark.parametrize("quantity", [0, -3, 1000, 2.5, "2", True])
    async def test_adding_zero_or_out_of_range_is_refused(self, setting: Setting, quantity: object) -> None:
        problem = await refused(
            setting,
            "POST",
            f"/v1/carts/{setting.cart_id}/lines",
            422,
            "validation-error",
            body={"sku": MUG, "quantity": quantity},
        )
        assert invalid_field_names(problem) == {"quantity"}

    async def test_adding_past_999_in_one_line_is_refused_with_what_the_line_holds(
        self, setting: Setting
    ) -> None:
        problem = await refused(
            setting,
            "POST",
            f"/v1/carts/{setting.cart_id}/lines",
            422,
            "line-quantity-limit",
            body={"sku": MUG, "quantity": 10},
        )
        assert (problem["sku"], problem["current"], problem["limit"]) == (MUG, 990, 999)

    @pytest.mark.parametrize("body", [None, {}, {"quantity": 1, "extra": 1}, [1]])
    async def test_a_missing_or_malformed_body_is_refused(self, setting: Setting, body: Any) -> None:
        await refused(
            setting, "PUT", f"/v1/carts/{setting.cart_id}/lines/{MUG}", 422, "validation-error", body=body
        )


class TestSkus:
    async def test_a_sku_the_catalog_does_not_have_is_refused_by_name(self, setting: Setting) -> None:
        problem = await refused(
            setting,
            "PUT",
            f"/v1/carts/{setting.cart_id}/lines/{UNKNOWN}",
            422,
            "unknown-sku",
            body={"quantity": 1},
        )
        assert problem["sku"] == UNKNOWN
        assert UNKNOWN in problem["detail"]
        assert invalid_field_names(problem) == {"sku"}

    async def test_adding_an_unknown_sku_is_refused_by_name(self, setting: Setting) -> None:
        problem = await refused(
            setting,
            "POST",
            f"/v1/carts/{setting.cart_id}/lines",
            422,
            "unknown-sku",
            body={"sku": UNKNOWN, "quantity": 1},
        )
        assert problem["sku"] == UNKNOWN

    async def test_a_draft_products_sku_is_not_for_sale(self, setting: Setting) -> None:
        problem = await refused(
            setting,
            "PUT",
            f"/v1/carts/{setting.cart_id}/lines/{DRAFT}",
            422,
            "sku-not-for-sale",
            body={"quantity": 1},
        )
        assert problem["sku"] == DRAFT

    @pytest.mark.parametrize("sku", ["-LEADING-DASH", "HAS%20SPACE", "X" * 65, "MUG%3A1"])
    async def test_a_sku_the_catalog_could_never_hold_is_refused(self, setting: Setting, sku: str) -> None:
        await refused(
            setting,
            "PUT",
            f"/v1/carts/{setting.cart_id}/lines/{sku}",
            422,
            "validation-error",
            body={"quantity": 1},
        )

    async def test_removing_a_line_the_cart_does_not_have_is_not_found(self, setting: Setting) -> None:
        await refused(
            setting, "DELETE", f"/v1/carts/{setting.cart_id}/lines/{DRAFT}", 404, "cart-line-not-found"
        )
        await refused(
            setting,
            "PUT",
            f"/v1/carts/{setting.cart_id}/lines/{DRAFT}",
            404,
            "cart-line-not-found",
            body={"quantity": 0},
        )


class TestCarts:
    async def test_an_unknown_cart_is_not_found(self, setting: Setting) -> None:
        unknown = "U" * 32
        await refused(setting, "GET", f"/v1/carts/{unknown}", 404, "cart-not-found")
        await refused(
            setting, "PUT", f"/v1/carts/{unknown}/lines/{MUG}", 404, "cart-not-found", body={"quantity": 1}
        )
        await refused(setting, "DELETE", f"/v1/carts/{unknown}/lines/{MUG}", 404, "cart-not-found")

    @pytest.mark.parametrize("cart_id", ["short", "x" * 33, "!" * 32])
    async def test_a_malformed_cart_id_is_refused(self, setting: Setting, cart_id: str) -> None:
        problem = await refused(setting, "GET", f"/v1/carts/{cart_id}", 422, "validation-error")
        assert invalid_field_names(problem) == {"cart_id"}

    async def test_someone_elses_cart_is_not_found_and_untouched(self, setting: Setting) -> None:
        path = f"/v1/carts/{setting.owned_cart_id}"
        headers = setting.stranger.headers
        await refused(setting, "GET", path, 404, "cart-not-found", headers=headers)
        await refused(
            setting,
            "PUT",
            f"{path}/lines/{MUG}",
            404,
            "cart-not-found",
            body={"quantity": 5},
            headers=headers,
        )
        await refused(
            setting, "POST", f"{path}/lines", 404, "cart-not-found", body={"sku": MUG, "quantity": 1}
        )
        await refused(setting, "DELETE", f"{path}/lines/{MUG}", 404, "cart-not-found", headers=headers)
        await refused(
            setting,
            "POST",
            "/v1/me/cart/merge",
            404,
            "cart-not-found",
            body={"guest_cart_id": setting.owned_cart_id},
            headers=headers,
        )

    @pytest.mark.parametrize("currency", ["eur", "EURO", "XXX", "ZZZ", 978])
    async def test_a_cart_in_something_that_is_not_a_currency_is_refused(
        self, setting: Setting, currency: object
    ) -> None:
        problem = await refused(
            setting, "POST", "/v1/carts", 422, "validation-error", body={"currency": currency}
        )
        assert invalid_field_names(problem) == {"currency"}


class TestMerge:
    async def test_merging_needs_a_customer(self, setting: Setting) -> None:
        await refused(
            setting,
            "POST",
            "/v1/me/cart/merge",
            401,
            "unauthenticated",
            body={"guest_cart_id": setting.cart_id},
        )

    async def test_merging_an_unknown_cart_is_not_found(self, setting: Setting) -> None:
        await refused(
            setting,
            "POST",
            "/v1/me/cart/merge",
            404,
            "cart-not-found",
            body={"guest_cart_id": "M" * 32},
            headers=setting.owner.headers,
        )

    @pytest.mark.parametrize("body", [{}, {"guest_cart_id": "short"}, {"guest_cart_id": None}])
    async def test_a_malformed_merge_is_refused(self, setting: Setting, body: dict[str, Any]) -> None:
        await refused(
            setting,
            "POST",
            "/v1/me/cart/merge",
            422,
            "validation-error",
            body=body,
            headers=setting.owner.headers,
        )
