"""Message consumers: the read cache's invalidation and the availability projection."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.catalog.adapters.cache import CATEGORY_TREE_KEY, ReadCache, product_key, slug_key
from orderly.modules.catalog.adapters.repository import CatalogSqlUnitOfWork
from orderly.modules.catalog.adapters.tables import variants
from orderly.modules.catalog.application.commands import RecordStockLevel
from orderly.modules.catalog.application.handlers import record_stock_level
from orderly.modules.catalog.contracts import (
    CategoryChanged,
    ProductArchived,
    ProductCreated,
    ProductPublished,
    ProductUpdated,
)
from orderly.modules.inventory.contracts import StockLevelChanged
from orderly.platform.events import Message, from_message
from orderly.platform.inbox import idempotent_consumer
from orderly.platform.messaging.port import Handler

log = structlog.get_logger(module="catalog.consumers")

READ_CACHE = "catalog.read-cache"
STOCK_LEVELS = "catalog.stock-levels"

READ_CACHE_EVENTS: tuple[str, ...] = (
    ProductCreated.event_type,
    ProductUpdated.event_type,
    ProductPublished.event_type,
    ProductArchived.event_type,
    CategoryChanged.event_type,
)
STOCK_LEVEL_EVENTS: tuple[str, ...] = (StockLevelChanged.event_type,)


class CacheInvalidation:
    """Drops what a change made stale: the product's document, its slug mappings, and
    (through the generation counter) every cached listing page."""

    def __init__(self, cache: ReadCache) -> None:
        self._cache = cache

    async def product_changed(self, product_id: uuid.UUID | str, *slugs: str) -> None:
        await self._cache.delete(product_key(product_id), *(slug_key(s) for s in slugs if s))
        await self._cache.retire_listings()

    async def categories_changed(self) -> None:
        await self._cache.delete(CATEGORY_TREE_KEY)
        await self._cache.retire_listings()

    async def handle(self, message: Message) -> None:
        """Consumer of the catalog's own events. Deleting twice is harmless, so it needs
        no inbox; a Redis outage is logged and left to the TTL (see ReadCache)."""
        event_type = message.event_type
        if event_type == CategoryChanged.event_type:
            await self.categories_changed()
        elif event_type == ProductCreated.event_type:
            created = from_message(ProductCreated, message)
            # A draft is invisible to the storefront: nothing cached can be stale.
            if created.status == "published":
                await self.product_changed(created.product_id, created.slug)
        elif event_type == ProductUpdated.event_type:
            updated = from_message(ProductUpdated, message)
            await self.product_changed(updated.product_id, updated.slug, updated.previous_slug)
        elif event_type == ProductPublished.event_type:
            published = from_message(ProductPublished, message)
            await self.product_changed(published.product_id, published.slug)
        elif event_type == ProductArchived.event_type:
            archived = from_message(ProductArchived, message)
            await self.product_changed(archived.product_id, archived.slug)


async def apply_stock_level(message: Message, uow: CatalogSqlUnitOfWork) -> None:
    event = from_message(StockLevelChanged, message)
    stored = await record_stock_level(
        RecordStockLevel(
            sku=event.sku,
            on_hand=event.on_hand,
            reserved=event.reserved,
            available=event.available,
            as_of=event.occurred_at,
        ),
        uow=uow,
    )
    if not stored:
        log.info("older stock level ignored", sku=event.sku, occurred_at=event.occurred_at.isoformat())


def stock_level_handler(
    *, engine: AsyncEngine, uow_factory: Callable[[], CatalogSqlUnitOfWork], cache: ReadCache
) -> Handler:
    """The projection consumer behind the inbox, then (after its commit) the cached
    document of the product selling the SKU is dropped, so the next read shows the new
    availability. Cached listing pages keep the old one until their TTL ends."""
    project = idempotent_consumer(STOCK_LEVELS, uow_factory, apply_stock_level)

    async def handle(message: Message) -> None:
        await project(message)
        sku = str(message.payload.get("sku", message.aggregate_id))
        async with engine.connect() as conn:
            product_id = await conn.scalar(select(variants.c.product_id).where(variants.c.sku == sku))
        if product_id is not None:
            await cache.delete(product_key(product_id))

    return handle
