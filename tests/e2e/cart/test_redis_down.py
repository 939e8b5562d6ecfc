"""Redis out of reach: cart endpoints answer 503 with Retry-After; the rest of the API carries on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.settings import Settings
from tests.e2e.cart.conftest import Shop, open_shop
from tests.support.http import assert_problem

CLOSED_PORT = "redis://127.0.0.1:1/0"
CART_ID = "R" * 32


@pytest.fixture
async def shop_without_redis(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> AsyncIterator[Shop]:
    client = aioredis.from_url(CLOSED_PORT, socket_timeout=0.2, socket_connect_timeout=0.2)
    async for shop in open_shop(
        settings.model_copy(update={"cart_retry_after_s": 7}), database_url, redis=client
    ):
        yield shop


class TestRedisDown:
    async def test_every_cart_endpoint_answers_503_with_retry_after(self, shop_without_redis: Shop) -> None:
        shop = shop_without_redis
        await shop.product("MUG-1", ("12.50", "EUR"))
        customer = await shop.customer()
        requests = [
            ("POST", "/v1/carts", None, {}),
            ("POST", "/v1/carts", None, customer.headers),
            ("GET", f"/v1/carts/{CART_ID}", None, {}),
            ("PUT", f"/v1/carts/{CART_ID}/lines/MUG-1", {"quantity": 1}, {}),
            ("POST", f"/v1/carts/{CART_ID}/lines", {"sku": "MUG-1", "quantity": 1}, {}),
            ("DELETE", f"/v1/carts/{CART_ID}/lines/MUG-1", None, {}),
            ("GET", "/v1/me/cart", None, customer.headers),
            ("POST", "/v1/me/cart/merge", {"guest_cart_id": CART_ID}, customer.headers),
        ]
        for method, path, body, headers in requests:
            response = await shop.http.request(method, path, json=body, headers=headers)
            problem = assert_problem(response, 503, "cart-store-unavailable")
            assert response.headers["retry-after"] == "7", (method, path)
            assert "try again" in problem["detail"]

    async def test_the_rest_of_the_api_still_answers_and_readiness_names_redis(
        self, shop_without_redis: Shop
    ) -> None:
        shop = shop_without_redis
        await shop.product("MUG-1", ("12.50", "EUR"))
        listing = await shop.http.get("/v1/products")
        assert listing.status_code == 200, listing.text
        assert [p["name"] for p in listing.json()["items"]] == ["Product MUG-1"]
        assert (await shop.http.get("/healthz")).status_code == 200
        ready = await shop.http.get("/readyz")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["database"] == "ok"
        assert checks["redis"] != "ok"
