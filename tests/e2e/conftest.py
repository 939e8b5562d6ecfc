"""Fixtures for tests that go through HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.settings import Settings
from tests.support.http import app_client


@pytest.fixture
async def client(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The whole app (relay and consumers included) on empty tables."""
    async with app_client(settings, database_url) as http:
        yield http
