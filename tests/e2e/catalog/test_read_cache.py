"""The storefront's cache seen through HTTP: filled on read, emptied on change, optional."""

from __future__ import annotations

from datetime import UTC, datetime

from orderly.modules.catalog.adapters.cache import KEY_PREFIX
from orderly.modules.inventory.contracts import StockLevelChanged
from orderly.platform.events import Message, to_payload
from tests.e2e.catalog.conftest import CatalogApp, product, variant


class TestCacheThroughHttp:
    async def test_a_read_fills_the_cache_and_a_patch_empties_it(self, catalog_app: CatalogApp) -> None:
        http, redis = catalog_app.http, catalog_app.container.redis
        created = await catalog_app.create(product("Mug"))
        key = f"{KEY_PREFIX}product:{created['id']}"
        assert await redis.get(key) is None
        first = await http.get(f"/v1/products/{created['id']}")
        assert await redis.get(key) == first.content
        await http.patch(
            f"/v1/admin/products/{created['id']}", json={"name": "Cup"}, headers={"If-Match": '"1"'}
        )
        assert (await http.get(f"/v1/products/{created['id']}")).json()["name"] == "Cup"

    async def test_a_stock_report_from_inventory_shows_as_availability(self, catalog_app: CatalogApp) -> None:
        http = catalog_app.http
        created = await catalog_app.create(product("Mug", variant("MUG-1")))
        assert (await http.get(f"/v1/products/{created['id']}")).json()["availability"] == "out_of_stock"
        event = StockLevelChanged(
            aggregate_id="MUG-1",
            sku="MUG-1",
            on_hand=5,
            reserved=2,
            available=3,
            occurred_at=datetime.now(UTC),
        )
        await catalog_app.container.bus.publish(
            [
                Message(
                    message_id=event.event_id,
                    event_type=event.event_type,
                    aggregate_id=event.aggregate_id,
                    occurred_at=event.occurred_at,
                    payload=to_payload(event),
                )
            ]
        )
        document = (await http.get(f"/v1/products/{created['id']}")).json()
        assert (document["availability"], document["variants"][0]["availability"]) == ("low", "low")


class TestRedisDown:
    async def test_every_storefront_read_answers_200_from_the_database(
        self, catalog_app_without_redis: CatalogApp
    ) -> None:
        app = catalog_app_without_redis
        created = await app.create(product("Mug"))
        assert (await app.http.get(f"/v1/products/{created['id']}")).status_code == 200
        assert (await app.http.get("/v1/products/by-slug/mug")).status_code == 200
        listing = await app.http.get("/v1/products", params={"q": "mug"})
        assert [p["id"] for p in listing.json()["items"]] == [created["id"]]
        assert (await app.http.get("/v1/categories")).status_code == 200
        patched = await app.http.patch(
            f"/v1/admin/products/{created['id']}", json={"name": "Cup"}, headers={"If-Match": '"1"'}
        )
        assert patched.status_code == 200
        assert (await app.http.get(f"/v1/products/{created['id']}")).json()["name"] == "Cup"
