"""Wires the catalog: tables, unit of work, queries, routes, facade."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from fastapi import APIRouter

from orderly.modules.catalog.adapters import tables
from orderly.modules.catalog.adapters.facade import SqlCatalogApi
from orderly.modules.catalog.adapters.http import build_router
from orderly.modules.catalog.adapters.queries import SqlProductQueries
from orderly.modules.catalog.adapters.repository import CatalogSqlUnitOfWork
from orderly.platform.messaging.port import Subscription
from orderly.platform.modules import BackgroundTask, ModuleContext


class CatalogModule:
    name: ClassVar[str] = "catalog"
    metadata = tables.metadata
    outbox = tables.outbox
    consumes: ClassVar[Sequence[tuple[str, tuple[str, ...]]]] = ()

    def __init__(self, ctx: ModuleContext) -> None:
        self._ctx = ctx
        self._queries = SqlProductQueries(ctx.engine)
        self._facade = SqlCatalogApi(ctx.engine)

    def unit_of_work(self) -> CatalogSqlUnitOfWork:
        return CatalogSqlUnitOfWork(
            self._ctx.engine,
            outbox=tables.outbox,
            inbox=tables.inbox,
            partitions=self._ctx.settings.outbox_partitions,
        )

    def facade(self) -> SqlCatalogApi:
        return self._facade

    def routers(self) -> Sequence[APIRouter]:
        return [build_router(uow_factory=self.unit_of_work, queries=self._queries)]

    def subscriptions(self) -> Sequence[Subscription]:
        return []

    def background_tasks(self) -> Sequence[BackgroundTask]:
        return []
