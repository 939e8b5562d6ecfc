"""Checkout and its saga on the real PostgreSQL, the in-process bus and the simulated provider."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.ordering.adapters import tables
from orderly.modules.ordering.application.orders import sweep_overdue
from orderly.modules.payments.api import PaymentProviderUnavailable, PaymentResult
from orderly.platform.settings import Settings
from tests.integration.ordering.support import shop


class TestHappyPath:
    async def test_a_checkout_becomes_a_confirmed_order_with_its_stock_taken_and_money_captured(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine) as s:
            await s.product("MUG-1", price="12.50", stock=5)
            cart = s.cart(("MUG-1", 2))
            response = await s.checkout(cart)
            assert response.status_code == 201, response.text
            placed = response.json()
            assert placed["status"] == "pending"
            assert response.headers["location"] == f"/v1/orders/{placed['id']}"
            # (2 x 12.50 + 4.90 shipping to DE) x 1.19 tax
            assert (placed["subtotal"], placed["shipping"], placed["tax"], placed["total"]) == (
                "25.00",
                "4.90",
                "5.68",
                "35.58",
            )
            order = await s.wait_for(placed["id"], {"confirmed"})
            assert order["captured"] == "35.58"
            assert await s.stock("MUG-1") == {"on_hand": 3, "reserved": 0, "available": 3}
            [intent] = await s.intents()
            assert (intent["status"], intent["amount_captured"], len(intent["captures"])) == (
                "captured",
                3558,
                1,
            )
            # A confirmed order empties its cart (from the version it was placed from).
            assert s.carts.carts[cart].lines == ()
            history = (await s.client.get(f"/v1/orders/{placed['id']}/history", headers=s.staff)).json()
            steps = [h["data"]["step"] for h in history if h["kind"] == "saga_step"]
            assert steps == ["reserve_stock", "authorize_payment", "confirm_stock", "capture_payment", "done"]


class TestCompensation:
    async def test_a_declined_payment_ends_the_order_and_gives_the_stock_back(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine, payment_sim_decline_rate=1.0) as s:
            await s.product("MUG-1", stock=5)
            cart = s.cart(("MUG-1", 2))
            placed = (await s.checkout(cart)).json()
            order = await s.wait_for(placed["id"], {"payment_failed"})
            assert order["captured"] == "0.00"
            assert await s.stock("MUG-1") == {"on_hand": 5, "reserved": 0, "available": 5}
            [intent] = await s.intents()
            assert intent["status"] == "declined"
            # The cart is left as it was, for another try.
            assert len(s.carts.carts[cart].lines) == 1

    async def test_stock_gone_before_the_reservation_rejects_the_order_and_charges_nothing(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine, run_background=False) as s:
            await s.product("MUG-1", stock=3)
            await s.pump()
            placed = (await s.checkout(s.cart(("MUG-1", 3)))).json()
            await s.add_stock("MUG-1", -2)  # sold elsewhere between checkout and the saga
            await s.pump()
            order = await s.order(placed["id"])
            assert (order["status"], order["progress"]["step"]) == ("rejected", "done")
            assert order["status_reason"] == "out_of_stock: MUG-1 (1 of 3)"
            assert await s.intents() == []
            assert await s.stock("MUG-1") == {"on_hand": 1, "reserved": 0, "available": 1}


class TestSweep:
    async def test_a_lost_step_message_is_sent_again_after_its_deadline(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(
            settings, database_url, engine, run_background=False, ordering_step_timeout_s=0.3
        ) as s:
            await s.product("MUG-1", stock=3)
            await s.pump()
            placed = (await s.checkout(s.cart(("MUG-1", 1)))).json()
            async with engine.begin() as conn:  # the message never reaches the broker
                await conn.execute(delete(tables.outbox))
            await asyncio.sleep(0.35)
            assert await s.ordering.sweeper.run_once() == 1
            await s.pump()
            order = await s.order(placed["id"])
            assert order["status"] == "confirmed"
            history = (await s.client.get(f"/v1/orders/{placed['id']}/history", headers=s.staff)).json()
            assert {"step": "reserve_stock", "attempt": 2} in [h["data"] for h in history]

    async def test_two_sweepers_at_once_handle_each_overdue_order_exactly_once(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine, run_background=False) as s:
            await s.product("MUG-1", stock=50)
            ids = [(await s.checkout(s.cart(("MUG-1", 1)))).json()["id"] for _ in range(30)]
            async with engine.begin() as conn:
                await conn.execute(update(tables.orders).values(saga_deadline=tables.orders.c.placed_at))
            deps = s.ordering.deps
            handled = await asyncio.gather(*(sweep_overdue(deps=deps, batch_size=7) for _ in range(8)))
            assert sum(handled) == len(ids)
            async with engine.connect() as conn:
                attempts = list(await conn.scalars(select(tables.orders.c.saga_attempt)))
            assert attempts == [2] * len(ids)


class StalledPayments:
    """The real facade, except that authorization never gets an answer."""

    def __init__(self, real: Any) -> None:
        self._real = real

    async def authorize(self, **_: Any) -> PaymentResult:
        raise PaymentProviderUnavailable("no answer")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class TestExpiry:
    async def test_an_order_left_unpaid_expires_and_its_stock_is_released(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(
            settings, database_url, engine, run_background=False, ordering_unpaid_order_ttl_s=1.0
        ) as s:
            s.ordering.deps = replace(s.ordering.deps, payments=StalledPayments(s.ordering.deps.payments))
            # The consumers are built from the module's deps when they start (first pump).
            await s.product("MUG-1", stock=3)
            await s.pump()
            placed = (await s.checkout(s.cart(("MUG-1", 2)))).json()
            await s.pump()
            assert (await s.order(placed["id"]))["progress"]["step"] == "authorize_payment"
            assert (await s.stock("MUG-1"))["reserved"] == 2
            deadline = time.monotonic() + 10
            while (await s.order(placed["id"]))["status"] != "expired" and time.monotonic() < deadline:
                await s.ordering.sweeper.run_once()
                await s.pump()
                await asyncio.sleep(0.1)
            order = await s.order(placed["id"])
            assert (order["status"], order["status_reason"], order["progress"]["step"]) == (
                "expired",
                "unpaid",
                "done",
            )
            assert await s.stock("MUG-1") == {"on_hand": 3, "reserved": 0, "available": 3}
