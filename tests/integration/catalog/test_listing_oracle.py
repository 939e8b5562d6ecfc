"""Filters, sorts and keyset pages agree with a brute-force oracle on a generated catalog.

Every listing is walked page by page through real cursors (encoded and decoded
as the API does) and compared with what Python computes from the generated
data; pages must never repeat or skip a product.
"""

from __future__ import annotations

import random
import uuid
from decimal import Decimal

from orderly.modules.catalog.adapters.cursor import decode_cursor, encode_cursor, fingerprint
from orderly.modules.catalog.application.queries import (
    ListingQuery,
    PageKey,
    ProductFilter,
    SortOrder,
    check_listing,
)
from orderly.modules.catalog.domain.product import ProductStatus
from orderly.modules.catalog.module import CatalogModule
from tests.integration.catalog.generated import (
    COLOURS,
    MATERIALS,
    NOUNS,
    SIZES,
    GeneratedCatalog,
    generate,
    oracle,
)

PUBLISHED = (ProductStatus.PUBLISHED,)
EVERY_STATUS = tuple(ProductStatus)


async def walk(
    catalog: CatalogModule, product_filter: ProductFilter, sort: SortOrder, limit: int
) -> list[uuid.UUID]:
    """Every id of a listing, following next cursors until the last page."""
    digest = fingerprint(product_filter, sort)
    seen: list[uuid.UUID] = []
    after: PageKey | None = None
    for _ in range(200):
        query = ListingQuery(filter=product_filter, sort=sort, limit=limit, after=after)
        check_listing(query)
        page = await catalog.queries.page(query)
        assert len(page.items) <= limit
        seen.extend(item.id for item in page.items)
        if page.next_key is None:
            return seen
        assert len(page.items) == limit, "a page before the last one is full"
        cursor = encode_cursor(page.next_key, sort=sort, query_fingerprint=digest)
        after = decode_cursor(cursor, sort=sort, query_fingerprint=digest)
    raise AssertionError("the walk never ended")


def _random_filter(rng: random.Random, data: GeneratedCatalog) -> tuple[ProductFilter, SortOrder]:
    sort = rng.choice([SortOrder.OLDEST, SortOrder.NEWEST, SortOrder.PRICE_ASC, SortOrder.PRICE_DESC])
    currency = rng.choice(["EUR", "USD"]) if sort in {SortOrder.PRICE_ASC, SortOrder.PRICE_DESC} else None
    attributes: list[tuple[str, tuple[str, ...]]] = []
    if rng.random() < 0.4:
        attributes.append(("size", tuple(rng.sample(SIZES, rng.randint(1, 2)))))
    if rng.random() < 0.3:
        attributes.append(("colour", tuple(rng.sample(COLOURS, rng.randint(1, 2)))))
    price_min = price_max = None
    if rng.random() < 0.4:
        currency = currency or "EUR"
        price_min = Decimal(rng.choice(["0", "5", "9.99", "12.5"]))
        price_max = price_min + Decimal(rng.choice(["5", "20", "100"]))
    text = rng.choice([*NOUNS, *MATERIALS]) if rng.random() < 0.3 else None
    category = rng.choice(list(data.category_slugs.values())) if rng.random() < 0.4 else None
    statuses = EVERY_STATUS if rng.random() < 0.2 else PUBLISHED
    product_filter = ProductFilter(
        statuses=statuses,
        category=category,
        attributes=tuple(attributes),
        currency=currency,
        price_min=price_min,
        price_max=price_max,
        text=text,
    )
    return product_filter, sort


class TestListingAgainstTheOracle:
    async def test_every_filter_and_sort_walks_exactly_the_expected_products_in_order(
        self, catalog: CatalogModule
    ) -> None:
        data = await generate(catalog, seed=20261127, products=70)
        rng = random.Random(11)
        cases: list[tuple[ProductFilter, SortOrder, int]] = [
            (ProductFilter(), SortOrder.OLDEST, 7),
            (ProductFilter(), SortOrder.NEWEST, 5),
            (ProductFilter(currency="EUR"), SortOrder.PRICE_ASC, 6),
            (ProductFilter(currency="EUR"), SortOrder.PRICE_DESC, 9),
            (ProductFilter(currency="USD"), SortOrder.PRICE_ASC, 4),
            (ProductFilter(category="kitchen"), SortOrder.OLDEST, 3),
            (ProductFilter(attributes=(("size", ("M",)), ("colour", ("red", "BLUE")))), SortOrder.NEWEST, 2),
            (
                ProductFilter(currency="EUR", price_min=Decimal("9.99"), price_max=Decimal("19")),
                SortOrder.PRICE_DESC,
                5,
            ),
            (ProductFilter(statuses=EVERY_STATUS, text="mug"), SortOrder.OLDEST, 3),
        ]
        cases += [(*_random_filter(rng, data), rng.randint(1, 12)) for _ in range(30)]
        mismatches = []
        non_empty = 0
        for product_filter, sort, limit in cases:
            expected = oracle(data, product_filter, sort)
            walked = await walk(catalog, product_filter, sort, limit)
            non_empty += bool(expected)
            assert len(walked) == len(set(walked)), (product_filter, sort, "a product appeared twice")
            if walked != expected:
                mismatches.append((product_filter, sort, limit, len(expected), len(walked)))
        assert mismatches == []
        # The generated data must exercise the listings, not pass on empty results.
        assert non_empty >= len(cases) * 2 // 3

    async def test_relevance_pages_cover_the_matches_once_in_the_order_of_one_big_page(
        self, catalog: CatalogModule
    ) -> None:
        data = await generate(catalog, seed=5, products=40)
        for word in ["mug", "steel", "ceramic", "teapot", "steel kettle"]:
            product_filter = ProductFilter(text=word)
            walked = await walk(catalog, product_filter, SortOrder.RELEVANCE, 3)
            whole = await walk(catalog, product_filter, SortOrder.RELEVANCE, 100)
            assert walked == whole
            if " " not in word:
                assert set(walked) == set(oracle(data, product_filter, SortOrder.OLDEST))

    async def test_a_typo_still_finds_the_product_by_its_name(self, catalog: CatalogModule) -> None:
        data = await generate(catalog, seed=3, products=30)
        typo = ProductFilter(statuses=EVERY_STATUS, text="colandr")
        found = set(await walk(catalog, typo, SortOrder.RELEVANCE, 50))
        colanders = {p.id for p in data.products if "colander" in p.words}
        assert colanders
        assert found == colanders
