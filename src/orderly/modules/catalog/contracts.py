"""Integration events the catalog publishes (versioned; add fields, never change them).

Every product event carries the product's ``version`` after the change, so a
consumer that sees events out of order (or twice) can keep the newest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from orderly.shared_kernel.domain import IntegrationEvent


@dataclass(frozen=True, kw_only=True)
class PriceSnapshot:
    amount: str
    currency: str


@dataclass(frozen=True, kw_only=True)
class VariantSnapshot:
    sku: str
    # The variant's base price (its first); ``prices`` lists every currency.
    price_amount: str
    price_currency: str
    prices: tuple[PriceSnapshot, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ProductCreated(IntegrationEvent):
    event_type: ClassVar[str] = "catalog.product_created.v1"
    aggregate_type: ClassVar[str] = "product"

    product_id: str
    name: str
    variants: tuple[VariantSnapshot, ...]
    slug: str = ""
    status: str = "draft"
    version: int = 1


@dataclass(frozen=True, kw_only=True)
class ProductUpdated(IntegrationEvent):
    """Name, description, slug, variants, prices or categories changed."""

    event_type: ClassVar[str] = "catalog.product_updated.v1"
    aggregate_type: ClassVar[str] = "product"

    product_id: str
    version: int
    slug: str
    previous_slug: str
    name: str
    status: str
    variants: tuple[VariantSnapshot, ...]
    category_ids: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ProductPublished(IntegrationEvent):
    """The product is now visible on the storefront."""

    event_type: ClassVar[str] = "catalog.product_published.v1"
    aggregate_type: ClassVar[str] = "product"

    product_id: str
    version: int
    slug: str


@dataclass(frozen=True, kw_only=True)
class ProductArchived(IntegrationEvent):
    """The product left the storefront; staff still see it."""

    event_type: ClassVar[str] = "catalog.product_archived.v1"
    aggregate_type: ClassVar[str] = "product"

    product_id: str
    version: int
    slug: str


@dataclass(frozen=True, kw_only=True)
class CategoryChanged(IntegrationEvent):
    """A category was created, renamed or moved in the tree."""

    event_type: ClassVar[str] = "catalog.category_changed.v1"
    aggregate_type: ClassVar[str] = "category"

    category_id: str
    version: int
    slug: str
    name: str
    parent_id: str | None


PRODUCT_EVENT_TYPES: tuple[str, ...] = (
    ProductCreated.event_type,
    ProductUpdated.event_type,
    ProductPublished.event_type,
    ProductArchived.event_type,
)
