"""A SKU is unique across the catalog: a clash is a 409 naming it, and the refused
product leaves nothing behind."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.http import assert_problem, product_body, row_counts


class TestDuplicateSkuAcrossProducts:
    async def test_a_sku_another_product_has_is_a_409_naming_it_and_the_second_product_is_not_kept(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        first = await client.post("/v1/products", json=product_body(name="Mug", sku="MUG-1"))
        assert first.status_code == 201, first.text
        before = await row_counts(engine)

        price = {"amount": "3.00", "currency": "EUR"}
        second = await client.post(
            "/v1/products",
            json=product_body(
                name="Cup", variants=[{"sku": "CUP-1", "price": price}, {"sku": "MUG-1", "price": price}]
            ),
        )
        problem = assert_problem(second, 409, "duplicate-sku")
        assert problem["sku"] == "MUG-1"
        assert "MUG-1" in problem["detail"]
        # Not even the clash-free variant or the product row of the refused one.
        counts = await row_counts(engine)
        assert counts["catalog.products"] == before["catalog.products"] == 1
        assert counts["catalog.variants"] == before["catalog.variants"] == 1
        assert counts["catalog.outbox"] == before["catalog.outbox"] == 1


class TestDuplicateSlug:
    async def test_an_explicit_slug_another_product_has_is_a_409_naming_it(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        first = await client.post("/v1/products", json={**product_body(sku="MUG-1"), "slug": "mug"})
        assert first.status_code == 201, first.text
        second = await client.post("/v1/products", json={**product_body(sku="CUP-1"), "slug": "mug"})
        problem = assert_problem(second, 409, "duplicate-slug")
        assert problem["slug"] == "mug"
        assert (await row_counts(engine))["catalog.products"] == 1

    async def test_a_name_whose_slug_is_taken_gets_the_next_free_one(self, client: httpx.AsyncClient) -> None:
        first = await client.post("/v1/products", json=product_body(name="Mug", sku="MUG-1"))
        second = await client.post("/v1/products", json=product_body(name="Mug", sku="MUG-2"))
        assert (first.status_code, second.status_code) == (201, 201), second.text
        assert (first.json()["slug"], second.json()["slug"]) == ("mug", "mug-2")
