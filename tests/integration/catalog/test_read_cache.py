"""The storefront's Redis cache on the real Redis: read-through, invalidated by the
catalog's own events once the relay delivers them, and never the cause of an error."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import orjson
import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.catalog.adapters.cache import ReadCache
from orderly.modules.catalog.application.commands import (
    CreateProduct,
    NewPrice,
    NewVariant,
    PublishProduct,
    UpdateProduct,
)
from orderly.modules.catalog.application.handlers import create_product, publish_product, update_product
from orderly.modules.catalog.application.queries import ListingQuery, ProductFilter, SortOrder
from orderly.modules.catalog.module import CatalogModule
from orderly.platform.messaging.inprocess import InProcessBus
from orderly.platform.modules import ModuleContext
from orderly.platform.outbox import OutboxRelay
from orderly.platform.settings import Settings
from tests.integration.catalog.conftest import counting_statements
from tests.integration.catalog.events import relay_everything, relay_until

LISTING = ListingQuery(filter=ProductFilter(), sort=SortOrder.OLDEST, limit=10)


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def wired(
    settings: Settings, engine: AsyncEngine, redis_client: aioredis.Redis
) -> AsyncIterator[tuple[CatalogModule, OutboxRelay]]:
    """The catalog on the real Redis (its own key namespace) with its consumers on a bus
    and a relay to drive by hand."""
    namespace = f"test:{uuid.uuid4().hex}:catalog:v1:"
    bus = InProcessBus()
    catalog = CatalogModule(
        ModuleContext(settings=settings, engine=engine, bus=bus, redis=redis_client),
        cache=ReadCache(redis_client, namespace=namespace),
    )
    await bus.consume(catalog.subscriptions())
    relay = OutboxRelay(engine, bus, [catalog.outbox], batch_size=100, poll_interval_s=0.05)
    yield catalog, relay
    keys = [key async for key in redis_client.scan_iter(match=f"{namespace}*")]
    if keys:
        await redis_client.delete(*keys)


async def _product(catalog: CatalogModule, name: str, sku: str, *, publish: bool = True) -> uuid.UUID:
    return await create_product(
        CreateProduct(
            name=name,
            description="",
            publish=publish,
            variants=(NewVariant(sku=sku, prices=(NewPrice(amount=Decimal("5"), currency="EUR"),)),),
        ),
        uow=catalog.unit_of_work(),
    )


def _name(document: bytes | None) -> object:
    assert document is not None
    return orjson.loads(document)["name"]


def _listed(document: bytes) -> list[str]:
    return [item["name"] for item in orjson.loads(document)["items"]]


class TestProductCache:
    async def test_the_second_read_is_served_from_redis_without_the_database(
        self, engine: AsyncEngine, wired: tuple[CatalogModule, OutboxRelay]
    ) -> None:
        catalog, _ = wired
        product_id = await _product(catalog, "Mug", "MUG-1")
        with counting_statements(engine) as miss:
            first = await catalog.storefront.product(product_id)
        with counting_statements(engine) as hit:
            second = await catalog.storefront.product(product_id)
        assert miss.count == 1
        assert hit.count == 0
        assert first == second

    async def test_an_update_shows_once_the_relay_delivers_its_event(
        self, engine: AsyncEngine, wired: tuple[CatalogModule, OutboxRelay]
    ) -> None:
        catalog, relay = wired
        product_id = await _product(catalog, "Mug", "MUG-1")
        await relay_everything(relay, engine)
        assert _name(await catalog.storefront.product(product_id)) == "Mug"
        await update_product(
            UpdateProduct(product_id=product_id, expected_version=1, name="Cup"), uow=catalog.unit_of_work()
        )
        # Committed, but the event has not gone out: the cached document is still served.
        assert _name(await catalog.storefront.product(product_id)) == "Mug"

        async def renamed() -> bool:
            return _name(await catalog.storefront.product(product_id)) == "Cup"

        await relay_until(relay, renamed)

    async def test_a_slug_read_follows_a_slug_change(self, wired: tuple[CatalogModule, OutboxRelay]) -> None:
        catalog, relay = wired
        product_id = await _product(catalog, "Mug", "MUG-1")
        assert _name(await catalog.storefront.product_by_slug("mug")) == "Mug"
        await update_product(
            UpdateProduct(product_id=product_id, expected_version=1, slug="big-mug"),
            uow=catalog.unit_of_work(),
        )

        async def moved() -> bool:
            return (
                await catalog.storefront.product_by_slug("mug") is None
                and await catalog.storefront.product_by_slug("big-mug") is not None
            )

        await relay_until(relay, moved)


class TestListingCache:
    async def test_a_page_is_cached_until_a_product_is_published(
        self, engine: AsyncEngine, wired: tuple[CatalogModule, OutboxRelay]
    ) -> None:
        catalog, relay = wired
        await _product(catalog, "Mug", "MUG-1")
        draft = await _product(catalog, "Cup", "CUP-1", publish=False)
        await relay_everything(relay, engine)
        assert _listed(await catalog.storefront.listing(LISTING, cursor=None)) == ["Mug"]
        with counting_statements(engine) as hit:
            await catalog.storefront.listing(LISTING, cursor=None)
        assert hit.count == 0
        await publish_product(PublishProduct(product_id=draft), uow=catalog.unit_of_work())

        async def listed() -> bool:
            return _listed(await catalog.storefront.listing(LISTING, cursor=None)) == ["Mug", "Cup"]

        await relay_until(relay, listed)


class TestRedisOutage:
    async def test_reads_answer_from_the_database_when_redis_is_unreachable(
        self, settings: Settings, engine: AsyncEngine
    ) -> None:
        # Nothing listens on port 1: every command fails to connect.
        unreachable = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
        catalog = CatalogModule(
            ModuleContext(settings=settings, engine=engine, bus=InProcessBus(), redis=unreachable)
        )
        try:
            product_id = await _product(catalog, "Mug", "MUG-1")
            for _ in range(3):
                assert _name(await catalog.storefront.product(product_id)) == "Mug"
                assert _name(await catalog.storefront.product_by_slug("mug")) == "Mug"
                assert _listed(await catalog.storefront.listing(LISTING, cursor=None)) == ["Mug"]
            # Invalidation on a dead Redis is logged and skipped, not raised.
            await catalog.invalidation.product_changed(product_id, "mug")
        finally:
            await unreachable.aclose()
