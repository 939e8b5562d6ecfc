"""The whole app on the test database, driven through HTTP, with ordering's hooks at hand.

Products, stock and orders go through the real endpoints; carts come from an
in-memory cart facade (``InMemoryCarts``) so checkout tests do not depend on
Redis. Payments go to the simulated provider the payments module runs in this
process (its webhooks come back in-process); ``sim`` reads its books.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.entrypoints.bootstrap import Container
from orderly.modules.inventory.adapters import tables as inventory_tables
from orderly.modules.ordering.adapters import tables as ordering_tables
from orderly.modules.ordering.module import OrderingModule
from orderly.modules.payments.module import PaymentsModule
from orderly.platform.outbox import OutboxRelay
from orderly.platform.settings import Settings
from tests.support.auth import AuthKit, bearer
from tests.support.http import app_client, product_body
from tests.unit.ordering.fakes import InMemoryCarts

WAREHOUSE = "MAIN"
TERMINAL_OR_SETTLED = frozenset(
    {"confirmed", "cancelled", "payment_failed", "rejected", "expired", "refunded", "partially_refunded"}
)

ADDRESS = {
    "recipient": "Ada Lovelace",
    "line1": "Unter den Linden 1",
    "city": "Berlin",
    "postal_code": "10117",
    "country": "DE",
}


def shop_settings(settings: Settings, **overrides: Any) -> Settings:
    """Short timeouts so sweeps and retries happen within a test's time."""
    values: dict[str, Any] = {
        "relay_poll_interval_s": 0.02,
        "ordering_step_timeout_s": 2.0,
        "ordering_sweep_interval_s": 0.2,
        "payment_provider_timeout_s": 1.0,
        "payment_provider_backoff_base_s": 0.01,
        "payment_provider_backoff_cap_s": 0.05,
        "payment_sweep_interval_s": 0.5,
        "payment_stale_after_s": 2.0,
        "payment_release_grace_s": 0.0,
        "payment_breaker_threshold": 1000,
    }
    values.update(overrides)
    return settings.model_copy(update=values)


