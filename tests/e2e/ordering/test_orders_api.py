"""The orders API through HTTP: who sees which order, listing and filters, cancel, refunds."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.settings import Settings
from tests.integration.ordering.support import Shop, shop
from tests.support.auth import AuthKit, SignedInCustomer
from tests.support.http import assert_problem


async def customer_order(s: Shop, customer: SignedInCustomer, quantity: int = 1) -> dict[str, Any]:
    cart = s.cart(("MUG-1", quantity), customer_id=customer.id)
    response = await s.checkout(cart, headers=customer.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["access_token"] is None
    assert body["customer_id"] == str(customer.id)
    return body


async def ship_all(s: Shop, order_id: str) -> str:
    deadline = time.monotonic() + 10
    while True:
        response = await s.client.post("/v1/shipments", json={"order_id": order_id}, headers=s.staff)
        if response.status_code != 409 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


class TestWhoSeesWhat:
    async def test_a_customer_sees_their_orders_and_nobody_elses(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine) as s:
            await s.product("MUG-1", stock=10)
            kit = AuthKit.from_app(s.app)
            ada, bob = await kit.customer(), await kit.customer()
            order = await customer_order(s, ada)
            await s.wait_for(order["id"], {"confirmed"})
            mine = await s.client.get("/v1/orders", headers=ada.headers)
            assert [o["id"] for o in mine.json()["items"]] == [order["id"]]
            assert (await s.client.get("/v1/orders", headers=bob.headers)).json()["items"] == []
            assert_problem(
                await s.client.get(f"/v1/orders/{order['id']}", headers=bob.headers), 404, "order-not-found"
            )
            # Asking for another customer's orders by filter does not widen a customer's view.
            filtered = await s.client.get(
                "/v1/orders", params={"customer_id": str(ada.id)}, headers=bob.headers
            )
            assert filtered.json()["items"] == []

    async def test_a_guest_reads_their_order_only_with_its_token(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine) as s:
            await s.product("MUG-1", stock=10)
            placed = (await s.checkout(s.cart(("MUG-1", 1)))).json()
            ok = await s.client.get(
                f"/v1/orders/{placed['id']}", headers={"X-Order-Token": placed["access_token"]}
            )
            assert ok.status_code == 200
            wrong = await s.client.get(f"/v1/orders/{placed['id']}", headers={"X-Order-Token": "guess"})
            assert_problem(wrong, 404, "order-not-found")
            assert_problem(await s.client.get(f"/v1/orders/{placed['id']}"), 401, "unauthenticated")


class TestListing:
    async def test_staff_filter_by_status_and_date_and_page_through_newest_first(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine, payment_sim_decline_rate=0.0) as s:
            await s.product("MUG-1", stock=10)
            await s.product("TEE-1", stock=0)
            ids = []
            for _ in range(5):
                placed = (await s.checkout(s.cart(("MUG-1", 1)))).json()
                ids.append(placed["id"])
            for order_id in ids:
                await s.wait_for(order_id, {"confirmed"})
            seen: list[str] = []
            cursor = None
            for _ in range(5):
                params = {"limit": "2", "status": "confirmed", **({"cursor": cursor} if cursor else {})}
                page = (await s.client.get("/v1/orders", params=params, headers=s.staff)).json()
                seen += [o["id"] for o in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert seen == list(reversed(ids))
            later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
            none = await s.client.get("/v1/orders", params={"placed_from": later}, headers=s.staff)
            assert none.json()["items"] == []
            pending = await s.client.get("/v1/orders", params={"status": "pending"}, headers=s.staff)
            assert pending.json()["items"] == []

    async def test_a_bad_cursor_is_422(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine) as s:
            response = await s.client.get("/v1/orders", params={"cursor": "nope"}, headers=s.staff)
            assert_problem(response, 422, "invalid-input")


class TestCancel:
    async def test_a_customer_cancels_a_confirmed_order_and_is_refunded_in_full(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine) as s:
            await s.product("MUG-1", stock=10)
            ada = await AuthKit.from_app(s.app).customer()
            order = await customer_order(s, ada, quantity=2)
            await s.wait_for(order["id"], {"confirmed"})
            response = await s.client.post(
                f"/v1/orders/{order['id']}/cancel", json={"reason": "changed my mind"}, headers=ada.headers
            )
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "cancelled"
            cancelled = await s.wait_for(order["id"], {"cancelled"})
            assert cancelled["refunded"] == cancelled["captured"] == order["total"]
            [intent] = await s.intents()
            assert intent["status"] == "refunded"
            again = await s.client.post(f"/v1/orders/{order['id']}/cancel", headers=ada.headers)
            assert again.status_code == 200
            # The two deducted units go back on the shelf, once.
            await s.pump()
            deadline = time.monotonic() + 10
            while True:
                stock = (await s.client.get("/v1/inventory/MUG-1", headers=s.staff)).json()
                if stock["on_hand"] == 10 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            assert (stock["on_hand"], stock["reserved"], stock["available"]) == (10, 0, 10)
            movements = (await s.client.get("/v1/inventory/MUG-1/movements", headers=s.staff)).json()
            returned = [m for m in movements["items"] if m["reason"] == "returned"]
            assert [m["on_hand_delta"] for m in returned] == [2]

    async def test_a_shipped_order_cannot_be_cancelled(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine) as s:
            await s.product("MUG-1", stock=10)
            placed = (await s.checkout(s.cart(("MUG-1", 1)))).json()
            await s.wait_for(placed["id"], {"confirmed"})
            shipment_id = await ship_all(s, placed["id"])
            shipped = await s.client.post(
                f"/v1/shipments/{shipment_id}/ship", json={"tracking_number": "TRK-1"}, headers=s.staff
            )
            assert shipped.status_code == 200, shipped.text
            await s.wait_for(placed["id"], {"fulfilled"})
            response = await s.client.post(f"/v1/orders/{placed['id']}/cancel", headers=s.staff)
            assert_problem(response, 409, "order-illegal-transition")

    async def test_a_cancel_that_crosses_a_new_shipment_stops_the_parcel(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine, run_background=False) as s:
            await s.product("MUG-1", stock=10)
            placed = (await s.checkout(s.cart(("MUG-1", 1)))).json()
            await s.pump()
            shipment_id = await ship_all(s, placed["id"])
            # Ordering has not heard of the shipment yet, so it accepts the cancel...
            cancelled = await s.client.post(f"/v1/orders/{placed['id']}/cancel", headers=s.staff)
            assert cancelled.status_code == 200, cancelled.text
            await s.pump()
            # ...and fulfilment, told of the cancel, holds the parcel back.
            shipment = (await s.client.get(f"/v1/shipments/{shipment_id}", headers=s.staff)).json()
            assert shipment["status"] == "cancelled"
            refused = await s.client.post(
                f"/v1/shipments/{shipment_id}/ship", json={"tracking_number": "TRK-1"}, headers=s.staff
            )
            assert_problem(refused, 409, "shipment-illegal-transition")
            order = await s.order(placed["id"])
            assert (order["status"], order["refunded"]) == ("cancelled", order["total"])


class TestRefunds:
    async def test_staff_refund_part_then_the_rest(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine) as s:
            await s.product("MUG-1", price="10.00", stock=10)
            placed = (await s.checkout(s.cart(("MUG-1", 2)))).json()
            order = await s.wait_for(placed["id"], {"confirmed"})
            key = {"Idempotency-Key": str(uuid.uuid4())}
            first = await s.client.post(
                f"/v1/orders/{placed['id']}/refunds",
                json={"amount": "5.00", "reason": "dented"},
                headers={**s.staff, **key},
            )
            assert first.status_code == 202, first.text
            replay = await s.client.post(
                f"/v1/orders/{placed['id']}/refunds",
                json={"amount": "5.00", "reason": "dented"},
                headers={**s.staff, **key},
            )
            assert replay.content == first.content
            await s.wait_for(placed["id"], {"partially_refunded"})
            too_much = await s.client.post(
                f"/v1/orders/{placed['id']}/refunds",
                json={"amount": order["total"], "reason": "x"},
                headers=s.staff,
            )
            assert_problem(too_much, 422, "refund-not-possible")
            rest = f"{float(order['total']) - 5:.2f}"
            second = await s.client.post(
                f"/v1/orders/{placed['id']}/refunds",
                json={"amount": rest, "reason": "returned"},
                headers=s.staff,
            )
            assert second.status_code == 202, second.text
            refunded = await s.wait_for(placed["id"], {"refunded"})
            assert refunded["refunded"] == order["total"]
            [intent] = await s.intents()
            assert len(intent["refunds"]) == 2

    async def test_staff_find_the_payment_of_an_order_and_a_refund_there_shows_on_the_order(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine) as s:
            await s.product("MUG-1", price="10.00", stock=10)
            placed = (await s.checkout(s.cart(("MUG-1", 2)))).json()
            order = await s.wait_for(placed["id"], {"confirmed"})
            listed = await s.client.get("/v1/payments", params={"order_id": placed["id"]}, headers=s.staff)
            assert listed.status_code == 200, listed.text
            [payment] = listed.json()["items"]
            assert (payment["order_id"], payment["status"]) == (placed["id"], "captured")
            assert payment["captured_amount"] == order["total"]

            refund = await s.client.post(
                f"/v1/payments/{payment['id']}/refunds",
                json={"amount": "4.00"},
                headers={**s.staff, "Idempotency-Key": "desk-refund-1"},
            )
            assert refund.status_code in (201, 202), refund.text
            after = await s.wait_for(placed["id"], {"partially_refunded"})
            assert after["refunded"] == "4.00"
            [recorded] = after["refunds"]
            assert (recorded["amount"], recorded["status"]) == ("4.00", "succeeded")
            assert "desk-refund-1" in recorded["reason"]
            # The order's own refunds are bounded by what is left.
            too_much = await s.client.post(
                f"/v1/orders/{placed['id']}/refunds",
                json={"amount": order["total"], "reason": "x"},
                headers=s.staff,
            )
            assert_problem(too_much, 422, "refund-not-possible")

            none = await s.client.get("/v1/payments", params={"order_id": str(uuid.uuid4())}, headers=s.staff)
            assert none.json() == {"items": []}
            missing = await s.client.get("/v1/payments", headers=s.staff)
            assert_problem(missing, 422, "validation-error")

    async def test_a_customer_cannot_list_payments(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine) as s:
            await s.product("MUG-1", stock=10)
            ada = await AuthKit.from_app(s.app).customer()
            order = await customer_order(s, ada)
            response = await s.client.get(
                "/v1/payments", params={"order_id": order["id"]}, headers=ada.headers
            )
            assert_problem(response, 403, "forbidden")

    async def test_a_customer_cannot_refund(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine) as s:
            await s.product("MUG-1", stock=10)
            ada = await AuthKit.from_app(s.app).customer()
            order = await customer_order(s, ada)
            response = await s.client.post(
                f"/v1/orders/{order['id']}/refunds",
                json={"amount": "1.00", "reason": "x"},
                headers=ada.headers,
            )
            assert_problem(response, 403, "forbidden")
