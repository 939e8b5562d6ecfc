"""Request and response bodies of the catalog's HTTP API (they become the OpenAPI schema)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from orderly.modules.catalog.application.commands import NewPrice, NewVariant
from orderly.modules.catalog.domain.availability import Availability
from orderly.modules.catalog.domain.product import (
    MAX_ATTRIBUTE_VALUE,
    MAX_ATTRIBUTES,
    MAX_CATEGORIES,
    MAX_CURRENCIES,
    MAX_VARIANTS,
)
from orderly.modules.catalog.domain.slug import MAX_SLUG
from orderly.platform.http.types import SafeStr, null_refused
from orderly.shared_kernel.money import is_currency, minor_units

AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,15})(\.[0-9]{1,4})?$"
SLUG_FIELD_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
ATTRIBUTE_CODE = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
ATTRIBUTE_VALUE = Annotated[SafeStr, StringConstraints(min_length=1, max_length=MAX_ATTRIBUTE_VALUE)]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SLUG, pattern=SLUG_FIELD_PATTERN)]
Name = Annotated[SafeStr, StringConstraints(min_length=1, max_length=200)]
Description = Annotated[SafeStr, StringConstraints(max_length=10_000)]
# Not on SafeStr (its pattern would be missing from the document); the pattern admits no NUL.
Sku = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class MoneyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The currency is validated first so the amount's check can name the amount.
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        description="ISO 4217 code.", examples=["EUR"]
    )
    amount: Annotated[str, StringConstraints(pattern=AMOUNT_PATTERN)] = Field(
        description='Decimal string, never a number: `"12.50"`. At most the currency\'s minor units; '
        "never negative.",
        examples=["12.50"],
    )

    @field_validator("currency")
    @classmethod
    def _iso4217(cls, value: str) -> str:
        if not is_currency(value):
            raise ValueError("not an ISO 4217 currency code")
        return value

    @field_validator("amount")
    @classmethod
    def _minor_units(cls, value: str, info: ValidationInfo) -> str:
        currency = info.data.get("currency")
        if currency is None:
            return value  # the currency's own error is reported
        places = minor_units(currency)
        if len(value.partition(".")[2]) > places:
            raise ValueError(f"{currency} amounts have at most {places} decimals")
        return value

    def to_command(self) -> NewPrice:
        return NewPrice(amount=Decimal(self.amount), currency=self.currency)


class VariantIn(BaseModel):
    """A variant: its SKU, its option values and its price(s).

    Give either `price` (one currency) or `prices` (one entry per currency; the
    first is the base price)."""

    model_config = ConfigDict(extra="forbid")

    sku: Sku
    price: MoneyIn | None = None
    prices: list[MoneyIn] | None = Field(default=None, min_length=1, max_length=MAX_CURRENCIES)
    attributes: dict[ATTRIBUTE_CODE, ATTRIBUTE_VALUE] = Field(
        default_factory=dict,
        max_length=MAX_ATTRIBUTES,
        description='Option values that tell this variant apart, e.g. `{"size": "M", "colour": "Red"}`.',
    )

    @model_validator(mode="after")
    def _one_price_form(self) -> VariantIn:
        if (self.price is None) == (self.prices is None):
            raise ValueError("give either price or prices")
        return self

    def to_command(self) -> NewVariant:
        given = [self.price] if self.price is not None else list(self.prices or [])
        return NewVariant(
            sku=self.sku, prices=tuple(p.to_command() for p in given), attributes=dict(self.attributes)
        )


class ProductIn(BaseModel):
    """A new product with its variants."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = ""
    slug: Slug | None = Field(default=None, description="Derived from the name when absent.")
    status: Literal["draft", "published"] | None = Field(
        default=None, description="`draft` (the default on the staff API) or `published`."
    )
    category_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_CATEGORIES)
    variants: list[VariantIn] = Field(min_length=1, max_length=MAX_VARIANTS)


class ProductPatch(BaseModel):
    """Fields to change; absent fields stay as they are. `variants` and
    `category_ids` replace the whole list."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None, json_schema_extra=null_refused)
    description: Description | None = Field(default=None, json_schema_extra=null_refused)
    slug: Slug | None = Field(default=None, json_schema_extra=null_refused)
    category_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=MAX_CATEGORIES, json_schema_extra=null_refused
    )
    variants: list[VariantIn] | None = Field(
        default=None, min_length=1, max_length=MAX_VARIANTS, json_schema_extra=null_refused
    )

    @model_validator(mode="after")
    def _no_nulls(self) -> ProductPatch:
        nulls = [name for name in self.model_fields_set if getattr(self, name) is None]
        if nulls:
            raise ValueError(f"{', '.join(sorted(nulls))} cannot be null; leave a field out to keep it")
        return self


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[SafeStr, StringConstraints(min_length=1, max_length=100)]
    slug: Slug | None = None
    parent_id: uuid.UUID | None = None


class CategoryPatch(BaseModel):
    """Rename, re-slug or move a category; `parent_id: null` makes it a root."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[SafeStr, StringConstraints(min_length=1, max_length=100)] | None = Field(
        default=None, json_schema_extra=null_refused
    )
    slug: Slug | None = Field(default=None, json_schema_extra=null_refused)
    parent_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> CategoryPatch:
        nulls = [n for n in ("name", "slug") if n in self.model_fields_set and getattr(self, n) is None]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self


class MoneyOut(BaseModel):
    amount: str = Field(examples=["12.50"])
    currency: str = Field(examples=["EUR"])


class VariantOut(BaseModel):
    sku: str
    attributes: dict[str, str]
    price: MoneyOut = Field(description="The base price (the first of `prices`).")
    prices: list[MoneyOut]
    availability: Availability = Field(
        description="From inventory's stock reports, eventually consistent: it may lag a sale or a "
        "delivery by a moment. `out_of_stock` until inventory first reports the SKU."
    )
    available: int | None = Field(
        default=None, description="Staff API only: units inventory last reported as available."
    )


class ProductOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    description: str
    status: Literal["draft", "published", "archived"]
    version: int = Field(description="Increases with every change; the `ETag` is this number.")
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    category_ids: list[uuid.UUID]
    availability: Availability = Field(
        description="The best availability of any variant (eventually consistent)."
    )
    variants: list[VariantOut]


class ProductPageOut(BaseModel):
    items: list[ProductOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class CategoryOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    parent_id: uuid.UUID | None
    version: int


class CategoryNodeOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    children: list[CategoryNodeOut]


class CategoryTreeOut(BaseModel):
    items: list[CategoryNodeOut]
