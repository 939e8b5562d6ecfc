"""The catalog's REST endpoints."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from orderly.modules.catalog.application.commands import CreateProduct, NewVariant
from orderly.modules.catalog.application.handlers import create_product
from orderly.modules.catalog.application.ports import CatalogUnitOfWork, ProductQueries, ProductView
from orderly.platform.http.pagination import decode_cursor, encode_cursor
from orderly.platform.http.problems import problem_responses
from orderly.platform.http.types import SafeStr
from orderly.shared_kernel.errors import NotFound
from orderly.shared_kernel.money import Money, is_currency, minor_units

AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,15})(\.[0-9]{1,4})?$"


class MoneyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Annotated[str, StringConstraints(pattern=AMOUNT_PATTERN)] = Field(
        description="Decimal string, never a number: `\"12.50\"`. At most the currency's minor units.",
        examples=["12.50"],
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        description="ISO 4217 code.", examples=["EUR"]
    )

    @field_validator("currency")
    @classmethod
    def _iso4217(cls, value: str) -> str:
        if not is_currency(value):
            raise ValueError("not an ISO 4217 currency code")
        return value

    @model_validator(mode="after")
    def _minor_units(self) -> MoneyIn:
        decimals = len(self.amount.partition(".")[2])
        if decimals > minor_units(self.currency):
            raise ValueError(f"{self.currency} amounts have at most {minor_units(self.currency)} decimals")
        return self


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Annotated[SafeStr, StringConstraints(min_length=1, max_length=64)]
    price: MoneyIn


class ProductIn(BaseModel):
    """A new product with its variants."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[SafeStr, StringConstraints(min_length=1, max_length=200)]
    description: Annotated[SafeStr, StringConstraints(max_length=10_000)] = ""
    variants: list[VariantIn] = Field(min_length=1, max_length=100)


class MoneyOut(BaseModel):
    amount: str = Field(examples=["12.50"])
    currency: str = Field(examples=["EUR"])


class VariantOut(BaseModel):
    sku: str
    price: MoneyOut


class ProductOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    variants: list[VariantOut]
    version: int


class ProductPageOut(BaseModel):
    items: list[ProductOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


def _out(view: ProductView) -> ProductOut:
    return ProductOut(
        id=view.id,
        name=view.name,
        description=view.description,
        version=view.version,
        variants=[
            VariantOut(
                sku=v.sku,
                price=MoneyOut(
                    amount=str(Money(v.price.amount, v.price.currency).quantized()),
                    currency=v.price.currency,
                ),
            )
            for v in view.variants
        ],
    )


def build_router(*, uow_factory: Callable[[], CatalogUnitOfWork], queries: ProductQueries) -> APIRouter:
    router = APIRouter(prefix="/v1/products", tags=["catalog"])

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        response_model=ProductOut,
        responses=problem_responses(400, 409, 413, 422),
    )
    async def create(body: ProductIn, response: Response) -> ProductOut:
        """Create a product with one or more variants. SKUs are unique across the
        catalog; a clash answers 409 naming the SKU."""
        product_id = await create_product(
            CreateProduct(
                name=body.name,
                description=body.description,
                variants=tuple(
                    NewVariant(sku=v.sku, price_amount=Decimal(v.price.amount), price_currency=v.price.currency)
                    for v in body.variants
                ),
            ),
            uow=uow_factory(),
        )
        view = await queries.get(product_id)
        if view is None:  # pragma: no cover - just committed
            raise NotFound("product vanished after creation")
        response.headers["Location"] = f"/v1/products/{product_id}"
        return _out(view)

    @router.get("/{product_id}", response_model=ProductOut, responses=problem_responses(404, 422))
    async def get(product_id: uuid.UUID) -> ProductOut:
        """One product with its variants and prices."""
        view = await queries.get(product_id)
        if view is None:
            raise NotFound("no product with this id", product_id=str(product_id))
        return _out(view)

    @router.get("", response_model=ProductPageOut, responses=problem_responses(422))
    async def list_products(
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> ProductPageOut:
        """Products in creation order, a page at a time (keyset pagination:
        stable under concurrent inserts, constant cost per page)."""
        after = decode_cursor(cursor) if cursor else None
        page = await queries.page(limit=limit, after=after)
        next_cursor = encode_cursor(page.last_id) if page.has_more and page.last_id else None
        return ProductPageOut(items=[_out(v) for v in page.items], next_cursor=next_cursor)

    return router
