"""An app with the identity module, its HTTP client and an AuthKit, on empty tables."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.settings import Settings
from tests.support.auth import AuthKit, identity_app


@pytest.fixture
async def app(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, AuthKit]]:
    async with identity_app(settings, database_url) as pair:
        yield pair


@pytest.fixture
def http(app: tuple[httpx.AsyncClient, AuthKit]) -> httpx.AsyncClient:
    return app[0]


@pytest.fixture
def kit(app: tuple[httpx.AsyncClient, AuthKit]) -> AuthKit:
    return app[1]
