"""Loads and saves whole aggregates (products, categories) and the availability projection."""

from __future__ import annotations

import uuid
import zlib
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Table, delete, func, insert, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly.modules.catalog.adapters.tables import (
    categories,
    product_categories,
    product_prices,
    products,
    stock_levels,
    variant_prices,
    variants,
)
from orderly.modules.catalog.application.commands import RecordStockLevel
from orderly.modules.catalog.domain.category import Category
from orderly.modules.catalog.domain.errors import DuplicateSku, DuplicateSlug, StaleVersion
from orderly.modules.catalog.domain.product import Product, ProductStatus, Variant
from orderly.modules.catalog.domain.slug import with_suffix
from orderly.platform.uow import SqlUnitOfWork
from orderly.shared_kernel.money import Money

# How many "-n" alternatives a generated slug tries before giving up on the name.
_SLUG_ALTERNATIVES = 1000


def _violates(exc: IntegrityError, constraint: str) -> bool:
    return constraint in str(exc.orig)


async def _advisory_lock(connection: AsyncConnection, key: str) -> None:
    await connection.execute(select(func.pg_advisory_xact_lock(zlib.crc32(key.encode()))))


async def _free_slug(connection: AsyncConnection, table: Table, base: str) -> str:
    # Two writers deriving the same slug would both find it free; the lock
    # (held until commit) makes the second wait and see the first one's row.
    await _advisory_lock(connection, f"orderly.catalog.slug:{table.name}:{base}")
    taken = set(
        await connection.scalars(
            select(table.c.slug).where(or_(table.c.slug == base, table.c.slug.like(f"{base}-%")))
        )
    )
    if base not in taken:
        return base
    for n in range(2, _SLUG_ALTERNATIVES + 2):
        if (candidate := with_suffix(base, n)) not in taken:
            return candidate
    return with_suffix(base, int(uuid.uuid4().int % 10**8))


@dataclass(frozen=True)
class _Loaded:
    version: int
    variants: tuple[Variant, ...]
    category_ids: tuple[uuid.UUID, ...]


