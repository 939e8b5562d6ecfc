"""Alembic environment: every module's metadata, each in its own schema."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from orderly.entrypoints.registry import all_metadata
from orderly.platform.db import async_url
from orderly.platform.schema import platform_metadata

config = context.config
target_metadata = [*platform_metadata(), *all_metadata()]
ONLY_SCHEMA = config.attributes.get("only_schema")
SCHEMAS = {ONLY_SCHEMA} if ONLY_SCHEMA else {metadata.schema for metadata in target_metadata}


def include_name(name: str | None, type_: Any, parent_names: Any) -> bool:
    # Only the modules' schemas are ours; anything else in the database is left alone.
    if type_ == "schema":
        return name in SCHEMAS
    return True


def include_object(obj: Any, name: str | None, type_: Any, reflected: bool, compare_to: Any) -> bool:
    if type_ == "table":
        return obj.schema in SCHEMAS
    return True


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_schemas=True,
        include_name=include_name,
        include_object=include_object,
        compare_type=True,
        compare_server_default=False,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str) -> None:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure)
    finally:
        await engine.dispose()


def run() -> None:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: set ORDERLY_DATABASE_URL or pass it to the config")
    if context.is_offline_mode():
        context.configure(url=async_url(url), target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url))


run()
