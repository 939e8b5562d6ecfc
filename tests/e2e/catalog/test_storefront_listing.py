"""Searching and paging the storefront through HTTP, and the 4xx answers to bad queries."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from tests.e2e.catalog.conftest import CatalogApp, product, variant
from tests.support.http import assert_problem, invalid_field_names


async def _walk(http: httpx.AsyncClient, params: dict[str, Any]) -> list[str]:
    names: list[str] = []
    cursor = None
    for _ in range(50):
        response = await http.get("/v1/products", params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        page = response.json()
        names += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return names
    raise AssertionError("paging never ended")


async def _shop(app: CatalogApp) -> None:
    """Kitchen > Mugs; a few products across it with sizes, colours and prices."""
    kitchen = await app.category("Kitchen")
    mugs = await app.category("Mugs", kitchen)
    await app.create(
        product(
            "Red stoneware mug",
            variant("RM-S", "12.50", size="S", colour="Red"),
            variant("RM-L", "14.00", size="L", colour="Red"),
            category_ids=[mugs],
        )
    )
    await app.create(
        product("Blue mug", variant("BM-M", "9.90", size="M", colour="Blue"), category_ids=[mugs])
    )
    await app.create(product("Steel kettle", variant("SK-1", "35.00"), category_ids=[kitchen]))
    await app.create(product("Garden hose", variant("GH-1", "20.00", "USD")))
    await app.create(product("Draft mug", variant("DM-1", "1.00")), published=False)


class TestFindingProducts:
    async def test_filters_sorts_and_pages_over_http(self, catalog_app: CatalogApp) -> None:
        await _shop(catalog_app)
        http = catalog_app.http
        assert await _walk(http, {"limit": 2}) == [
            "Red stoneware mug",
            "Blue mug",
            "Steel kettle",
            "Garden hose",
        ]
        assert await _walk(http, {"category": "kitchen", "sort": "newest", "limit": 1}) == [
            "Steel kettle",
            "Blue mug",
            "Red stoneware mug",
        ]
        assert await _walk(
            http, {"category": "mugs", "attr": ["size:l", "size:M"], "sort": "price_asc", "currency": "EUR"}
        ) == [
            "Blue mug",
            "Red stoneware mug",
        ]
        assert await _walk(http, {"attr": ["size:S", "colour:blue"]}) == []
        assert await _walk(
            http, {"currency": "EUR", "price_min": "10", "price_max": "40", "sort": "price_desc", "limit": 1}
        ) == ["Steel kettle", "Red stoneware mug"]
        assert await _walk(http, {"q": "stonewear mugs"}) == ["Red stoneware mug"]
        assert (await _walk(http, {"q": "mug"}))[0] in {"Red stoneware mug", "Blue mug"}

    async def test_the_category_tree_nests_children_under_parents(self, catalog_app: CatalogApp) -> None:
        kitchen = await catalog_app.category("Kitchen")
        await catalog_app.category("Mugs", kitchen)
        await catalog_app.category("Bathroom")
        tree = (await catalog_app.http.get("/v1/categories")).json()["items"]
        assert [(c["slug"], [g["slug"] for g in c["children"]]) for c in tree] == [
            ("bathroom", []),
            ("kitchen", ["mugs"]),
        ]


def _tamper(cursor: str) -> str:
    body, mac = cursor.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[-5] ^= 0x02
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode() + "." + mac


class TestBadListingRequests:
    async def test_a_tampered_cursor_or_one_from_another_sort_is_422_naming_the_cursor(
        self, catalog_app: CatalogApp
    ) -> None:
        await _shop(catalog_app)
        http = catalog_app.http
        cursor = (await http.get("/v1/products", params={"limit": 1})).json()["next_cursor"]
        assert cursor
        tampered = await http.get("/v1/products", params={"limit": 1, "cursor": _tamper(cursor)})
        assert invalid_field_names(assert_problem(tampered, 422, "invalid-input")) == {"cursor"}
        other_sort = await http.get("/v1/products", params={"limit": 1, "cursor": cursor, "sort": "newest"})
        assert "another sort" in assert_problem(other_sort, 422, "invalid-input")["detail"]
        other_filter = await http.get("/v1/products", params={"limit": 1, "cursor": cursor, "attr": "size:s"})
        assert_problem(other_filter, 422, "invalid-input")

    async def test_meaningless_queries_are_422_naming_the_parameter(self, catalog_app: CatalogApp) -> None:
        http = catalog_app.http
        cases = [
            ({"sort": "relevance"}, "sort"),
            ({"sort": "price_asc"}, "currency"),
            ({"price_max": "10"}, "currency"),
            ({"currency": "JPY", "price_min": "1.5"}, "price_min"),
            ({"currency": "EUR", "price_min": "-1"}, "price_min"),
            ({"currency": "EUR", "price_min": "9", "price_max": "1"}, "price_min"),
            ({"attr": "size"}, "attr"),
            ({"attr": "Size:M"}, "attr"),
            ({"sort": "cheapest"}, "sort"),
        ]
        for params, field in cases:
            response = await http.get("/v1/products", params=params)
            assert response.status_code == 422, (params, response.text)
            assert field in invalid_field_names(response.json()), (params, response.json())

    async def test_an_unknown_category_filter_is_422(self, catalog_app: CatalogApp) -> None:
        problem = assert_problem(
            await catalog_app.http.get("/v1/products", params={"category": "nowhere"}),
            422,
            "unknown-category",
        )
        assert invalid_field_names(problem) == {"category"}
