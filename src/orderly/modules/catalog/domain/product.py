"""The product aggregate: variants, prices, attributes, categories, status and slug."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from orderly.modules.catalog.contracts import (
    PriceSnapshot,
    ProductArchived,
    ProductCreated,
    ProductPublished,
    ProductUpdated,
    VariantSnapshot,
)
from orderly.modules.catalog.domain.errors import StaleVersion
from orderly.modules.catalog.domain.slug import validate_slug
from orderly.shared_kernel.domain import AggregateRoot, utcnow
from orderly.shared_kernel.errors import InvalidInput
from orderly.shared_kernel.ids import new_id
from orderly.shared_kernel.money import Money

SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ATTRIBUTE_CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_NAME = 200
MAX_DESCRIPTION = 10_000
MAX_VARIANTS = 100
MAX_CURRENCIES = 10
MAX_ATTRIBUTES = 10
MAX_ATTRIBUTE_VALUE = 64
MAX_CATEGORIES = 20


class ProductStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


def facet(code: str, value: str) -> str:
    """The token a variant's attribute value is filtered by (case-insensitive on the value)."""
    return f"{code}={value.strip().casefold()}"


@dataclass(frozen=True, slots=True)
class Variant:
    """One sellable SKU: its option values (size=M, colour=red) and its prices, one per currency.

    The first price is the variant's base price (what a caller that names no
    currency gets).
    """

    sku: str
    prices: tuple[Money, ...]
    attributes: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, *, sku: str, prices: Iterable[Money], attributes: Mapping[str, str] | None = None) -> Variant:
        pairs = tuple(sorted((code, value.strip()) for code, value in (attributes or {}).items()))
        return cls(sku=sku, prices=tuple(prices), attributes=pairs)

    def __post_init__(self) -> None:
        # fullmatch: with match, the pattern's "$" also accepts a SKU ending in a newline.
        if not SKU_PATTERN.fullmatch(self.sku):
            raise InvalidInput(
                "a SKU is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
                field="sku",
            )
        self._check_prices()
        self._check_attributes()

    def _check_prices(self) -> None:
        if not self.prices:
            raise InvalidInput(f"variant {self.sku} needs a price", field="prices")
        if len(self.prices) > MAX_CURRENCIES:
            raise InvalidInput(f"a variant has at most {MAX_CURRENCIES} prices", field="prices")
        currencies = [price.currency for price in self.prices]
        if len(set(currencies)) != len(currencies):
            raise InvalidInput(f"variant {self.sku} has two prices in the same currency", field="prices")
        if any(price.is_negative() for price in self.prices):
            raise InvalidInput("a price cannot be negative", field="price.amount")

    def _check_attributes(self) -> None:
        if len(self.attributes) > MAX_ATTRIBUTES:
            raise InvalidInput(f"a variant has at most {MAX_ATTRIBUTES} attributes", field="attributes")
        for code, value in self.attributes:
            if not ATTRIBUTE_CODE_PATTERN.fullmatch(code):
                raise InvalidInput(
                    "an attribute code is 1-32 lowercase letters, digits or '_', starting with a letter",
                    field="attributes",
                )
            if not value or len(value) > MAX_ATTRIBUTE_VALUE:
                raise InvalidInput(
                    f"attribute '{code}' needs a value of 1-{MAX_ATTRIBUTE_VALUE} characters",
                    field="attributes",
                )

    @property
    def base_price(self) -> Money:
        return self.prices[0]

    def price_in(self, currency: str) -> Money | None:
        return next((price for price in self.prices if price.currency == currency), None)

    @property
    def attribute_map(self) -> dict[str, str]:
        return dict(self.attributes)

    def facets(self) -> set[str]:
        return {facet(code, value) for code, value in self.attributes}

    def snapshot(self) -> VariantSnapshot:
        base = self.base_price
        return VariantSnapshot(
            sku=self.sku,
            price_amount=str(base.quantized()),
            price_currency=base.currency,
            prices=tuple(PriceSnapshot(amount=str(p.quantized()), currency=p.currency) for p in self.prices),
            attributes=self.attribute_map,
        )


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("a product needs a name", field="name")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"a name has at most {MAX_NAME} characters", field="name")
    return name


def _check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"a description has at most {MAX_DESCRIPTION} characters", field="description")
    return description


def _check_variants(variants: Sequence[Variant]) -> list[Variant]:
    if not variants:
        raise InvalidInput("a product needs at least one variant", field="variants")
    if len(variants) > MAX_VARIANTS:
        raise InvalidInput(f"a product has at most {MAX_VARIANTS} variants", field="variants")
    seen: set[str] = set()
    for index, variant in enumerate(variants):
        if variant.sku in seen:
            # One request naming a SKU twice is a mistake in that request (422);
            # DuplicateSku (409) is for a SKU another product already has.
            raise InvalidInput(
                f"SKU '{variant.sku}' appears twice in this product",
                field=f"variants.{index}.sku",
                sku=variant.sku,
            )
        seen.add(variant.sku)
    codes = {tuple(code for code, _ in v.attributes) for v in variants}
    if len(codes) > 1:
        raise InvalidInput("every variant of a product has the same attributes", field="variants")
    if codes != {()}:
        combinations = [tuple(facet(c, v) for c, v in variant.attributes) for variant in variants]
        if len(set(combinations)) != len(combinations):
            raise InvalidInput("two variants have the same attribute values", field="variants")
    return list(variants)


