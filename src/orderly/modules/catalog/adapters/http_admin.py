"""The staff API under ``/v1/admin``: every status, never cached, optimistic concurrency.

Every route here needs a staff or service token: ``catalog:read`` to read
products in any status, ``catalog:write`` to change anything. ``POST
/v1/products`` (the catalog's first create endpoint) stays as an alias of the
staff create for the clients written against it; it keeps their contract, so
what it creates is published unless the body says ``draft``, and it needs
``catalog:write`` like every other write.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Query, status
from starlette.responses import Response

from orderly.modules.catalog.adapters.consumers import CacheInvalidation
from orderly.modules.catalog.adapters.http_listing import (
    ListingParams,
    listing_params,
    listing_query,
    staff_page,
)
from orderly.modules.catalog.adapters.representation import category_document, product_json
from orderly.modules.catalog.adapters.schemas import (
    CategoryIn,
    CategoryOut,
    CategoryPatch,
    ProductIn,
    ProductOut,
    ProductPageOut,
    ProductPatch,
)
from orderly.modules.catalog.application.commands import (
    ArchiveProduct,
    CreateCategory,
    CreateProduct,
    NewParent,
    PublishProduct,
    UpdateCategory,
    UpdateProduct,
)
from orderly.modules.catalog.application.handlers import (
    archive_product,
    create_category,
    create_product,
    publish_product,
    update_category,
    update_product,
)
from orderly.modules.catalog.application.ports import CatalogUnitOfWork
from orderly.modules.catalog.application.queries import ProductQueries
from orderly.modules.catalog.domain.errors import CategoryNotFound, ProductNotFound, StaleVersion
from orderly.modules.catalog.domain.product import ProductStatus
from orderly.platform.auth import requires
from orderly.platform.http.preconditions import PreconditionProblem, etag, expected_version, stale
from orderly.platform.http.problems import problem_responses, scope_problems

JSON = "application/json"
CATALOG_READ = "catalog:read"
CATALOG_WRITE = "catalog:write"
# Route-level: the handlers need no principal, only the check (and its OpenAPI
# security requirement). A missing or bad token is 401, a missing scope 403.
READER = (Depends(requires(CATALOG_READ)),)
WRITER = (Depends(requires(CATALOG_WRITE)),)

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=64,
        description='The product\'s `ETag` as last read (`"7"`), or `*`. A stale version answers 412.',
    ),
]


def _create_command(body: ProductIn, *, publish_by_default: bool) -> CreateProduct:
    publish = body.status == "published" if body.status is not None else publish_by_default
    return CreateProduct(
        name=body.name,
        description=body.description,
        slug=body.slug,
        category_ids=tuple(body.category_ids),
        publish=publish,
        variants=tuple(v.to_command() for v in body.variants),
    )


def build_admin_router(
    *,
    uow_factory: Callable[[], CatalogUnitOfWork],
    queries: ProductQueries,
    invalidation: CacheInvalidation,
) -> APIRouter:
    """Staff routes. After each write the storefront cache is invalidated at once, for
    read-your-writes; the catalog's events invalidate it again through the consumer,
    which also covers a crash between the commit and this call."""
    router = APIRouter(tags=["catalog staff"])

    async def product_response(
        product_id: uuid.UUID, *, staff: bool = True, status_code: int = 200
    ) -> Response:
        view = await queries.get(product_id, published_only=False)
        if view is None:
            raise ProductNotFound(product_id)
        return Response(
            product_json(view, staff=staff),
            status_code=status_code,
            media_type=JSON,
            headers={"ETag": etag(view.version)},
        )

    async def conditional(
        product_id: uuid.UUID,
        if_match: str | None,
        *,
        required: bool,
        change: Callable[[int | None], Awaitable[int]],
    ) -> Response:
        try:
            await change(expected_version(if_match, required=required, resource="product"))
        except PreconditionProblem as problem:
            return problem.response
        except StaleVersion as exc:
            return stale(exc.message, current_version=exc.current)
        await invalidation.product_changed(product_id)
        return await product_response(product_id)

    @router.post(
        "/v1/admin/products",
        status_code=status.HTTP_201_CREATED,
        response_model=ProductOut,
        responses={**problem_responses(400, 409, 413, 422), **scope_problems(CATALOG_WRITE)},
        dependencies=WRITER,
        summary="Create a product",
    )
    async def create(body: ProductIn) -> Response:
        """Create a product with one or more variants; it is a `draft` unless `status` is
        `published`. The slug is derived from the name when absent (`-2`, `-3`... if
        taken); an explicit slug that is taken answers 409. SKUs are unique across the
        catalog: a clash answers 409 naming the SKU. Unknown `category_ids` answer 422."""
        command = _create_command(body, publish_by_default=False)
        product_id = await create_product(command, uow=uow_factory())
        if command.publish:
            await invalidation.product_changed(product_id)
        response = await product_response(product_id, status_code=201)
        response.headers["Location"] = f"/v1/admin/products/{product_id}"
        return response

    @router.post(
        "/v1/products",
        status_code=status.HTTP_201_CREATED,
        response_model=ProductOut,
        responses={**problem_responses(400, 409, 413, 422), **scope_problems(CATALOG_WRITE)},
        dependencies=WRITER,
        summary="Create a product (published unless the body says draft)",
        deprecated=True,
    )
    async def create_legacy(body: ProductIn) -> Response:
        """The catalog's original create endpoint, kept for the clients built on it: the
        product is published at once, as it always was, unless `status` is `draft`.
        New clients use `POST /v1/admin/products` (drafts by default)."""
        command = _create_command(body, publish_by_default=True)
        product_id = await create_product(command, uow=uow_factory())
        if command.publish:
            await invalidation.product_changed(product_id)
        response = await product_response(product_id, staff=False, status_code=201)
        response.headers["Location"] = f"/v1/products/{product_id}"
        return response

    @router.get(
        "/v1/admin/products",
        response_model=ProductPageOut,
        responses={**problem_responses(400, 422), **scope_problems(CATALOG_READ)},
        dependencies=READER,
        summary="List and search products in any status",
    )
    async def list_all(
        params: Annotated[ListingParams, Depends(listing_params)],
        status_filter: Annotated[
            list[ProductStatus] | None, Query(alias="status", description="Only these statuses (repeatable).")
        ] = None,
    ) -> Response:
        """The storefront listing's filters and sorts over every product, including drafts
        and archived ones (narrow with `status`). Never cached."""
        statuses = tuple(sorted(set(status_filter))) if status_filter else tuple(ProductStatus)
        return Response(await staff_page(queries, listing_query(params, statuses=statuses)), media_type=JSON)

    @router.get(
        "/v1/admin/products/{product_id}",
        response_model=ProductOut,
        responses={**problem_responses(404, 422), **scope_problems(CATALOG_READ)},
        dependencies=READER,
        summary="A product in any status",
    )
    async def get(product_id: uuid.UUID) -> Response:
        """A product with the staff fields; the `ETag` is its version, for `If-Match`."""
        return await product_response(product_id)

    @router.patch(
        "/v1/admin/products/{product_id}",
        response_model=ProductOut,
        responses={**problem_responses(400, 404, 409, 412, 422, 428), **scope_problems(CATALOG_WRITE)},
        dependencies=WRITER,
        summary="Change a product",
    )
    async def patch(product_id: uuid.UUID, body: ProductPatch, if_match: IfMatch = None) -> Response:
        """Change some fields of a product (absent fields stay; `variants` and
        `category_ids` replace the whole list). `If-Match` with the `ETag` from the last
        read is required (428 without it); if the product changed since, the answer is
        412 and nothing is written. The response carries the new `ETag`."""

        async def change(expected: int | None) -> int:
            return await update_product(
                UpdateProduct(
                    product_id=product_id,
                    expected_version=expected,
                    name=body.name,
                    description=body.description,
                    slug=body.slug,
                    category_ids=tuple(body.category_ids) if body.category_ids is not None else None,
                    variants=tuple(v.to_command() for v in body.variants)
                    if body.variants is not None
                    else None,
                ),
                uow=uow_factory(),
            )

        return await conditional(product_id, if_match, required=True, change=change)

    @router.post(
        "/v1/admin/products/{product_id}/publish",
        response_model=ProductOut,
        responses={**problem_responses(400, 404, 412, 422), **scope_problems(CATALOG_WRITE)},
        dependencies=WRITER,
        summary="Publish a product",
    )
    async def publish(product_id: uuid.UUID, if_match: IfMatch = None) -> Response:
        """Show the product on the storefront (a draft or an archived product). Publishing
        a published product changes nothing. `If-Match` is honoured when sent."""

        async def change(expected: int | None) -> int:
            return await publish_product(
                PublishProduct(product_id=product_id, expected_version=expected), uow=uow_factory()
            )

        return await conditional(product_id, if_match, required=False, change=change)

    @router.post(
        "/v1/admin/products/{product_id}/archive",
        response_model=ProductOut,
        responses={**problem_responses(400, 404, 412, 422), **scope_problems(CATALOG_WRITE)},
        dependencies=WRITER,
        summary="Archive a product",
    )
    async def archive(product_id: uuid.UUID, if_match: IfMatch = None) -> Response:
        """Take the product off the storefront; staff still see it and may publish it
        again. `If-Match` is honoured when sent."""

        async def change(expected: int | None) -> int:
            return await archive_product(
                ArchiveProduct(product_id=product_id, expected_version=expected), uow=uow_factory()
            )

        return await conditional(product_id, if_match, required=False, change=change)

    async def category_response(category_id: uuid.UUID, *, status_code: int = 200) -> Response:
        view = await queries.category(category_id)
        if view is None:
            raise CategoryNotFound(category_id)
        return Response(orjson.dumps(category_document(view)), status_code=status_code, media_type=JSON)

    @router.post(
        "/v1/admin/categories",
        status_code=status.HTTP_201_CREATED,
        response_model=CategoryOut,
        responses={**problem_responses(400, 409, 422), **scope_problems(CATALOG_WRITE)},
        dependencies=WRITER,
        summary="Create a category",
    )
    async def create_category_route(body: CategoryIn) -> Response:
        """A category, under `parent_id` or at the root. The slug is derived from the name
        when absent; trees are at most 6 levels deep."""
        category_id = await create_category(
            CreateCategory(name=body.name, slug=body.slug, parent_id=body.parent_id), uow=uow_factory()
        )
        await invalidation.categories_changed()
        response = await category_response(category_id, status_code=201)
        response.headers["Location"] = f"/v1/admin/categories/{category_id}"
        return response

    @router.patch(
        "/v1/admin/categories/{category_id}",
        response_model=CategoryOut,
        responses={**problem_responses(400, 404, 409, 422), **scope_problems(CATALOG_WRITE)},
        dependencies=WRITER,
        summary="Rename or move a category",
    )
    async def patch_category(category_id: uuid.UUID, body: CategoryPatch) -> Response:
        """Rename, re-slug or move a category with everything under it (`parent_id: null`
        makes it a root). A move that would put a category under itself answers 422."""
        move = NewParent(parent_id=body.parent_id) if "parent_id" in body.model_fields_set else None
        await update_category(
            UpdateCategory(category_id=category_id, name=body.name, slug=body.slug, move_to=move),
            uow=uow_factory(),
        )
        await invalidation.categories_changed()
        return await category_response(category_id)

    return router