class SqlProductRepository:
    def __init__(self, connection: AsyncConnection, uow: SqlUnitOfWork) -> None:
        self._connection = connection
        self._uow = uow
        self._loaded: dict[uuid.UUID, _Loaded] = {}

    async def add(self, product: Product) -> None:
        self._uow.track(product)
        try:
            await self._connection.execute(insert(products).values(**self._row(product)))
        except IntegrityError as exc:
            if _violates(exc, "uq_products_slug"):
                raise DuplicateSlug(product.slug) from None
            raise
        await self._write_variants(product)
        await self._write_categories(product)
        self._remember(product)

    async def get(self, product_id: uuid.UUID) -> Product | None:
        row = (
            await self._connection.execute(
                select(products).where(products.c.id == product_id).with_for_update()
            )
        ).one_or_none()
        if row is None:
            return None
        price_rows = await self._connection.execute(
            select(variants.c.sku, variants.c.attributes, variant_prices.c.amount, variant_prices.c.currency)
            .join(variant_prices, variant_prices.c.sku == variants.c.sku)
            .where(variants.c.product_id == product_id)
            .order_by(variants.c.position, variant_prices.c.position)
        )
        prices: dict[str, list[Money]] = defaultdict(list)
        attributes: dict[str, dict[str, str]] = {}
        for r in price_rows:
            prices[r.sku].append(Money(r.amount, r.currency))
            attributes[r.sku] = r.attributes
        category_ids = await self._connection.scalars(
            select(product_categories.c.category_id)
            .where(product_categories.c.product_id == product_id)
            .order_by(product_categories.c.category_id)
        )
        product = Product(
            id=row.id,
            slug=row.slug,
            name=row.name,
            description=row.description,
            status=ProductStatus(row.status),
            variants=[Variant.of(sku=sku, prices=p, attributes=attributes[sku]) for sku, p in prices.items()],
            category_ids=tuple(category_ids),
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            published_at=row.published_at,
        )
        self._uow.track(product)
        self._remember(product)
        return product

    async def save(self, product: Product) -> None:
        loaded = self._loaded[product.id]
        row = self._row(product)
        del row["id"], row["created_at"]
        try:
            result = await self._connection.execute(
                update(products)
                .where(products.c.id == product.id, products.c.version == loaded.version)
                .values(**row)
            )
        except IntegrityError as exc:
            if _violates(exc, "uq_products_slug"):
                raise DuplicateSlug(product.slug) from None
            raise
        if result.rowcount != 1:
            # The row is locked since get(), so this only fires if a caller
            # bypassed get(); it keeps a lost update impossible regardless.
            current = await self._connection.scalar(
                select(products.c.version).where(products.c.id == product.id)
            )
            raise StaleVersion(expected=loaded.version, current=int(current or 0))
        if tuple(product.variants) != loaded.variants:
            await self._connection.execute(delete(variants).where(variants.c.product_id == product.id))
            await self._connection.execute(
                delete(product_prices).where(product_prices.c.product_id == product.id)
            )
            await self._write_variants(product)
        if product.category_ids != loaded.category_ids:
            await self._connection.execute(
                delete(product_categories).where(product_categories.c.product_id == product.id)
            )
            await self._write_categories(product)
        self._remember(product)

    async def free_slug(self, base: str) -> str:
        return await _free_slug(self._connection, products, base)

    def _remember(self, product: Product) -> None:
        self._loaded[product.id] = _Loaded(product.version, tuple(product.variants), product.category_ids)

    @staticmethod
    def _row(product: Product) -> dict[str, object]:
        return {
            "id": product.id,
            "slug": product.slug,
            "name": product.name,
            "description": product.description,
            "status": product.status.value,
            "version": product.version,
            "created_at": product.created_at,
            "updated_at": product.updated_at,
            "published_at": product.published_at,
            "facets": list(product.facets()),
        }

    async def _write_variants(self, product: Product) -> None:
        variant_rows = [
            {"sku": v.sku, "product_id": product.id, "position": i, "attributes": v.attribute_map}
            for i, v in enumerate(product.variants)
        ]
        # ON CONFLICT would hide which SKU clashed; a savepoint lets us name it
        # and leave the transaction usable.
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(insert(variants), variant_rows)
        except IntegrityError as exc:
            if not _violates(exc, "pk_variants"):
                raise
            await self._raise_duplicate(product)
        await self._connection.execute(
            insert(variant_prices),
            [
                {"sku": v.sku, "currency": p.currency, "amount": p.amount, "position": i}
                for v in product.variants
                for i, p in enumerate(v.prices)
            ],
        )
        await self._connection.execute(
            insert(product_prices),
            [
                {"product_id": product.id, "currency": currency, "from_amount": amount}
                for currency, amount in sorted(product.from_prices().items())
            ],
        )

    async def _write_categories(self, product: Product) -> None:
        if product.category_ids:
            await self._connection.execute(
                insert(product_categories),
                [{"product_id": product.id, "category_id": c} for c in product.category_ids],
            )

    async def _raise_duplicate(self, product: Product) -> None:
        skus = [v.sku for v in product.variants]
        taken = await self._connection.scalar(
            select(variants.c.sku)
            .where(variants.c.sku.in_(skus), variants.c.product_id != product.id)
            .order_by(variants.c.sku)
            .limit(1)
        )
        raise DuplicateSku(str(taken or skus[0]))