def _check_categories(category_ids: Iterable[uuid.UUID]) -> tuple[uuid.UUID, ...]:
    unique = tuple(dict.fromkeys(category_ids))
    if len(unique) > MAX_CATEGORIES:
        raise InvalidInput(f"a product is in at most {MAX_CATEGORIES} categories", field="category_ids")
    return unique


class Product(AggregateRoot):
    def __init__(
        self,
        *,
        id: uuid.UUID,
        slug: str,
        name: str,
        description: str,
        status: ProductStatus,
        variants: list[Variant],
        category_ids: tuple[uuid.UUID, ...],
        version: int,
        created_at: datetime,
        updated_at: datetime,
        published_at: datetime | None,
    ) -> None:
        super().__init__()
        self.id = id
        self.slug = slug
        self.name = name
        self.description = description
        self.status = status
        self.variants = variants
        self.category_ids = category_ids
        self.version = version
        self.created_at = created_at
        self.updated_at = updated_at
        self.published_at = published_at

    @classmethod
    def create(
        cls,
        *,
        name: str,
        description: str,
        slug: str,
        variants: Sequence[Variant],
        category_ids: Iterable[uuid.UUID] = (),
        publish: bool = False,
    ) -> Product:
        now = utcnow()
        product = cls(
            id=new_id(),
            slug=validate_slug(slug),
            name=_clean_name(name),
            description=_check_description(description),
            status=ProductStatus.PUBLISHED if publish else ProductStatus.DRAFT,
            variants=_check_variants(variants),
            category_ids=_check_categories(category_ids),
            version=1,
            created_at=now,
            updated_at=now,
            published_at=now if publish else None,
        )
        product.record(
            ProductCreated(
                aggregate_id=str(product.id),
                product_id=str(product.id),
                name=product.name,
                variants=product._snapshots(),
                slug=product.slug,
                status=product.status.value,
                version=product.version,
            )
        )
        # A product created published records ProductCreated only (its status says
        # so); ProductPublished marks a later transition.
        return product

    def ensure_version(self, expected: int | None) -> None:
        """Refuse to change a product the caller last saw at another version."""
        if expected is not None and expected != self.version:
            raise StaleVersion(expected=expected, current=self.version)

    def update(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        slug: str | None = None,
        variants: Sequence[Variant] | None = None,
        category_ids: Iterable[uuid.UUID] | None = None,
    ) -> bool:
        """Apply the given fields (``None`` leaves one as it is); True if anything changed."""
        previous_slug = self.slug
        changes: dict[str, object] = {}
        if name is not None and (cleaned := _clean_name(name)) != self.name:
            changes["name"] = cleaned
        if description is not None and _check_description(description) != self.description:
            changes["description"] = description
        if slug is not None and validate_slug(slug) != self.slug:
            changes["slug"] = slug
        if variants is not None and (checked := _check_variants(variants)) != self.variants:
            changes["variants"] = checked
        if category_ids is not None and (ids := _check_categories(category_ids)) != self.category_ids:
            changes["category_ids"] = ids
        if not changes:
            return False
        for attribute, value in changes.items():
            setattr(self, attribute, value)
        self._bump()
        self.record(
            ProductUpdated(
                aggregate_id=str(self.id),
                product_id=str(self.id),
                version=self.version,
                slug=self.slug,
                previous_slug=previous_slug,
                name=self.name,
                status=self.status.value,
                variants=self._snapshots(),
                category_ids=tuple(str(c) for c in self.category_ids),
            )
        )
        return True

    def publish(self) -> bool:
        """Show the product on the storefront; publishing a published product changes nothing."""
        if self.status is ProductStatus.PUBLISHED:
            return False
        self.status = ProductStatus.PUBLISHED
        self._bump()
        self.published_at = self.updated_at
        self._record_published()
        return True

    def archive(self) -> bool:
        """Take the product off the storefront; publishing it again brings it back."""
        if self.status is ProductStatus.ARCHIVED:
            return False
        self.status = ProductStatus.ARCHIVED
        self._bump()
        self.record(
            ProductArchived(
                aggregate_id=str(self.id), product_id=str(self.id), version=self.version, slug=self.slug
            )
        )
        return True

    def facets(self) -> tuple[str, ...]:
        """Every attribute value some variant offers, as filter tokens."""
        return tuple(sorted(set().union(*(v.facets() for v in self.variants))))

    def from_prices(self) -> dict[str, Decimal]:
        """Per currency, the lowest price of any variant (the storefront's "from" price)."""
        lowest: dict[str, Decimal] = {}
        for variant in self.variants:
            for price in variant.prices:
                current = lowest.get(price.currency)
                if current is None or price.amount < current:
                    lowest[price.currency] = price.amount
        return lowest

    def _bump(self) -> None:
        self.version += 1
        self.updated_at = utcnow()

    def _record_published(self) -> None:
        self.record(
            ProductPublished(
                aggregate_id=str(self.id), product_id=str(self.id), version=self.version, slug=self.slug
            )
        )

    def _snapshots(self) -> tuple[VariantSnapshot, ...]:
        return tuple(v.snapshot() for v in self.variants)
