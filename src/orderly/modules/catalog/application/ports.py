"""What the catalog's use cases need from the outside world."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Protocol, Self

from orderly.modules.catalog.domain.model import Product


class ProductRepository(Protocol):
    async def add(self, product: Product) -> None: ...

    async def get(self, product_id: uuid.UUID) -> Product | None: ...


class CatalogUnitOfWork(Protocol):
    @property
    def products(self) -> ProductRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


@dataclass(frozen=True)
class PriceView:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class VariantView:
    sku: str
    price: PriceView


@dataclass(frozen=True)
class ProductView:
    id: uuid.UUID
    name: str
    description: str
    variants: list[VariantView]
    version: int
    created_at: datetime


@dataclass(frozen=True)
class ProductPage:
    items: list[ProductView]
    last_id: uuid.UUID | None
    has_more: bool


class ProductQueries(Protocol):
    """Read side: returns views shaped for screens, in a fixed number of queries."""

    async def get(self, product_id: uuid.UUID) -> ProductView | None: ...

    async def page(self, *, limit: int, after: uuid.UUID | None) -> ProductPage: ...
