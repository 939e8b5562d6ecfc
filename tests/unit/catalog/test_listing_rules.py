"""Listing requests that make no sense are refused before any query runs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderly.modules.catalog.application.queries import (
    ListingQuery,
    ProductFilter,
    SortOrder,
    check_listing,
    default_sort,
)
from orderly.shared_kernel.errors import InvalidInput


def _check(sort: SortOrder = SortOrder.OLDEST, limit: int = 20, **filters: object) -> None:
    check_listing(ListingQuery(filter=ProductFilter(**filters), sort=sort, limit=limit))  # type: ignore[arg-type]


class TestListingRules:
    def test_relevance_needs_a_text_query(self) -> None:
        with pytest.raises(InvalidInput) as refused:
            _check(SortOrder.RELEVANCE)
        assert refused.value.details["field"] == "sort"

    @pytest.mark.parametrize("sort", [SortOrder.PRICE_ASC, SortOrder.PRICE_DESC])
    def test_a_price_sort_needs_a_currency(self, sort: SortOrder) -> None:
        with pytest.raises(InvalidInput) as refused:
            _check(sort)
        assert refused.value.details["field"] == "currency"

    def test_a_price_range_needs_a_currency(self) -> None:
        with pytest.raises(InvalidInput):
            _check(price_max=Decimal("10"))

    def test_a_bound_with_more_decimals_than_the_currency_has_is_refused(self) -> None:
        with pytest.raises(InvalidInput) as refused:
            _check(currency="JPY", price_min=Decimal("10.5"))
        assert refused.value.details["field"] == "price_min"

    def test_a_minimum_above_the_maximum_is_refused(self) -> None:
        with pytest.raises(InvalidInput):
            _check(currency="EUR", price_min=Decimal("20"), price_max=Decimal("10"))

    @pytest.mark.parametrize("limit", [0, 101])
    def test_a_page_size_out_of_range_is_refused(self, limit: int) -> None:
        with pytest.raises(InvalidInput):
            _check(limit=limit)

    def test_a_sensible_query_passes(self) -> None:
        _check(
            SortOrder.PRICE_ASC,
            currency="EUR",
            price_min=Decimal("0"),
            price_max=Decimal("10.50"),
            text="mug",
        )

    def test_searching_sorts_by_relevance_by_default_and_listing_by_creation(self) -> None:
        assert default_sort(ProductFilter(text="mug")) is SortOrder.RELEVANCE
        assert default_sort(ProductFilter()) is SortOrder.OLDEST
