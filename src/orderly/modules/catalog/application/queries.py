"""Read side: what screens ask for (views, listing requests) and the port that answers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from orderly.modules.catalog.domain.availability import Availability, availability_of, best_of
from orderly.modules.catalog.domain.product import ProductStatus, facet
from orderly.shared_kernel.errors import InvalidInput
from orderly.shared_kernel.money import Money

MAX_PAGE = 100
MAX_QUERY_TEXT = 200


class SortOrder(StrEnum):
    RELEVANCE = "relevance"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    NEWEST = "newest"
    OLDEST = "oldest"


@dataclass(frozen=True)
class ProductFilter:
    """What a listing is narrowed to. Within one attribute the values are
    alternatives (size M or L); different attributes must all match."""

    statuses: tuple[ProductStatus, ...] = (ProductStatus.PUBLISHED,)
    category: str | None = None
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    currency: str | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    text: str | None = None

    def facet_groups(self) -> list[list[str]]:
        return [sorted({facet(code, value) for value in values}) for code, values in self.attributes]

    @property
    def has_price_range(self) -> bool:
        return self.price_min is not None or self.price_max is not None


@dataclass(frozen=True)
class PageKey:
    """Where the previous page ended: the last row's sort value and id."""

    product_id: uuid.UUID
    value: Decimal | float | None = None


@dataclass(frozen=True)
class ListingQuery:
    filter: ProductFilter
    sort: SortOrder
    limit: int
    after: PageKey | None = None


def default_sort(product_filter: ProductFilter) -> SortOrder:
    """Best match first when searching; otherwise creation order, as the API always listed."""
    return SortOrder.RELEVANCE if product_filter.text else SortOrder.OLDEST


def check_listing(query: ListingQuery) -> None:
    """Refuse combinations that have no meaning, before any query runs."""
    f = query.filter
    if not 1 <= query.limit <= MAX_PAGE:
        raise InvalidInput(f"limit is 1-{MAX_PAGE}", field="limit", location="query")
    if query.sort is SortOrder.RELEVANCE and not f.text:
        raise InvalidInput("sorting by relevance needs a text query (q)", field="sort", location="query")
    if (f.has_price_range or query.sort in {SortOrder.PRICE_ASC, SortOrder.PRICE_DESC}) and not f.currency:
        raise InvalidInput(
            "prices are per currency: pass currency with a price filter or sort",
            field="currency",
            location="query",
        )
    for name, bound in (("price_min", f.price_min), ("price_max", f.price_max)):
        if bound is None or f.currency is None:
            continue
        try:
            money = Money(bound, f.currency)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field=name, location="query") from None
        if money.is_negative():
            raise InvalidInput("a price bound cannot be negative", field=name, location="query")
    if f.price_min is not None and f.price_max is not None and f.price_min > f.price_max:
        raise InvalidInput("price_min is above price_max", field="price_min", location="query")
    if f.text is not None and not (1 <= len(f.text) <= MAX_QUERY_TEXT):
        raise InvalidInput(f"q has 1-{MAX_QUERY_TEXT} characters", field="q", location="query")


@dataclass(frozen=True)
class PriceView:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class VariantView:
    sku: str
    attributes: dict[str, str]
    prices: list[PriceView]
    # Units inventory last reported as available; None until it reports the SKU.
    available: int | None = None

    @property
    def availability(self) -> Availability:
        return availability_of(self.available)


@dataclass(frozen=True)
class ProductView:
    id: uuid.UUID
    slug: str
    name: str
    description: str
    status: ProductStatus
    version: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    category_ids: list[uuid.UUID]
    variants: list[VariantView]

    @property
    def availability(self) -> Availability:
        return best_of(v.availability for v in self.variants)


@dataclass(frozen=True)
class ProductPage:
    items: list[ProductView]
    next_key: PageKey | None


@dataclass(frozen=True)
class CategoryView:
    id: uuid.UUID
    slug: str
    name: str
    parent_id: uuid.UUID | None
    version: int


@dataclass(frozen=True)
class CategoryNode:
    category: CategoryView
    children: list[CategoryNode] = field(default_factory=list)


def category_tree(categories: list[CategoryView]) -> list[CategoryNode]:
    """Nest a flat list (in any order) into trees, siblings sorted by name."""
    nodes = {c.id: CategoryNode(c) for c in categories}
    roots: list[CategoryNode] = []
    for node in sorted(nodes.values(), key=lambda n: (n.category.name.casefold(), n.category.id)):
        parent = nodes.get(node.category.parent_id) if node.category.parent_id else None
        (parent.children if parent else roots).append(node)
    return roots


class ProductQueries(Protocol):
    """Read side: views shaped for screens, each in a fixed number of queries."""

    async def get(self, product_id: uuid.UUID, *, published_only: bool) -> ProductView | None: ...

    async def get_by_slug(self, slug: str, *, published_only: bool) -> ProductView | None: ...

    async def page(self, query: ListingQuery) -> ProductPage:
        """One page in the query's order; raises UnknownCategory for a category filter
        that names no category."""
        ...

    async def categories(self) -> list[CategoryView]: ...

    async def category(self, category_id: uuid.UUID) -> CategoryView | None: ...
