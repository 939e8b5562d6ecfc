"""Carts through HTTP: guests and customers fill carts, see current prices and stock, merge on sign-in."""

from __future__ import annotations

from tests.e2e.cart.conftest import Shop
from tests.support.auth import bearer
from tests.support.http import assert_problem


class TestGuestCart:
    async def test_a_guest_fills_a_cart_and_sees_line_totals_and_the_subtotal(self, shop: Shop) -> None:
        await shop.product("MUG-1", ("12.50", "EUR"))
        await shop.product("TEE-1", ("20.00", "EUR"))
        created = await shop.http.post("/v1/carts")
        assert created.status_code == 201, created.text
        cart = created.json()
        assert created.headers["location"] == f"/v1/carts/{cart['id']}"
        assert created.headers["cache-control"] == "no-store"
        assert (cart["customer_id"], cart["currency"], cart["lines"]) == (None, "EUR", [])
        assert cart["subtotal"] == {"amount": "0.00", "currency": "EUR"}

        put = await shop.put_line(cart["id"], "MUG-1", 2)
        assert put.status_code == 200, put.text
        added = await shop.http.post(f"/v1/carts/{cart['id']}/lines", json={"sku": "TEE-1", "quantity": 1})
        assert added.status_code == 200, added.text

        shown = (await shop.http.get(f"/v1/carts/{cart['id']}")).json()
        assert [(ln["sku"], ln["quantity"], ln["line_total"]["amount"]) for ln in shown["lines"]] == [
            ("MUG-1", 2, "25.00"),
            ("TEE-1", 1, "20.00"),
        ]
        assert shown["subtotal"] == {"amount": "45.00", "currency": "EUR"}
        assert shown["item_count"] == 3
        assert shown["version"] == cart["version"] + 2

        removed = await shop.http.delete(f"/v1/carts/{cart['id']}/lines/MUG-1")
        assert removed.status_code == 200, removed.text
        assert removed.json()["subtotal"]["amount"] == "20.00"
        emptied = await shop.put_line(cart["id"], "TEE-1", 0)
        assert emptied.json()["lines"] == []

    async def test_adding_again_raises_the_quantity_of_the_line(self, shop: Shop) -> None:
        await shop.product("MUG-1", ("12.50", "EUR"))
        cart = await shop.open_cart()
        for _ in range(3):
            response = await shop.http.post(
                f"/v1/carts/{cart['id']}/lines", json={"sku": "MUG-1", "quantity": 2}
            )
            assert response.status_code == 200, response.text
        [line] = response.json()["lines"]
        assert (line["quantity"], line["line_total"]["amount"]) == (6, "75.00")

    async def test_a_cart_in_another_currency_prices_in_it_and_refuses_skus_without_a_price_there(
        self, shop: Shop
    ) -> None:
        await shop.product("MUG-1", ("12.50", "EUR"), ("14.00", "USD"))
        await shop.product("TEE-1", ("20.00", "EUR"))
        cart = await shop.open_cart(currency="USD")
        put = await shop.put_line(cart["id"], "MUG-1", 1)
        assert put.json()["subtotal"] == {"amount": "14.00", "currency": "USD"}
        refused = await shop.put_line(cart["id"], "TEE-1", 1)
        problem = assert_problem(refused, 422, "sku-not-priced-in-currency")
        assert problem["sku"] == "TEE-1"


class TestWhatTheCartShows:
    async def test_a_price_changed_since_the_shopper_saw_it_is_shown_with_both_prices(
        self, shop: Shop
    ) -> None:
        product_id = await shop.product("MUG-1", ("12.50", "EUR"))
        cart = await shop.open_cart()
        await shop.put_line(cart["id"], "MUG-1", 2)
        await shop.reprice(product_id, "MUG-1", ("13.00", "EUR"))

        shown = (await shop.http.get(f"/v1/carts/{cart['id']}")).json()
        [line] = shown["lines"]
        assert line["price_changed"] is True
        assert line["price_seen"] == {"amount": "12.50", "currency": "EUR"}
        assert line["unit_price"] == {"amount": "13.00", "currency": "EUR"}
        assert line["line_total"]["amount"] == "26.00"
        assert shown["has_price_changes"] is True

        # Acting on the line again means the shopper has now seen the new price.
        again = (await shop.put_line(cart["id"], "MUG-1", 3)).json()
        assert again["lines"][0]["price_changed"] is False
        assert again["lines"][0]["price_seen"]["amount"] == "13.00"

    async def test_an_archived_product_stays_in_the_cart_but_counts_toward_nothing(self, shop: Shop) -> None:
        product_id = await shop.product("MUG-1", ("12.50", "EUR"))
        await shop.product("TEE-1", ("20.00", "EUR"))
        cart = await shop.open_cart()
        await shop.put_line(cart["id"], "MUG-1", 1)
        await shop.put_line(cart["id"], "TEE-1", 1)
        await shop.archive(product_id)
        shown = (await shop.http.get(f"/v1/carts/{cart['id']}")).json()
        assert [(ln["sku"], ln["status"]) for ln in shown["lines"]] == [
            ("MUG-1", "not_for_sale"),
            ("TEE-1", "ok"),
        ]
        assert shown["subtotal"]["amount"] == "20.00"
        assert shown["has_unavailable_lines"] is True
        # It can still be removed.
        assert (await shop.http.delete(f"/v1/carts/{cart['id']}/lines/MUG-1")).status_code == 200

    async def test_current_stock_is_shown_next_to_each_line(self, shop: Shop) -> None:
        await shop.product("MUG-1", ("12.50", "EUR"))
        await shop.product("TEE-1", ("20.00", "EUR"))
        await shop.stock("MUG-1", 5)
        cart = await shop.open_cart()
        await shop.put_line(cart["id"], "MUG-1", 7)
        await shop.put_line(cart["id"], "TEE-1", 1)
        shown = (await shop.http.get(f"/v1/carts/{cart['id']}")).json()
        assert [(ln["available"], ln["enough_stock"]) for ln in shown["lines"]] == [(5, False), (None, None)]
        assert shown["has_stock_shortfalls"] is True


