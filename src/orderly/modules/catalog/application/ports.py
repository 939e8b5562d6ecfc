"""What the catalog's use cases need from the outside world (write side)."""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Protocol, Self

from orderly.modules.catalog.application.commands import RecordStockLevel
from orderly.modules.catalog.domain.category import Category
from orderly.modules.catalog.domain.product import Product


class ProductRepository(Protocol):
    async def add(self, product: Product) -> None:
        """Insert a new product; raises DuplicateSku / DuplicateSlug on a clash."""
        ...

    async def get(self, product_id: uuid.UUID) -> Product | None:
        """Load a product and lock it until the unit of work ends."""
        ...

    async def save(self, product: Product) -> None:
        """Write back a product loaded by ``get``."""
        ...

    async def free_slug(self, base: str) -> str:
        """``base`` or the first ``base-n`` no product uses, held until commit."""
        ...


class CategoryRepository(Protocol):
    async def add(self, category: Category) -> None: ...

    async def get(self, category_id: uuid.UUID) -> Category | None: ...

    async def save(self, category: Category) -> None: ...

    async def lock_tree(self) -> None:
        """Serialise moves until commit, so two concurrent moves cannot close a cycle."""
        ...

    async def path_to(self, category_id: uuid.UUID) -> list[uuid.UUID]:
        """Ids from the root down to ``category_id`` inclusive; empty if it does not exist."""
        ...

    async def subtree_height(self, category_id: uuid.UUID) -> int:
        """Levels from the category down to its deepest descendant (1 for a leaf)."""
        ...

    async def missing(self, category_ids: tuple[uuid.UUID, ...]) -> list[uuid.UUID]:
        """Those of ``category_ids`` that do not exist."""
        ...

    async def free_slug(self, base: str) -> str: ...


class StockLevelProjection(Protocol):
    async def record(self, level: RecordStockLevel) -> bool:
        """Store the level unless a newer one is already stored; True if stored."""
        ...


class CatalogUnitOfWork(Protocol):
    @property
    def products(self) -> ProductRepository: ...

    @property
    def categories(self) -> CategoryRepository: ...

    @property
    def stock_levels(self) -> StockLevelProjection: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...
