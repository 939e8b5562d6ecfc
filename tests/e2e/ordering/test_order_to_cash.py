"""Order to cash through HTTP only: browse, cart, checkout, payment (the provider's signed
webhooks flowing back), confirmation, shipping, delivery; and the decline path."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.payments.adapters import tables as payment_tables
from orderly.modules.payments.application.handlers import WEBHOOK_CONSUMER
from orderly.platform.settings import Settings
from tests.integration.ordering.support import ADDRESS, Shop, shop


async def guest_order(client: httpx.AsyncClient, order_id: str, token: str) -> dict[str, Any]:
    response = await client.get(f"/v1/orders/{order_id}", headers={"X-Order-Token": token})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def until(client: httpx.AsyncClient, order_id: str, token: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        order = await guest_order(client, order_id, token)
        if order["status"] == status and order["progress"]["step"] == "done":
            return order
        assert time.monotonic() < deadline, order
        await asyncio.sleep(0.05)


async def fill_cart(s: Shop, sku: str, quantity: int) -> str:
    opened = await s.client.post("/v1/carts", json={"currency": "EUR"})
    assert opened.status_code == 201, opened.text
    cart_id = str(opened.json()["id"])
    added = await s.client.post(f"/v1/carts/{cart_id}/lines", json={"sku": sku, "quantity": quantity})
    assert added.status_code == 200, added.text
    return cart_id


class TestOrderToCash:
    async def test_a_guest_buys_pays_and_receives_the_goods(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine, fake_carts=False) as s:
            product_id = await s.product("MUG-1", price="12.50", stock=5)
            browsed = await s.client.get(f"/v1/products/{product_id}")
            assert browsed.status_code == 200, browsed.text
            cart_id = await fill_cart(s, "MUG-1", 2)

            response = await s.client.post(
                "/v1/checkouts",
                json={"cart_id": cart_id, "email": "ada@example.com", "shipping_address": ADDRESS},
                headers={"Idempotency-Key": "order-to-cash-1"},
            )
            assert response.status_code == 201, response.text
            placed = response.json()
            token = placed["access_token"]
            order = await until(s.client, placed["id"], token, "confirmed")
            assert (order["total"], order["captured"]) == ("35.58", "35.58")

            # The provider's signed webhooks reached payments and were applied once each.
            stats = await s.sim("/v1/_sim/stats")
            assert stats["captures"] == 1
            assert stats["webhooks"]["delivered"] >= 2  # authorized, captured
            async with engine.connect() as conn:
                applied = list(
                    await conn.scalars(
                        select(payment_tables.inbox.c.message_id).where(
                            payment_tables.inbox.c.consumer == WEBHOOK_CONSUMER
                        )
                    )
                )
            assert len(applied) == stats["webhooks"]["delivered"]
            assert (await s.client.get(f"/v1/carts/{cart_id}")).json()["lines"] == []

            shipment = await s.client.post("/v1/shipments", json={"order_id": placed["id"]}, headers=s.staff)
            deadline = time.monotonic() + 10
            while shipment.status_code == 409 and time.monotonic() < deadline:  # OrderConfirmed in flight
                await asyncio.sleep(0.05)
                shipment = await s.client.post(
                    "/v1/shipments", json={"order_id": placed["id"]}, headers=s.staff
                )
            assert shipment.status_code == 201, shipment.text
            shipment_id = shipment.json()["id"]
            shipped = await s.client.post(
                f"/v1/shipments/{shipment_id}/ship",
                json={"tracking_number": "1Z999AA10123456784", "carrier": "UPS"},
                headers=s.staff,
            )
            assert shipped.status_code == 200, shipped.text
            assert (await until(s.client, placed["id"], token, "fulfilled"))["fulfilment"] == "fulfilled"
            delivered = await s.client.post(f"/v1/shipments/{shipment_id}/deliver", headers=s.staff)
            assert delivered.status_code == 200, delivered.text
            await until(s.client, placed["id"], token, "delivered")

            history = (await s.client.get(f"/v1/orders/{placed['id']}/history", headers=s.staff)).json()
            statuses = [h["data"]["to"] for h in history if h["kind"] == "status_changed"]
            assert statuses == ["awaiting_payment", "confirmed", "fulfilled", "delivered"]
            assert await s.stock("MUG-1") == {"on_hand": 3, "reserved": 0, "available": 3}

    async def test_a_declined_card_fails_the_order_releases_the_stock_and_keeps_the_cart(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine, fake_carts=False, payment_sim_decline_rate=1.0) as s:
            await s.product("MUG-1", stock=5)
            cart_id = await fill_cart(s, "MUG-1", 2)
            response = await s.client.post(
                "/v1/checkouts",
                json={"cart_id": cart_id, "email": "ada@example.com", "shipping_address": ADDRESS},
                headers={"Idempotency-Key": "declined-1"},
            )
            assert response.status_code == 201, response.text
            placed = response.json()
            order = await until(s.client, placed["id"], placed["access_token"], "payment_failed")
            assert order["status_reason"] in {
                "insufficient_funds",
                "card_declined",
                "expired_card",
                "do_not_honor",
            }
            assert await s.stock("MUG-1") == {"on_hand": 5, "reserved": 0, "available": 5}
            stats = await s.sim("/v1/_sim/stats")
            assert (stats["captures"], stats["by_status"]) == (0, {"declined": 1})
            # The cart is still there to try again with another card.
            lines = (await s.client.get(f"/v1/carts/{cart_id}")).json()["lines"]
            assert [(line["sku"], line["quantity"]) for line in lines] == [("MUG-1", 2)]
