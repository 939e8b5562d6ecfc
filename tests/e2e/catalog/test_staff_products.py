"""Staff create, change, publish and archive products; the storefront sees only what is published."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.catalog.conftest import CatalogApp, product, settled, variant
from tests.support.http import assert_problem, invalid_field_names, row_counts


class TestDraftsAndPublishing:
    async def test_a_new_staff_product_is_a_draft_the_storefront_cannot_see(
        self, catalog_app: CatalogApp
    ) -> None:
        http = catalog_app.http
        created = await catalog_app.create(product("Mug"), published=False)
        assert created["status"] == "draft"
        staff = await http.get(f"/v1/admin/products/{created['id']}")
        assert staff.status_code == 200
        assert staff.headers["etag"] == '"1"'
        assert_problem(await http.get(f"/v1/products/{created['id']}"), 404, "not-found")
        assert (await http.get("/v1/products")).json()["items"] == []

    async def test_publishing_shows_it_and_archiving_hides_it_again(self, catalog_app: CatalogApp) -> None:
        http = catalog_app.http
        created = await catalog_app.create(product("Mug"), published=False)
        published = await http.post(f"/v1/admin/products/{created['id']}/publish")
        assert published.status_code == 200
        assert (published.json()["status"], published.headers["etag"]) == ("published", '"2"')
        assert (await http.get(f"/v1/products/{created['id']}")).status_code == 200
        assert [p["id"] for p in (await http.get("/v1/products")).json()["items"]] == [created["id"]]

        archived = await http.post(f"/v1/admin/products/{created['id']}/archive", headers={"If-Match": '"2"'})
        assert archived.json()["status"] == "archived"
        assert_problem(await http.get(f"/v1/products/{created['id']}"), 404, "not-found")
        assert (await http.get("/v1/products")).json()["items"] == []
        listed = (await http.get("/v1/admin/products", params={"status": "archived"})).json()["items"]
        assert [p["id"] for p in listed] == [created["id"]]


class TestPatchWithIfMatch:
    async def test_a_patch_with_the_current_etag_changes_only_the_given_fields(
        self, catalog_app: CatalogApp
    ) -> None:
        http = catalog_app.http
        created = await catalog_app.create(product("Mug", description="Stoneware"))
        response = await http.patch(
            f"/v1/admin/products/{created['id']}", json={"name": "Big mug"}, headers={"If-Match": '"1"'}
        )
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == '"2"'
        body = response.json()
        assert (body["name"], body["description"], body["version"]) == ("Big mug", "Stoneware", 2)
        assert (await http.get(f"/v1/products/{created['id']}")).json()["name"] == "Big mug"

    async def test_a_patch_without_if_match_is_428_and_changes_nothing(
        self, catalog_app: CatalogApp, engine: AsyncEngine
    ) -> None:
        created = await catalog_app.create(product("Mug"))
        await settled(engine)
        before = await row_counts(engine)
        response = await catalog_app.http.patch(f"/v1/admin/products/{created['id']}", json={"name": "Cup"})
        assert_problem(response, 428, "precondition-required")
        assert await row_counts(engine) == before
        assert (await catalog_app.http.get(f"/v1/admin/products/{created['id']}")).json()["name"] == "Mug"

    async def test_a_stale_if_match_is_412_naming_the_current_version_and_changes_nothing(
        self, catalog_app: CatalogApp, engine: AsyncEngine
    ) -> None:
        http = catalog_app.http
        created = await catalog_app.create(product("Mug"))
        url = f"/v1/admin/products/{created['id']}"
        await http.patch(url, json={"name": "Cup"}, headers={"If-Match": '"1"'})
        await settled(engine)
        before = await row_counts(engine)
        problem = assert_problem(
            await http.patch(url, json={"name": "Bowl"}, headers={"If-Match": '"1"'}),
            412,
            "precondition-failed",
        )
        assert problem["current_version"] == 2
        assert await row_counts(engine) == before
        assert (await http.get(url)).json()["name"] == "Cup"

    async def test_a_weak_etag_never_matches(self, catalog_app: CatalogApp) -> None:
        created = await catalog_app.create(product("Mug"))
        response = await catalog_app.http.patch(
            f"/v1/admin/products/{created['id']}", json={"name": "Cup"}, headers={"If-Match": 'W/"1"'}
        )
        assert_problem(response, 412, "precondition-failed")

    async def test_if_match_star_accepts_any_version(self, catalog_app: CatalogApp) -> None:
        created = await catalog_app.create(product("Mug"))
        response = await catalog_app.http.patch(
            f"/v1/admin/products/{created['id']}", json={"name": "Cup"}, headers={"If-Match": "*"}
        )
        assert response.status_code == 200

    async def test_two_concurrent_patches_of_one_version_one_wins_and_one_gets_412(
        self, catalog_app: CatalogApp
    ) -> None:
        http = catalog_app.http
        created = await catalog_app.create(product("Mug"))
        url = f"/v1/admin/products/{created['id']}"
        responses = await asyncio.gather(
            *(http.patch(url, json={"name": name}, headers={"If-Match": '"1"'}) for name in ("Cup", "Bowl"))
        )
        assert sorted(r.status_code for r in responses) == [200, 412]
        winner = next(r for r in responses if r.status_code == 200).json()["name"]
        current = (await http.get(url)).json()
        assert (current["name"], current["version"]) == (winner, 2)

    async def test_variants_and_prices_are_replaced_by_a_patch(self, catalog_app: CatalogApp) -> None:
        created = await catalog_app.create(product("Mug", variant("MUG-1")))
        response = await catalog_app.http.patch(
            f"/v1/admin/products/{created['id']}",
            json={
                "variants": [
                    {
                        "sku": "MUG-2",
                        "attributes": {"size": "L"},
                        "prices": [
                            {"amount": "7.50", "currency": "EUR"},
                            {"amount": "900", "currency": "JPY"},
                        ],
                    }
                ]
            },
            headers={"If-Match": '"1"'},
        )
        [only] = response.json()["variants"]
        assert (only["sku"], only["attributes"]) == ("MUG-2", {"size": "L"})
        assert only["prices"] == [{"amount": "7.50", "currency": "EUR"}, {"amount": "900", "currency": "JPY"}]

    async def test_null_for_a_field_is_refused(self, catalog_app: CatalogApp) -> None:
        created = await catalog_app.create(product("Mug"))
        response = await catalog_app.http.patch(
            f"/v1/admin/products/{created['id']}", json={"name": None}, headers={"If-Match": '"1"'}
        )
        assert_problem(response, 422, "validation-error")


class TestSlugs:
    async def test_slugs_come_from_names_and_repeat_names_get_a_suffix(self, catalog_app: CatalogApp) -> None:
        first = await catalog_app.create(product("Red Mug", variant("A-1")))
        second = await catalog_app.create(product("Red  mug!", variant("B-1")))
        assert (first["slug"], second["slug"]) == ("red-mug", "red-mug-2")
        by_slug = await catalog_app.http.get("/v1/products/by-slug/red-mug-2")
        assert by_slug.json()["id"] == second["id"]

    async def test_a_slug_can_be_edited_and_the_old_one_stops_answering(
        self, catalog_app: CatalogApp
    ) -> None:
        http = catalog_app.http
        created = await catalog_app.create(product("Mug"))
        assert (await http.get("/v1/products/by-slug/mug")).status_code == 200
        await http.patch(
            f"/v1/admin/products/{created['id']}", json={"slug": "mug-xl"}, headers={"If-Match": '"1"'}
        )
        assert (await http.get("/v1/products/by-slug/mug-xl")).json()["id"] == created["id"]
        assert_problem(await http.get("/v1/products/by-slug/mug"), 404, "not-found")


class TestBadInputWritesNothing:
    async def test_an_unknown_category_is_422_naming_it(
        self, catalog_app: CatalogApp, engine: AsyncEngine
    ) -> None:
        missing = "0190b5a0-0000-7000-8000-00000000abcd"
        response = await catalog_app.http.post(
            "/v1/admin/products", json=product("Mug", category_ids=[missing])
        )
        problem = assert_problem(response, 422, "unknown-category")
        assert problem["category"] == missing
        assert invalid_field_names(problem) == {"category_ids"}
        assert set((await row_counts(engine)).values()) == {0}

    async def test_a_sku_of_another_product_is_409_naming_it_on_create_and_on_patch(
        self, catalog_app: CatalogApp, engine: AsyncEngine
    ) -> None:
        http = catalog_app.http
        await catalog_app.create(product("Mug", variant("MUG-1")))
        cup = await catalog_app.create(product("Cup", variant("CUP-1")))
        await settled(engine)
        before = await row_counts(engine)
        created = await http.post(
            "/v1/admin/products", json=product("Bowl", variant("BOWL-1"), variant("MUG-1"))
        )
        assert assert_problem(created, 409, "duplicate-sku")["sku"] == "MUG-1"
        patched = await http.patch(
            f"/v1/admin/products/{cup['id']}",
            json={"variants": [variant("MUG-1")]},
            headers={"If-Match": '"1"'},
        )
        assert assert_problem(patched, 409, "duplicate-sku")["sku"] == "MUG-1"
        assert await row_counts(engine) == before
        assert [v["sku"] for v in (await http.get(f"/v1/admin/products/{cup['id']}")).json()["variants"]] == [
            "CUP-1"
        ]

    async def test_prices_with_too_many_decimals_or_below_zero_are_422_on_the_amount(
        self, catalog_app: CatalogApp, engine: AsyncEngine
    ) -> None:
        for amount, currency in [("1.005", "EUR"), ("100.5", "JPY"), ("-1.00", "EUR")]:
            body = product(
                "Mug",
                {
                    "sku": "MUG-1",
                    "prices": [{"amount": "1", "currency": "USD"}, {"amount": amount, "currency": currency}],
                },
            )
            problem = assert_problem(
                await catalog_app.http.post("/v1/admin/products", json=body), 422, "validation-error"
            )
            assert invalid_field_names(problem) == {"variants.0.prices.1.amount"}, (amount, problem)
        assert set((await row_counts(engine)).values()) == {0}

    async def test_an_invalid_slug_is_422_and_a_taken_one_409(
        self, catalog_app: CatalogApp, engine: AsyncEngine
    ) -> None:
        http = catalog_app.http
        for slug in ["Mug", "mug--1", "-mug", "mug_1", "m" * 121]:
            problem = assert_problem(
                await http.post("/v1/admin/products", json=product("Mug", slug=slug)), 422, "validation-error"
            )
            assert invalid_field_names(problem) == {"slug"}
        assert set((await row_counts(engine)).values()) == {0}
        await catalog_app.create(product("Mug", variant("A-1"), slug="mug"))
        await settled(engine)
        before = await row_counts(engine)
        taken = await http.post("/v1/admin/products", json=product("Cup", variant("B-1"), slug="mug"))
        assert assert_problem(taken, 409, "duplicate-slug")["slug"] == "mug"
        assert await row_counts(engine) == before
