"""Where retention runs: in the processes that run background tasks, and as ``orderly prune``."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.entrypoints.bootstrap import build_container
from orderly.entrypoints.cli import main
from orderly.modules.catalog.adapters import tables as catalog
from orderly.platform.db import create_engine
from orderly.platform.settings import Settings
from tests.conftest import truncate_all
from tests.support.messaging import wait_until

LONG_AGO = datetime.now(UTC) - timedelta(days=30)


async def add_old_rows(engine: AsyncEngine, *, published: int, unpublished: int, inbox: int) -> None:
    """Catalog outbox and inbox rows a month old: past any retention."""

    def outbox_row(published_at: datetime | None) -> dict[str, object]:
        return {
            "event_id": uuid.uuid4(),
            "event_type": "catalog.test.v1",
            "aggregate_type": "product",
            "aggregate_id": "p-1",
            "partition": 0,
            "payload": {},
            "occurred_at": LONG_AGO,
            "published_at": published_at,
        }

    rows = [outbox_row(LONG_AGO) for _ in range(published)] + [outbox_row(None) for _ in range(unpublished)]
    inbox_rows = [
        {"consumer": "catalog.test", "message_id": uuid.uuid4(), "processed_at": LONG_AGO}
        for _ in range(inbox)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(catalog.outbox), rows)
        if inbox_rows:
            await conn.execute(insert(catalog.inbox), inbox_rows)


async def catalog_outbox_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(catalog.outbox)) or 0)


async def test_background_tasks_prune_the_running_modules_tables(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> None:
    await add_old_rows(engine, published=2, unpublished=1, inbox=0)
    container = build_container(
        settings.model_copy(update={"retention_interval_s": 0.05}),
        database_url=database_url,
        module_names=["catalog"],
    )
    await container.start()
    try:
        container.start_background_tasks()

        async def only_the_unpublished_row_left() -> bool:
            return await catalog_outbox_count(engine) == 1

        await wait_until(only_the_unpublished_row_left, timeout_s=10, what="the worker's pruner to run")
    finally:
        await container.close()


def test_prune_command_prints_what_it_deleted_per_module_and_table(database_url: str) -> None:
    async def arrange() -> None:
        engine = create_engine(Settings(database_url=database_url), database_url, pool_size=1)
        try:
            await truncate_all(engine)
            await add_old_rows(engine, published=3, unpublished=1, inbox=2)
        finally:
            await engine.dispose()

    asyncio.run(arrange())
    result = CliRunner().invoke(
        main,
        ["prune", "--modules", "catalog,inventory"],
        env={"ORDERLY_DATABASE_URL": database_url, "ORDERLY_LOG_LEVEL": "WARNING"},
        catch_exceptions=False,
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "catalog": {"outbox": 3, "inbox": 2},
        "inventory": {"outbox": 0, "inbox": 0},
    }


def test_prune_command_refuses_an_unknown_module(database_url: str) -> None:
    result = CliRunner().invoke(
        main, ["prune", "--modules", "catalgo"], env={"ORDERLY_DATABASE_URL": database_url}
    )

    assert result.exit_code == 2
    assert "unknown module(s): catalgo" in result.output
