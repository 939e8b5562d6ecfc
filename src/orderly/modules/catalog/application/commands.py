"""Commands (imperative, no behaviour beyond normalising their own input)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, kw_only=True)
class NewPrice:
    amount: Decimal
    currency: str


@dataclass(frozen=True, kw_only=True)
class NewVariant:
    sku: str
    prices: tuple[NewPrice, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)
    # The single-price form callers used before variants had prices in several
    # currencies; it becomes the variant's first (base) price.
    price_amount: Decimal | None = None
    price_currency: str | None = None

    def all_prices(self) -> tuple[NewPrice, ...]:
        if self.price_amount is None or self.price_currency is None:
            return self.prices
        return (NewPrice(amount=self.price_amount, currency=self.price_currency), *self.prices)


@dataclass(frozen=True, kw_only=True)
class CreateProduct:
    name: str
    description: str
    variants: tuple[NewVariant, ...]
    slug: str | None = None
    category_ids: tuple[uuid.UUID, ...] = ()
    publish: bool = False


@dataclass(frozen=True, kw_only=True)
class UpdateProduct:
    """Change the fields that are not ``None``; ``variants`` replaces the whole set.

    ``expected_version`` is the version the caller last saw (None: whatever is current).
    """

    product_id: uuid.UUID
    expected_version: int | None
    name: str | None = None
    description: str | None = None
    slug: str | None = None
    variants: tuple[NewVariant, ...] | None = None
    category_ids: tuple[uuid.UUID, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class PublishProduct:
    product_id: uuid.UUID
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True)
class ArchiveProduct:
    product_id: uuid.UUID
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True)
class CreateCategory:
    name: str
    slug: str | None = None
    parent_id: uuid.UUID | None = None


@dataclass(frozen=True, kw_only=True)
class NewParent:
    """Where to move a category: under ``parent_id``, or to the root when it is ``None``."""

    parent_id: uuid.UUID | None


@dataclass(frozen=True, kw_only=True)
class UpdateCategory:
    category_id: uuid.UUID
    name: str | None = None
    slug: str | None = None
    move_to: NewParent | None = None


@dataclass(frozen=True, kw_only=True)
class RecordStockLevel:
    """Inventory reported a SKU's stock as of ``as_of``."""

    sku: str
    on_hand: int
    reserved: int
    available: int
    as_of: datetime
