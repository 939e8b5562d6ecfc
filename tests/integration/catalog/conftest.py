"""Fixtures for the catalog against the real PostgreSQL: the module, wired as in production."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import fakeredis
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.catalog.module import CatalogModule
from orderly.platform.messaging.inprocess import InProcessBus
from orderly.platform.modules import ModuleContext
from orderly.platform.settings import Settings


def build_catalog(settings: Settings, engine: AsyncEngine, **kwargs: object) -> CatalogModule:
    ctx = ModuleContext(
        settings=settings, engine=engine, bus=InProcessBus(), redis=fakeredis.FakeAsyncRedis()
    )
    return CatalogModule(ctx, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def catalog(settings: Settings, engine: AsyncEngine) -> CatalogModule:
    """The catalog on empty tables, its cache in an in-memory Redis."""
    return build_catalog(settings, engine)


class StatementLog:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def counting_statements(engine: AsyncEngine) -> Iterator[StatementLog]:
    """Every statement the engine sends while the block runs."""
    log = StatementLog()

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        log.statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield log
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
