"""The catalog through HTTP: one app per test, as ``orderly serve --modules identity,catalog`` builds it.

Every request goes through the ``CatalogApp`` fixtures below, so credentials
are added in one place: the client is a catalog manager (``STAFF_ROLE``),
whose token goes with every request that brings none of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.entrypoints.api import create_app
from orderly.entrypoints.bootstrap import Container, build_container
from orderly.entrypoints.registry import all_outboxes
from orderly.platform.settings import Settings
from tests.support.http import BASE_URL, StaffToken

# The least role that runs the whole staff catalog API (catalog:read and
# catalog:write): these tests show the role is enough.
STAFF_ROLE = "catalog_manager"


@dataclass
class CatalogApp:
    http: httpx.AsyncClient
    container: Container

    async def create(self, body: dict[str, Any], *, published: bool = True) -> dict[str, Any]:
        response = await self.http.post(
            "/v1/admin/products", json={"status": "published" if published else "draft", **body}
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def category(self, name: str, parent_id: str | None = None) -> str:
        response = await self.http.post("/v1/admin/categories", json={"name": name, "parent_id": parent_id})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


async def _catalog_app(settings: Settings, database_url: str) -> AsyncIterator[CatalogApp]:
    # The catalog deployed without the other business modules (a supported
    # shape: every entrypoint takes the modules to run), with its relay and
    # consumers in the process, and identity as the issuer of staff tokens.
    container = build_container(settings, database_url=database_url, module_names=["identity", "catalog"])
    app = create_app(container, run_background=True)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, timeout=30, auth=StaffToken(app, role=STAFF_ROLE)
        ) as http:
            yield CatalogApp(http=http, container=container)


@pytest.fixture
async def catalog_app(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> AsyncIterator[CatalogApp]:
    """The whole app (relay and consumers included) on empty tables; Redis in memory."""
    async for app in _catalog_app(settings, database_url):
        yield app


@pytest.fixture
async def catalog_app_without_redis(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> AsyncIterator[CatalogApp]:
    """The same app with its Redis URL pointing at a port nothing listens on."""
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async for app in _catalog_app(down, database_url):
        yield app


async def settled(engine: AsyncEngine, *, timeout_s: float = 10) -> None:
    """Wait until every outbox is published, so the consumers' writes are done and
    row counts stop moving (the app's relay runs in the background)."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with engine.connect() as conn:
            pending = 0
            for outbox in all_outboxes():
                pending += int(
                    await conn.scalar(
                        select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
                    )
                    or 0
                )
        if pending == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{pending} outbox rows still unpublished")
        await asyncio.sleep(0.05)


def variant(sku: str, amount: str = "10.00", currency: str = "EUR", **attributes: str) -> dict[str, Any]:
    return {"sku": sku, "prices": [{"amount": amount, "currency": currency}], "attributes": attributes}


def product(name: str, *variants: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "variants": list(variants) or [variant(f"{name.upper().replace(' ', '-')}-1")],
        **fields,
    }