@dataclass
class Shop:
    client: httpx.AsyncClient
    app: FastAPI
    engine: AsyncEngine
    carts: InMemoryCarts
    staff_token: str = ""
    background: bool = True
    # A simulator outside the app (shared by several apps in one test); None: the embedded one.
    sim_url: str | None = None
    _warehouse_ready: bool = False
    _relay: OutboxRelay | None = None
    products: dict[str, str] = field(default_factory=dict)

    @property
    def container(self) -> Container:
        container: Container = self.app.state.container
        return container

    @property
    def ordering(self) -> OrderingModule:
        return next(m for m in self.container.modules if isinstance(m, OrderingModule))

    @property
    def payments(self) -> PaymentsModule:
        return next(m for m in self.container.modules if isinstance(m, PaymentsModule))

    @property
    def staff(self) -> dict[str, str]:
        return bearer(self.staff_token)

    async def pump(self) -> None:
        """Without background work: deliver every committed event, and what it causes,
        now (consumers start on the first call, built from the modules as they are then)."""
        if self.background:
            return
        if self._relay is None:
            await self.container.start_consumers()
            self._relay = self.container.relay()
        await self._relay.drain()

    # -- arranging ---------------------------------------------------------------------

    async def product(
        self, sku: str, *, price: str = "12.50", stock: int = 10, published: bool = True
    ) -> str:
        body = {**product_body(sku=sku, amount=price), "status": "published" if published else "draft"}
        response = await self.client.post("/v1/admin/products", json=body, headers=self.staff)
        assert response.status_code == 201, response.text
        product_id = str(response.json()["id"])
        self.products[sku] = product_id
        await self._warehouse()
        if stock:
            await self.add_stock(sku, stock)
        return product_id

    async def add_stock(self, sku: str, delta: int) -> None:
        deadline = time.monotonic() + 10
        while True:
            response = await self.client.post(
                "/v1/inventory/adjustments",
                json={"sku": sku, "warehouse": WAREHOUSE, "delta": delta, "reason": "correction"},
                headers=self.staff,
            )
            # Inventory learns the SKU from the catalog's event, a moment after creation.
            if response.status_code == 201 or time.monotonic() > deadline:
                break
            await self.pump()
            await asyncio.sleep(0.05)
        assert response.status_code == 201, response.text

    async def archive(self, sku: str) -> None:
        response = await self.client.post(
            f"/v1/admin/products/{self.products[sku]}/archive", headers=self.staff
        )
        assert response.status_code == 200, response.text

    async def _warehouse(self) -> None:
        if not self._warehouse_ready:
            response = await self.client.post(
                "/v1/warehouses", json={"code": WAREHOUSE, "name": "Main"}, headers=self.staff
            )
            assert response.status_code in (201, 409), response.text
            self._warehouse_ready = True

    def cart(self, *lines: tuple[str, int], customer_id: uuid.UUID | None = None) -> str:
        return self.carts.put(list(lines), customer_id=customer_id)

    # -- acting ------------------------------------------------------------------------

    async def checkout(
        self,
        cart_id: str,
        *,
        key: str | None = None,
        address: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await self.client.post(
            "/v1/checkouts",
            json={"cart_id": cart_id, "email": "ada@example.com", "shipping_address": address or ADDRESS},
            headers={"Idempotency-Key": key or str(uuid.uuid4()), **(headers or {})},
        )

    async def order(self, order_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/orders/{order_id}", headers=self.staff)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def wait_for(
        self, order_id: str, statuses: frozenset[str] | set[str], *, timeout_s: float = 20
    ) -> dict[str, Any]:
        """Poll until the order is in one of ``statuses`` with its saga finished."""
        deadline = time.monotonic() + timeout_s
        while True:
            order = await self.order(order_id)
            if order["status"] in statuses and order["progress"]["step"] == "done":
                return order
            if time.monotonic() > deadline:
                raise AssertionError(f"order {order_id} stuck: {order['status']} / {order['progress']}")
            await asyncio.sleep(0.05)

    async def stock(self, sku: str) -> dict[str, int]:
        response = await self.client.get(f"/v1/inventory/{sku}", headers=self.staff)
        assert response.status_code == 200, response.text
        body = response.json()
        return {"on_hand": body["on_hand"], "reserved": body["reserved"], "available": body["available"]}

    # -- the provider's books ------------------------------------------------------------

    async def sim(self, path: str, **params: str) -> Any:
        base_url = self.sim_url
        if base_url is None:
            embedded = self.payments.embedded
            assert embedded is not None, "no simulator: pass sim_url or run the embedded one"
            base_url = await embedded.url()
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as sim:
            response = await sim.get(path, params=params)
            assert response.status_code == 200, response.text
            return response.json()

    async def intents(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = (await self.sim("/v1/payment_intents"))["data"]
        return data

    # -- the database, for what no endpoint shows ------------------------------------------

    async def count(self, table: Any, *where: Any) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)

    async def order_count(self) -> int:
        return await self.count(ordering_tables.orders)

    async def reservations(self) -> int:
        return await self.count(inventory_tables.reservations)


Customize = Callable[[Shop], Awaitable[None] | None]


@asynccontextmanager
async def shop(
    settings: Settings,
    database_url: str,
    engine: AsyncEngine,
    *,
    run_background: bool = True,
    fake_carts: bool = True,
    sim_url: str | None = None,
    **overrides: Any,
) -> AsyncIterator[Shop]:
    """The app on ``settings`` (plus ``overrides``). ``fake_carts=False`` keeps the
    cart module's own facade (carts then go through ``/v1/carts``)."""
    apps: list[FastAPI] = []
    carts = InMemoryCarts()

    def customize(app: FastAPI) -> None:
        apps.append(app)
        for module in app.state.container.modules:
            if isinstance(module, OrderingModule) and fake_carts:
                module.use_cart(carts)

    if sim_url is not None:
        overrides["payment_provider_url"] = sim_url
    test_settings = shop_settings(settings, **overrides)
    async with app_client(
        test_settings, database_url, run_background=run_background, customize=customize
    ) as client:
        the_shop = Shop(
            client=client, app=apps[0], engine=engine, carts=carts, background=run_background, sim_url=sim_url
        )
        the_shop.staff_token = await AuthKit.from_app(apps[0]).staff_token(role="admin")
        stop = asyncio.Event()
        simulator: asyncio.Task[None] | None = None
        embedded = the_shop.payments.embedded
        if not run_background and embedded is not None:
            # Background tasks are off, but payments still need their provider.
            simulator = asyncio.create_task(embedded.run(stop))
            await embedded.url()
        try:
            yield the_shop
        finally:
            stop.set()
            if simulator is not None:
                await simulator
