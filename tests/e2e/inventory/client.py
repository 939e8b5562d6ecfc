"""The HTTP client every inventory e2e and reliability test uses: one place for its credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from orderly.platform.settings import Settings
from tests.support.http import app_client

# The inventory routes need inventory:read/write; the admin role holds them
# and catalog:write too, which the catalog-to-reservation flow uses to create
# its product. Which role reaches which route is tested in
# tests/e2e/test_route_policies.py.
STAFF_ROLE = "admin"


@asynccontextmanager
async def inventory_client(
    settings: Settings, database_url: str, *, run_background: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """The whole app; every request without credentials of its own carries a staff token."""
    async with app_client(
        settings, database_url, run_background=run_background, staff_role=STAFF_ROLE
    ) as client:
        yield client
