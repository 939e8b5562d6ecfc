"""Fixtures for tests that go through HTTP.

Two flavours of the whole app (relay and consumers included):
- ``client``: a fresh app on freshly truncated tables, for tests whose
  assertions depend on what the catalog holds (paging, projections);
- ``shared_client`` / ``shared_engine``: one app and engine per test module,
  for tests that must write nothing (they compare row counts before and after
  each request, so they need no clean slate). Such modules run their tests on
  the module's event loop: ``pytestmark = pytest.mark.asyncio(loop_scope="module")``.
  Starting an app and truncating every table costs about a second here, and
  the bad-input suite alone has over a hundred cases.

Both clients act as an admin: requests without an ``Authorization`` header
of their own carry an admin staff member's token (``app_client(staff_role=...)``),
so the catalog's back-office routes answer. Tests of who may call what use
``tests/e2e/test_route_policies.py``'s anonymous clients.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.db import create_engine
from orderly.platform.settings import Settings
from tests.conftest import truncate_all
from tests.support.http import app_client


def _settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, relay_poll_interval_s=0.05, log_json=False)


@pytest.fixture
async def client(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The whole app on empty tables."""
    async with app_client(settings, database_url, staff_role="admin") as http:
        yield http


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """One app for the whole module, started on empty tables (an earlier module's
    unfinished orders would otherwise be picked up by this app's sweeps);
    the module's own tests then leave the tables as they are."""
    engine = create_engine(_settings(database_url), database_url, pool_size=2)
    try:
        await truncate_all(engine)
    finally:
        await engine.dispose()
    async with app_client(_settings(database_url), database_url, staff_role="admin") as http:
        yield http


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(_settings(database_url), database_url, pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()