class SqlCategoryRepository:
    def __init__(self, connection: AsyncConnection, uow: SqlUnitOfWork) -> None:
        self._connection = connection
        self._uow = uow
        self._loaded_versions: dict[uuid.UUID, int] = {}

    async def add(self, category: Category) -> None:
        self._uow.track(category)
        try:
            await self._connection.execute(insert(categories).values(**self._row(category)))
        except IntegrityError as exc:
            if _violates(exc, "uq_categories_slug"):
                raise DuplicateSlug(category.slug, kind="category") from None
            raise
        self._loaded_versions[category.id] = category.version

    async def get(self, category_id: uuid.UUID) -> Category | None:
        row = (
            await self._connection.execute(
                select(categories).where(categories.c.id == category_id).with_for_update()
            )
        ).one_or_none()
        if row is None:
            return None
        category = Category(
            id=row.id,
            slug=row.slug,
            name=row.name,
            parent_id=row.parent_id,
            version=row.version,
            created_at=row.created_at,
        )
        self._uow.track(category)
        self._loaded_versions[category.id] = category.version
        return category

    async def save(self, category: Category) -> None:
        row = self._row(category)
        del row["id"], row["created_at"]
        try:
            await self._connection.execute(
                update(categories)
                .where(
                    categories.c.id == category.id,
                    categories.c.version == self._loaded_versions[category.id],
                )
                .values(**row)
            )
        except IntegrityError as exc:
            if _violates(exc, "uq_categories_slug"):
                raise DuplicateSlug(category.slug, kind="category") from None
            raise
        self._loaded_versions[category.id] = category.version

    async def lock_tree(self) -> None:
        await _advisory_lock(self._connection, "orderly.catalog.category-tree")

    async def path_to(self, category_id: uuid.UUID) -> list[uuid.UUID]:
        up = (
            select(categories.c.id, categories.c.parent_id, literal_column("0").label("depth"))
            .where(categories.c.id == category_id)
            .cte("up", recursive=True)
        )
        parent = categories.alias("parent")
        up = up.union_all(
            select(parent.c.id, parent.c.parent_id, (up.c.depth + 1).label("depth"))
            .join(up, parent.c.id == up.c.parent_id)
            # A bound, in case a corrupted tree ever holds a cycle.
            .where(up.c.depth < 64)
        )
        ids = await self._connection.scalars(select(up.c.id).order_by(up.c.depth.desc()))
        return list(ids)

    async def subtree_height(self, category_id: uuid.UUID) -> int:
        down = (
            select(categories.c.id, literal_column("1").label("level"))
            .where(categories.c.id == category_id)
            .cte("down", recursive=True)
        )
        child = categories.alias("child")
        down = down.union_all(
            select(child.c.id, (down.c.level + 1).label("level"))
            .join(down, child.c.parent_id == down.c.id)
            .where(down.c.level < 64)
        )
        return int(await self._connection.scalar(select(func.max(down.c.level))) or 0)

    async def missing(self, category_ids: tuple[uuid.UUID, ...]) -> list[uuid.UUID]:
        found = set(
            await self._connection.scalars(select(categories.c.id).where(categories.c.id.in_(category_ids)))
        )
        return [c for c in category_ids if c not in found]

    async def free_slug(self, base: str) -> str:
        return await _free_slug(self._connection, categories, base)

    @staticmethod
    def _row(category: Category) -> dict[str, object]:
        return {
            "id": category.id,
            "slug": category.slug,
            "name": category.name,
            "parent_id": category.parent_id,
            "version": category.version,
            "created_at": category.created_at,
        }


class SqlStockLevelProjection:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def record(self, level: RecordStockLevel) -> bool:
        statement = pg_insert(stock_levels).values(
            sku=level.sku,
            on_hand=level.on_hand,
            reserved=level.reserved,
            available=level.available,
            as_of=level.as_of,
        )
        # One statement decides "newer or not" under the row lock, so two
        # reports racing for the same SKU cannot leave the older one stored.
        statement = statement.on_conflict_do_update(
            index_elements=[stock_levels.c.sku],
            set_={
                "on_hand": statement.excluded.on_hand,
                "reserved": statement.excluded.reserved,
                "available": statement.excluded.available,
                "as_of": statement.excluded.as_of,
                "updated_at": func.now(),
            },
            where=stock_levels.c.as_of < statement.excluded.as_of,
        )
        result = await self._connection.execute(statement)
        return result.rowcount == 1


class CatalogSqlUnitOfWork(SqlUnitOfWork):
    products: SqlProductRepository
    categories: SqlCategoryRepository
    stock_levels: SqlStockLevelProjection

    def _open(self, connection: AsyncConnection) -> None:
        self.products = SqlProductRepository(connection, self)
        self.categories = SqlCategoryRepository(connection, self)
        self.stock_levels = SqlStockLevelProjection(connection)
