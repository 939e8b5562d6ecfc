"""In-memory stand-ins for the catalog's ports (fakes-first handler tests).

They keep the behaviour the handlers rely on, not just the signatures: writes
of products and categories are staged until ``commit`` and dropped (counted
in ``rollbacks``) when the block ends without one; SKUs and slugs are unique as the tables make them;
and committing moves the events of every aggregate touched into ``outbox``,
as SqlUnitOfWork does with the real outbox table.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Generic, Self, TypeVar

from orderly.modules.catalog.application.commands import RecordStockLevel
from orderly.modules.catalog.domain.category import Category
from orderly.modules.catalog.domain.errors import DuplicateSku, DuplicateSlug
from orderly.modules.catalog.domain.product import Product
from orderly.modules.catalog.domain.slug import with_suffix
from orderly.shared_kernel.domain import AggregateRoot, DomainEvent

A = TypeVar("A", bound=AggregateRoot)


class _Staged(Generic[A]):
    """Committed and staged aggregates of one kind, and those touched since the last commit."""

    def __init__(self) -> None:
        self.committed: dict[uuid.UUID, A] = {}
        self.staged: dict[uuid.UUID, A] = {}
        self.touched: list[A] = []

    def visible(self) -> dict[uuid.UUID, A]:
        return {**self.committed, **self.staged}

    def stage(self, aggregate: A) -> None:
        self.staged[aggregate.id] = aggregate
        if not any(seen is aggregate for seen in self.touched):
            self.touched.append(aggregate)

    def load(self, aggregate_id: uuid.UUID) -> A | None:
        aggregate = self.visible().get(aggregate_id)
        if aggregate is not None and not any(seen is aggregate for seen in self.touched):
            self.touched.append(aggregate)
        return aggregate

    def commit(self, outbox: list[DomainEvent]) -> None:
        for aggregate in self.touched:
            outbox.extend(aggregate.collect_events())
        self.committed.update(self.staged)
        self.discard()

    def discard(self) -> None:
        self.staged.clear()
        self.touched.clear()


def _free_slug(taken: set[str], base: str) -> str:
    n = 1
    slug = base
    while slug in taken:
        n += 1
        slug = with_suffix(base, n)
    return slug


class FakeProductRepository:
    def __init__(self) -> None:
        self.store: _Staged[Product] = _Staged()

    @property
    def committed(self) -> dict[uuid.UUID, Product]:
        return self.store.committed

    async def add(self, product: Product) -> None:
        others = [p for p in self.store.visible().values() if p.id != product.id]
        taken_skus = {v.sku for p in others for v in p.variants}
        for variant in product.variants:
            if variant.sku in taken_skus:
                raise DuplicateSku(variant.sku)
        if product.slug in {p.slug for p in others}:
            raise DuplicateSlug(product.slug)
        self.store.stage(product)

    async def get(self, product_id: uuid.UUID) -> Product | None:
        return self.store.load(product_id)

    async def save(self, product: Product) -> None:
        await self.add(product)

    async def free_slug(self, base: str) -> str:
        return _free_slug({p.slug for p in self.store.visible().values()}, base)


class FakeCategoryRepository:
    def __init__(self) -> None:
        self.store: _Staged[Category] = _Staged()

    async def add(self, category: Category) -> None:
        if category.slug in {c.slug for c in self.store.visible().values() if c.id != category.id}:
            raise DuplicateSlug(category.slug, kind="category")
        self.store.stage(category)

    async def get(self, category_id: uuid.UUID) -> Category | None:
        return self.store.load(category_id)

    async def save(self, category: Category) -> None:
        await self.add(category)

    async def lock_tree(self) -> None:
        return None

    async def path_to(self, category_id: uuid.UUID) -> list[uuid.UUID]:
        everything = self.store.visible()
        path: list[uuid.UUID] = []
        current = everything.get(category_id)
        while current is not None and len(path) < 64:
            path.append(current.id)
            current = everything.get(current.parent_id) if current.parent_id else None
        return list(reversed(path))

    async def subtree_height(self, category_id: uuid.UUID) -> int:
        everything = self.store.visible()
        if category_id not in everything:
            return 0
        children = [c.id for c in everything.values() if c.parent_id == category_id]
        return 1 + max([await self.subtree_height(child) for child in children], default=0)

    async def missing(self, category_ids: tuple[uuid.UUID, ...]) -> list[uuid.UUID]:
        known = self.store.visible()
        return [c for c in category_ids if c not in known]

    async def free_slug(self, base: str) -> str:
        return _free_slug({c.slug for c in self.store.visible().values()}, base)


class FakeStockLevels:
    def __init__(self) -> None:
        self.levels: dict[str, RecordStockLevel] = {}

    async def record(self, level: RecordStockLevel) -> bool:
        current = self.levels.get(level.sku)
        if current is not None and current.as_of >= level.as_of:
            return False
        self.levels[level.sku] = level
        return True


class FakeCatalogUnitOfWork:
    def __init__(self) -> None:
        self._products = FakeProductRepository()
        self._categories = FakeCategoryRepository()
        self._stock_levels = FakeStockLevels()
        self.commits = 0
        self.rollbacks = 0
        self.outbox: list[DomainEvent] = []
        self._committed_in_block = False

    @property
    def products(self) -> FakeProductRepository:
        return self._products

    @property
    def categories(self) -> FakeCategoryRepository:
        return self._categories

    @property
    def stock_levels(self) -> FakeStockLevels:
        return self._stock_levels

    async def __aenter__(self) -> Self:
        self._committed_in_block = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed_in_block:
            self.rollbacks += 1
        self._products.store.discard()
        self._categories.store.discard()

    async def commit(self) -> None:
        self._products.store.commit(self.outbox)
        self._categories.store.commit(self.outbox)
        self.commits += 1
        self._committed_in_block = True
