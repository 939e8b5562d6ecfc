"""A shop through HTTP: identity, catalog, inventory and cart in one app, Redis in memory.

``Shop`` arranges what a cart test needs (products, prices, stock, customers)
through the same app, and reads the cart documents straight from the app's
Redis so a test can show that a refused request wrote nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.entrypoints.bootstrap import Container
from orderly.modules.cart.adapters.store import NAMESPACE
from orderly.modules.inventory.module import InventoryModule
from orderly.platform.db import create_engine
from orderly.platform.settings import Settings
from tests.conftest import truncate_all
from tests.integration.inventory.support import receive, register, warehouse
from tests.support.auth import AuthKit, SignedInCustomer, bearer, identity_app

MODULES = ["identity", "catalog", "inventory", "cart"]


@dataclass
class Shop:
    http: httpx.AsyncClient
    kit: AuthKit
    staff: dict[str, str]
    _warehouse: str | None = field(default=None)

    @property
    def container(self) -> Container:
        assert self.kit.app is not None
        container: Container = self.kit.app.state.container
        return container

    @property
    def redis(self) -> aioredis.Redis:
        return self.container.redis

    async def product(self, sku: str, *prices: tuple[str, str], published: bool = True) -> str:
        """A product with one variant; ``prices`` as (amount, currency), the first the base price."""
        body = {
            "name": f"Product {sku}",
            "status": "published" if published else "draft",
            "variants": [{"sku": sku, "prices": [{"amount": a, "currency": c} for a, c in prices]}],
        }
        response = await self.http.post("/v1/admin/products", json=body, headers=self.staff)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def reprice(self, product_id: str, sku: str, *prices: tuple[str, str]) -> None:
        body = {"variants": [{"sku": sku, "prices": [{"amount": a, "currency": c} for a, c in prices]}]}
        response = await self.http.patch(
            f"/v1/admin/products/{product_id}", json=body, headers={**self.staff, "If-Match": "*"}
        )
        assert response.status_code == 200, response.text

    async def archive(self, product_id: str) -> None:
        response = await self.http.post(f"/v1/admin/products/{product_id}/archive", headers=self.staff)
        assert response.status_code == 200, response.text

    async def stock(self, sku: str, units: int) -> None:
        """Units on hand of a SKU (registered as the catalog's ProductCreated would)."""
        inventory = next(m for m in self.container.modules if isinstance(m, InventoryModule))
        if self._warehouse is None:
            self._warehouse = f"WH-{uuid.uuid4().hex[:6].upper()}"
            await warehouse(inventory, self._warehouse)
        await register(inventory, sku)
        await receive(inventory, sku, self._warehouse, units)

    async def customer(self) -> SignedInCustomer:
        return await self.kit.customer()

    async def open_cart(
        self, *, currency: str | None = None, as_: SignedInCustomer | None = None
    ) -> dict[str, Any]:
        body = {"currency": currency} if currency is not None else None
        headers = as_.headers if as_ is not None else {}
        response = await self.http.post("/v1/carts", json=body, headers=headers)
        assert response.status_code in {200, 201}, response.text
        cart: dict[str, Any] = response.json()
        return cart

    async def put_line(
        self, cart_id: str, sku: str, quantity: int, *, as_: SignedInCustomer | None = None
    ) -> httpx.Response:
        headers = as_.headers if as_ is not None else {}
        return await self.http.put(
            f"/v1/carts/{cart_id}/lines/{sku}", json={"quantity": quantity}, headers=headers
        )

    async def cart_documents(self) -> dict[str, object]:
        """Every cart key in the app's Redis with its content."""
        state: dict[str, object] = {}
        async for raw in self.redis.scan_iter(match=NAMESPACE + "*", count=500):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            kind = await self.redis.type(key)
            kind = kind.decode() if isinstance(kind, bytes) else str(kind)
            state[key] = await self.redis.hgetall(key) if kind == "hash" else await self.redis.get(key)
        return state


async def open_shop(settings: Settings, database_url: str, **kwargs: Any) -> AsyncIterator[Shop]:
    async with identity_app(settings, database_url, module_names=MODULES, **kwargs) as (http, kit):
        staff = bearer(await kit.staff_token())
        yield Shop(http=http, kit=kit, staff=staff)


@pytest.fixture
async def shop(settings: Settings, database_url: str, engine: AsyncEngine) -> AsyncIterator[Shop]:
    """The shop on empty tables, with a Redis of its own."""
    async for value in open_shop(settings, database_url):
        yield value


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_shop(database_url: str) -> AsyncIterator[Shop]:
    """One shop for a whole test module (tables emptied once at its start)."""
    settings = Settings(database_url=database_url, log_json=False)
    engine = create_engine(settings, database_url, pool_size=2)
    try:
        await truncate_all(engine)
    finally:
        await engine.dispose()
    async for value in open_shop(settings, database_url):
        yield value
