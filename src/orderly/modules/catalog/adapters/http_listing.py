"""Query parameters of product listings, shared by the storefront and the staff API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from fastapi import Query

from orderly.modules.catalog.adapters.cursor import (
    MAX_CURSOR_LENGTH,
    decode_cursor,
    encode_cursor,
    fingerprint,
)
from orderly.modules.catalog.adapters.representation import page_json
from orderly.modules.catalog.adapters.schemas import AMOUNT_PATTERN
from orderly.modules.catalog.application.queries import (
    MAX_PAGE,
    MAX_QUERY_TEXT,
    ListingQuery,
    ProductFilter,
    ProductQueries,
    SortOrder,
    check_listing,
    default_sort,
)
from orderly.modules.catalog.domain.product import MAX_ATTRIBUTE_VALUE, ProductStatus
from orderly.platform.http.types import SafeStr
from orderly.shared_kernel.errors import InvalidInput

_ATTRIBUTE = re.compile(rf"^([a-z][a-z0-9_]{{0,31}}):(.{{1,{MAX_ATTRIBUTE_VALUE}}})$", re.DOTALL)
MAX_ATTRIBUTE_FILTERS = 20


@dataclass(frozen=True)
class ListingParams:
    limit: int
    cursor: str | None
    q: str | None
    category: str | None
    attr: tuple[str, ...]
    currency: str | None
    price_min: str | None
    price_max: str | None
    sort: SortOrder | None


def listing_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size.")] = 20,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_LENGTH, description="`next_cursor` of the previous page, unchanged."),
    ] = None,
    q: Annotated[
        SafeStr | None,
        Query(
            min_length=1,
            max_length=MAX_QUERY_TEXT,
            description="Text search over names and descriptions (stemmed, with typo tolerance on names). "
            'Supports "quoted phrases", `or` and `-excluded` words.',
        ),
    ] = None,
    category: Annotated[
        SafeStr | None,
        Query(
            max_length=120, description="Category slug or id; products of its sub-categories are included."
        ),
    ] = None,
    attr: Annotated[
        list[SafeStr] | None,
        Query(
            max_length=MAX_ATTRIBUTE_FILTERS,
            description="`code:value`, repeatable. Values of one attribute are alternatives "
            "(`attr=size:M&attr=size:L`); different attributes must all match. Case-insensitive.",
        ),
    ] = None,
    currency: Annotated[
        str | None, Query(pattern=r"^[A-Z]{3}$", description="Currency of the price filter and price sort.")
    ] = None,
    price_min: Annotated[
        str | None, Query(pattern=AMOUNT_PATTERN, description='Lowest "from" price, inclusive.')
    ] = None,
    price_max: Annotated[
        str | None, Query(pattern=AMOUNT_PATTERN, description='Highest "from" price, inclusive.')
    ] = None,
    sort: Annotated[
        SortOrder | None,
        Query(description="Default: `relevance` with `q`, otherwise `oldest` (creation order)."),
    ] = None,
) -> ListingParams:
    return ListingParams(
        limit=limit,
        cursor=cursor,
        q=q,
        category=category,
        attr=tuple(attr or ()),
        currency=currency,
        price_min=price_min,
        price_max=price_max,
        sort=sort,
    )


def _attributes(raw: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    grouped: dict[str, list[str]] = {}
    for item in raw:
        match = _ATTRIBUTE.fullmatch(item)
        if match is None or not match.group(2).strip():
            raise InvalidInput(
                f"attr '{item[:80]}' is not code:value (code: lowercase letters, digits, '_')",
                field="attr",
                location="query",
            )
        grouped.setdefault(match.group(1), []).append(match.group(2))
    return tuple((code, tuple(values)) for code, values in sorted(grouped.items()))


def listing_query(params: ListingParams, *, statuses: tuple[ProductStatus, ...]) -> ListingQuery:
    """Validate the parameters and turn them into a query, decoding the cursor against it."""
    product_filter = ProductFilter(
        statuses=statuses,
        category=params.category,
        attributes=_attributes(params.attr),
        currency=params.currency,
        price_min=Decimal(params.price_min) if params.price_min else None,
        price_max=Decimal(params.price_max) if params.price_max else None,
        text=(params.q.strip() or None) if params.q else None,
    )
    sort = params.sort or default_sort(product_filter)
    query = ListingQuery(filter=product_filter, sort=sort, limit=params.limit)
    check_listing(query)
    if params.cursor:
        after = decode_cursor(params.cursor, sort=sort, query_fingerprint=fingerprint(product_filter, sort))
        query = ListingQuery(filter=product_filter, sort=sort, limit=params.limit, after=after)
    return query


async def staff_page(queries: ProductQueries, query: ListingQuery) -> bytes:
    page = await queries.page(query)
    next_cursor = (
        encode_cursor(page.next_key, sort=query.sort, query_fingerprint=fingerprint(query.filter, query.sort))
        if page.next_key
        else None
    )
    return page_json(page.items, next_cursor, staff=True)