class TestCustomerCart:
    async def test_a_customer_has_one_cart_reached_only_with_their_token(self, shop: Shop) -> None:
        await shop.product("MUG-1", ("12.50", "EUR"))
        alice, bob = await shop.customer(), await shop.customer()
        first = await shop.http.post("/v1/carts", headers=alice.headers)
        assert first.status_code == 201, first.text
        cart = first.json()
        assert cart["customer_id"] == str(alice.id)
        again = await shop.http.post("/v1/carts", headers=alice.headers)
        assert (again.status_code, again.json()["id"]) == (200, cart["id"])
        assert (await shop.put_line(cart["id"], "MUG-1", 2, as_=alice)).status_code == 200

        mine = await shop.http.get("/v1/me/cart", headers=alice.headers)
        assert (mine.status_code, mine.json()["id"], mine.json()["item_count"]) == (200, cart["id"], 2)

        before = await shop.cart_documents()
        assert_problem(
            await shop.http.get(f"/v1/carts/{cart['id']}", headers=bob.headers), 404, "cart-not-found"
        )
        assert_problem(await shop.http.get(f"/v1/carts/{cart['id']}"), 404, "cart-not-found")
        assert_problem(await shop.put_line(cart["id"], "MUG-1", 9, as_=bob), 404, "cart-not-found")
        assert_problem(
            await shop.http.delete(f"/v1/carts/{cart['id']}/lines/MUG-1", headers=bob.headers),
            404,
            "cart-not-found",
        )
        assert await shop.cart_documents() == {key: value for key, value in before.items()}, (
            "someone else's requests changed the cart"
        )

    async def test_a_customer_without_a_cart_is_told_to_open_one(self, shop: Shop) -> None:
        carol = await shop.customer()
        assert_problem(await shop.http.get("/v1/me/cart", headers=carol.headers), 404, "cart-not-found")

    async def test_staff_and_bad_tokens_hold_no_carts(self, shop: Shop) -> None:
        assert_problem(await shop.http.post("/v1/carts", headers=shop.staff), 403, "forbidden")
        assert_problem(
            await shop.http.post("/v1/carts", headers=bearer("not-a-token")), 401, "unauthenticated"
        )
        assert_problem(await shop.http.get("/v1/me/cart"), 401, "unauthenticated")
        no_scope = await shop.kit.customer(scopes={"me:read"})
        assert_problem(await shop.http.post("/v1/carts", headers=no_scope.headers), 403, "forbidden")
        assert await shop.cart_documents() == {}


class TestMergeOnSignIn:
    async def test_the_guest_cart_is_merged_once_and_then_gone(self, shop: Shop) -> None:
        await shop.product("MUG-1", ("12.50", "EUR"))
        await shop.product("TEE-1", ("20.00", "EUR"))
        dave = await shop.customer()
        mine = await shop.open_cart(as_=dave)
        await shop.put_line(mine["id"], "MUG-1", 1, as_=dave)
        guest = await shop.open_cart()
        await shop.put_line(guest["id"], "MUG-1", 2)
        await shop.put_line(guest["id"], "TEE-1", 1)

        merged = await shop.http.post(
            "/v1/me/cart/merge", json={"guest_cart_id": guest["id"]}, headers=dave.headers
        )
        assert merged.status_code == 200, merged.text
        body = merged.json()
        assert (body["merged"], body["adjustments"], body["cart"]["id"]) == (True, [], mine["id"])
        assert [(ln["sku"], ln["quantity"]) for ln in body["cart"]["lines"]] == [("MUG-1", 3), ("TEE-1", 1)]
        assert body["cart"]["subtotal"]["amount"] == "57.50"

        again = await shop.http.post(
            "/v1/me/cart/merge", json={"guest_cart_id": guest["id"]}, headers=dave.headers
        )
        assert again.status_code == 200, again.text
        assert again.json()["merged"] is False
        assert again.json()["cart"]["lines"] == body["cart"]["lines"]
        assert_problem(await shop.http.get(f"/v1/carts/{guest['id']}"), 404, "cart-not-found")

    async def test_merged_quantities_are_capped_and_the_cap_is_reported(self, shop: Shop) -> None:
        await shop.product("MUG-1", ("1.00", "EUR"))
        erin = await shop.customer()
        mine = await shop.open_cart(as_=erin)
        await shop.put_line(mine["id"], "MUG-1", 600, as_=erin)
        guest = await shop.open_cart()
        await shop.put_line(guest["id"], "MUG-1", 700)
        body = (
            await shop.http.post(
                "/v1/me/cart/merge", json={"guest_cart_id": guest["id"]}, headers=erin.headers
            )
        ).json()
        assert body["cart"]["lines"][0]["quantity"] == 999
        assert body["adjustments"] == [
            {"sku": "MUG-1", "reason": "quantity_capped", "requested": 1300, "kept": 999}
        ]
