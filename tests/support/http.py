"""Drive the real ASGI app in-process and read its answers.

The app is built exactly as ``orderly serve`` builds it (same composition root,
same lifespan), only pointed at the test database and without a socket.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.entrypoints.api import create_app
from orderly.entrypoints.bootstrap import build_container
from orderly.modules.catalog.adapters import tables as catalog_tables
from orderly.modules.inventory.adapters import tables as inventory_tables
from orderly.platform.http.problems import PROBLEM_MEDIA_TYPE, TYPE_PREFIX
from orderly.platform.settings import Settings
from tests.support.auth import AuthKit

BASE_URL = "http://orderly.test"

# Every table of the modules a product write touches, directly or through the
# relay and the consumers (projections included).
WRITE_TABLES: tuple[Table, ...] = (
    *catalog_tables.metadata.sorted_tables,
    *inventory_tables.metadata.sorted_tables,
)


class StaffToken(httpx.Auth):
    """Sends a staff member's access token with every request that brings no credentials of its own.

    The member (of ``role``) is created and the token signed by the app's own
    identity module on the first request, so an app that never needs it (or
    cannot reach its database) never makes one; the token is renewed a minute
    before it expires, so a long-lived client keeps working.
    """

    RENEW_BEFORE_S = 60.0

    def __init__(self, app: FastAPI, *, role: str = "admin") -> None:
        self.app = app
        self.role = role
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                kit = AuthKit.from_app(self.app)
                started = time.monotonic()
                self._token = await kit.staff_token(role=self.role)
                self._renew_at = started + kit.settings.identity_access_token_ttl_s - self.RENEW_BEFORE_S
            return self._token

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if "authorization" not in request.headers:
            request.headers["Authorization"] = f"Bearer {await self.token()}"
        yield request


@asynccontextmanager
async def app_client(
    settings: Settings,
    database_url: str,
    *,
    run_background: bool = True,
    customize: Callable[[FastAPI], None] | None = None,
    staff_role: str | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to a freshly built app whose lifespan is running.

    ``customize`` may add test-only routes before the app starts serving.
    ``staff_role`` (``"admin"``, ``"catalog_manager"``...) makes the client a
    staff member of that role: requests without an ``Authorization`` header of
    their own carry that member's token (see ``StaffToken``). Left None, the
    client is anonymous, as a shopper's browser is.
    """
    app = create_app(build_container(settings, database_url=database_url), run_background=run_background)
    if customize is not None:
        customize(app)
    auth = StaffToken(app, role=staff_role) if staff_role is not None else None
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        # raise_app_exceptions=False: let the app's own error handling answer,
        # as a real server would, instead of re-raising in the test.
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, timeout=30, auth=auth) as client:
            yield client


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """Check an RFC 9457 answer: status, media type, stable ``type``; return the body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].split(";")[0] == PROBLEM_MEDIA_TYPE, response.headers
    body: dict[str, Any] = response.json()
    assert body["type"] == TYPE_PREFIX + slug, body
    assert body["status"] == status, body
    assert isinstance(body["title"], str), body
    assert body["title"], body
    assert response.headers.get("x-request-id"), response.headers
    return body


def invalid_field_names(problem: dict[str, Any]) -> set[str]:
    """The dotted names of the fields a validation problem blames."""
    return {str(error["name"]) for error in problem.get("errors") or []}


async def outboxes_drained(engine: AsyncEngine, *, timeout_s: float = 10.0) -> None:
    """Wait until no module has unpublished outbox rows (the in-process bus runs
    consumers before a row is marked published, so their effects are done too)."""
    outboxes = [t for t in WRITE_TABLES if t.name == "outbox"]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        async with engine.connect() as conn:
            pending = 0
            for outbox in outboxes:
                pending += int(
                    await conn.scalar(
                        select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
                    )
                    or 0
                )
        if pending == 0:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{pending} outbox rows still unpublished after {timeout_s}s")
        await asyncio.sleep(0.05)


async def row_counts(engine: AsyncEngine, tables: tuple[Table, ...] = WRITE_TABLES) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            table.fullname: int(await conn.scalar(select(func.count()).select_from(table)) or 0)
            for table in tables
        }


@asynccontextmanager
async def writes_nothing(engine: AsyncEngine) -> AsyncIterator[None]:
    """Fail if any catalog or inventory table gained or lost a row inside the block.

    Earlier requests of the same app may still be flowing through the relay and
    the consumers; wait until every outbox is drained so only this block counts.
    """
    await outboxes_drained(engine)
    before = await row_counts(engine)
    yield
    after = await row_counts(engine)
    changed = {name: (before[name], after[name]) for name in before if before[name] != after[name]}
    assert not changed, f"rows written (before, after): {changed}"


def product_body(
    *,
    name: str | None = None,
    description: str = "Stoneware, 330 ml",
    variants: list[dict[str, Any]] | None = None,
    sku: str = "MUG-1",
    amount: str = "12.50",
    currency: str = "EUR",
) -> dict[str, Any]:
    """A valid ``POST /v1/products`` body; override one part to make it invalid.

    The default name follows the first SKU, so products made with different
    SKUs never clash on anything derived from the name.
    """
    if variants is None:
        variants = [{"sku": sku, "price": {"amount": amount, "currency": currency}}]
    if name is None:
        name = f"Mug {variants[0]['sku'] if variants and isinstance(variants[0], dict) else sku}"
    return {"name": name, "description": description, "variants": variants}
