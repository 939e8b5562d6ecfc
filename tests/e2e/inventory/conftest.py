"""Fixtures for the inventory's HTTP tests.

Every client comes from ``inventory_client``, so the credentials inventory
requests carry are set in one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.inventory.module import InventoryModule
from orderly.platform.db import create_engine
from orderly.platform.settings import Settings
from tests.conftest import truncate_all
from tests.e2e.inventory.client import inventory_client
from tests.integration.inventory.support import build_inventory


def _settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, relay_poll_interval_s=0.05, log_json=False)


@pytest.fixture
async def client(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The whole app on empty tables."""
    async with inventory_client(settings, database_url) as http:
        yield http


@pytest.fixture
def inventory(settings: Settings, engine: AsyncEngine) -> InventoryModule:
    """The module on the test engine, to arrange what HTTP does not (registering SKUs)."""
    return build_inventory(settings, engine)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """One engine for a whole module, on tables emptied once at its start."""
    engine = create_engine(_settings(database_url), database_url, pool_size=4)
    await truncate_all(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_client(database_url: str, shared_engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """One app for a whole module: for cases that each check they wrote nothing."""
    async with inventory_client(_settings(database_url), database_url) as http:
        yield http


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_inventory(database_url: str, shared_engine: AsyncEngine) -> InventoryModule:
    return build_inventory(_settings(database_url), shared_engine)
