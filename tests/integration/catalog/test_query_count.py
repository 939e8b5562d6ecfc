"""A page costs a fixed number of queries whatever its size (no N+1)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.catalog.application.queries import ListingQuery, ProductFilter, SortOrder
from orderly.modules.catalog.module import CatalogModule
from tests.integration.catalog.conftest import counting_statements
from tests.integration.catalog.generated import generate


async def _statements_for(
    engine: AsyncEngine, catalog: CatalogModule, query: ListingQuery
) -> tuple[int, int]:
    with counting_statements(engine) as log:
        page = await catalog.queries.page(query)
    return log.count, len(page.items)


class TestQueriesPerPage:
    async def test_a_page_of_5_and_a_page_of_50_cost_the_same_number_of_queries(
        self, engine: AsyncEngine, catalog: CatalogModule
    ) -> None:
        await generate(catalog, seed=1, products=70)
        for product_filter, sort in [
            (ProductFilter(), SortOrder.OLDEST),
            (ProductFilter(currency="EUR"), SortOrder.PRICE_ASC),
            (
                ProductFilter(category="kitchen", attributes=(("size", ("S", "M", "L", "XL")),)),
                SortOrder.NEWEST,
            ),
            (ProductFilter(text="mug"), SortOrder.RELEVANCE),
        ]:
            small, small_items = await _statements_for(
                engine, catalog, ListingQuery(filter=product_filter, sort=sort, limit=5)
            )
            large, large_items = await _statements_for(
                engine, catalog, ListingQuery(filter=product_filter, sort=sort, limit=50)
            )
            assert small_items == min(5, large_items), product_filter
            assert large_items > small_items, "the larger page must hold more products to prove anything"
            assert small == large, (product_filter, sort, small, large)
            # One query for the page with its variants, prices and stock; one more to
            # resolve a category filter into its subtree.
            assert large == (2 if product_filter.category else 1)

    async def test_a_product_is_read_in_one_query(self, engine: AsyncEngine, catalog: CatalogModule) -> None:
        data = await generate(catalog, seed=2, products=3)
        with counting_statements(engine) as log:
            view = await catalog.queries.get(data.products[0].id, published_only=False)
        assert view is not None
        assert len(view.variants) >= 1
        assert log.count == 1
