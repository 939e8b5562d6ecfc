"""The HTTP client every inventory e2e and reliability test uses: one place for its headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from orderly.platform.settings import Settings
from tests.support.http import app_client


def staff_headers() -> dict[str, str]:
    """Headers sent with every inventory request.

    Empty while the inventory endpoints are open; once they are protected, the
    staff credentials go here and every inventory HTTP test picks them up.
    """
    return {}


@asynccontextmanager
async def inventory_client(
    settings: Settings, database_url: str, *, run_background: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, database_url, run_background=run_background) as client:
        client.headers.update(staff_headers())
        yield client
