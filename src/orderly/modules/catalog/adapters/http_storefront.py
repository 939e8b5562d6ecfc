"""The storefront API: what shoppers' apps read. Published products only, cached."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from orderly.modules.catalog.adapters.http_listing import ListingParams, listing_params, listing_query
from orderly.modules.catalog.adapters.schemas import (
    SLUG_FIELD_PATTERN,
    CategoryTreeOut,
    ProductOut,
    ProductPageOut,
)
from orderly.modules.catalog.adapters.storefront import StorefrontReads
from orderly.modules.catalog.domain.errors import ProductNotFound
from orderly.modules.catalog.domain.product import ProductStatus
from orderly.platform.http.problems import problem_responses

JSON = "application/json"


def build_storefront_router(reads: StorefrontReads) -> APIRouter:
    router = APIRouter(tags=["storefront"])

    @router.get(
        "/v1/products",
        response_model=ProductPageOut,
        responses=problem_responses(400, 422),
        summary="List and search published products",
    )
    async def list_products(params: Annotated[ListingParams, Depends(listing_params)]) -> Response:
        """Published products, a page at a time, filtered by category (sub-categories
        included), attribute values, "from" price in a currency and text, sorted by
        `relevance`, `price_asc`, `price_desc`, `newest` or `oldest`.

        Pagination is keyset-based: pass `next_cursor` back as `cursor` with the same
        filters and sort (a cursor from another query is refused with 422). Pages are
        stable under concurrent inserts and cost the same however deep you go.
        A product's "from" price is its lowest variant price in that currency; products
        without a price in it are left out of price filters and sorts.

        Availability (`in_stock`, `low`, `out_of_stock`) comes from inventory's stock
        reports and is eventually consistent: it can trail a sale or a delivery by a
        moment, and a SKU inventory has not reported yet shows `out_of_stock`. Pages may
        be served from a cache up to 30 s old.
        """
        query = listing_query(params, statuses=(ProductStatus.PUBLISHED,))
        return Response(await reads.listing(query, cursor=params.cursor), media_type=JSON)

    @router.get(
        "/v1/products/by-slug/{slug}",
        response_model=ProductOut,
        responses=problem_responses(404, 422),
        summary="A published product by its slug",
    )
    async def get_by_slug(
        slug: Annotated[str, Path(max_length=120, pattern=SLUG_FIELD_PATTERN)],
    ) -> Response:
        """One published product, found by its slug. Drafts and archived products answer 404.

        Availability is eventually consistent (see the listing)."""
        document = await reads.product_by_slug(slug)
        if document is None:
            raise ProductNotFound(slug)
        return Response(document, media_type=JSON)

    @router.get(
        "/v1/products/{product_id}",
        response_model=ProductOut,
        responses=problem_responses(404, 422),
        summary="A published product",
    )
    async def get_product(product_id: uuid.UUID) -> Response:
        """One published product with its variants, prices and availability. Drafts and
        archived products answer 404 here (staff read them under `/v1/admin/products`).

        Availability (`in_stock`, `low`, `out_of_stock`) comes from inventory's stock
        reports and is eventually consistent: it can trail a sale or a delivery by a
        moment, and a SKU inventory has not reported yet shows `out_of_stock`."""
        document = await reads.product(product_id)
        if document is None:
            raise ProductNotFound(product_id)
        return Response(document, media_type=JSON)

    @router.get("/v1/categories", response_model=CategoryTreeOut, summary="The category tree")
    async def category_tree() -> Response:
        """Every category, nested under its parent, siblings in name order."""
        return Response(await reads.category_tree(), media_type=JSON)

    return router
