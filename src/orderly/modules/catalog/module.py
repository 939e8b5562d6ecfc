"""Wires the catalog: tables, unit of work, queries, cache, routes, consumers, facade."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from fastapi import APIRouter

from orderly.modules.catalog.adapters import tables
from orderly.modules.catalog.adapters.cache import ReadCache
from orderly.modules.catalog.adapters.consumers import (
    READ_CACHE,
    READ_CACHE_EVENTS,
    STOCK_LEVEL_EVENTS,
    STOCK_LEVELS,
    CacheInvalidation,
    stock_level_handler,
)
from orderly.modules.catalog.adapters.facade import SqlCatalogApi
from orderly.modules.catalog.adapters.http_admin import build_admin_router
from orderly.modules.catalog.adapters.http_storefront import build_storefront_router
from orderly.modules.catalog.adapters.queries import SqlProductQueries
from orderly.modules.catalog.adapters.repository import CatalogSqlUnitOfWork
from orderly.modules.catalog.adapters.storefront import StorefrontReads
from orderly.platform.messaging.port import Subscription
from orderly.platform.modules import BackgroundTask, ModuleContext


class CatalogModule:
    name: ClassVar[str] = "catalog"
    metadata = tables.metadata
    outbox = tables.outbox
    consumes: ClassVar[Sequence[tuple[str, tuple[str, ...]]]] = (
        (READ_CACHE, READ_CACHE_EVENTS),
        (STOCK_LEVELS, STOCK_LEVEL_EVENTS),
    )

    def __init__(self, ctx: ModuleContext, *, cache: ReadCache | None = None) -> None:
        self._ctx = ctx
        self.queries = SqlProductQueries(ctx.engine)
        self.cache = cache if cache is not None else ReadCache(ctx.redis)
        self.invalidation = CacheInvalidation(self.cache)
        self.storefront = StorefrontReads(self.queries, self.cache)
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
        return [
            build_storefront_router(self.storefront),
            build_admin_router(
                uow_factory=self.unit_of_work, queries=self.queries, invalidation=self.invalidation
            ),
        ]

    def subscriptions(self) -> Sequence[Subscription]:
        return [
            Subscription(
                consumer=READ_CACHE, event_types=READ_CACHE_EVENTS, handler=self.invalidation.handle
            ),
            Subscription(
                consumer=STOCK_LEVELS,
                event_types=STOCK_LEVEL_EVENTS,
                handler=stock_level_handler(
                    engine=self._ctx.engine, uow_factory=self.unit_of_work, cache=self.cache
                ),
            ),
        ]

    def background_tasks(self) -> Sequence[BackgroundTask]:
        return []
