"""The inventory's migration branch: it matches the tables, and goes down and up again cleanly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from orderly.modules.inventory.adapters.tables import metadata
from orderly.platform import migrations
from orderly.platform.db import async_url
from tests.conftest import ADMIN_DATABASE_URL, require_service


async def _admin(sql: str) -> None:
    engine = create_async_engine(async_url(ADMIN_DATABASE_URL), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture
def scratch_url() -> Iterator[str]:
    require_service("PostgreSQL", ADMIN_DATABASE_URL, 5432)
    name = f"orderly_inventory_mig_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(ADMIN_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _differences(connection: Connection) -> list[Any]:
    def only_inventory(name: str | None, type_: str, parent: Any) -> bool:
        return name == "inventory" if type_ == "schema" else True

    context = MigrationContext.configure(
        connection, opts={"include_schemas": True, "include_name": only_inventory, "compare_type": True}
    )
    return list(compare_metadata(context, metadata))


async def _diff(url: str) -> list[Any]:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_differences)
    finally:
        await engine.dispose()


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'inventory'"))
            return {r[0] for r in rows}
    finally:
        await engine.dispose()


# Synchronous on purpose: Alembic runs its own event loop for the async engine.
def test_the_branch_matches_the_tables_and_round_trips(scratch_url: str) -> None:
    migrations.upgrade(scratch_url, "inventory@head")
    assert asyncio.run(_diff(scratch_url)) == []

    migrations.downgrade(scratch_url, "inventory@inventory_0001")
    assert asyncio.run(_tables(scratch_url)) == {"stock_items", "outbox", "inbox"}

    migrations.downgrade(scratch_url, "inventory@base")
    assert asyncio.run(_tables(scratch_url)) == set()

    migrations.upgrade(scratch_url, "inventory@head")
    assert asyncio.run(_diff(scratch_url)) == []


async def _run(url: str, *statements: str) -> list[Any]:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as conn:
            results = [await conn.execute(text(sql)) for sql in statements]
            return [r.all() if r.returns_rows else None for r in results]
    finally:
        await engine.dispose()


def test_warehouses_written_before_versions_existed_start_at_version_1(scratch_url: str) -> None:
    migrations.upgrade(scratch_url, "inventory@inventory_0002")
    insert = (
        "INSERT INTO inventory.warehouses (code, name, priority, active, created_at) "
        "VALUES ('{code}', 'W', 0, true, now())"
    )
    asyncio.run(_run(scratch_url, insert.format(code="OLD")))

    migrations.upgrade(scratch_url, "inventory@head")
    # A process still on the previous release inserts without the column.
    (_, rows) = asyncio.run(
        _run(
            scratch_url,
            insert.format(code="ROLLOUT"),
            "SELECT code, version FROM inventory.warehouses ORDER BY code",
        )
    )
    assert [tuple(r) for r in rows] == [("OLD", 1), ("ROLLOUT", 1)]
