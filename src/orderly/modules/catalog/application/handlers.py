"""Use cases. Each loads, asks the aggregate, saves, and ends in ``uow.commit()``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from orderly.modules.catalog.application.commands import (
    ArchiveProduct,
    CreateCategory,
    CreateProduct,
    NewVariant,
    PublishProduct,
    RecordStockLevel,
    UpdateCategory,
    UpdateProduct,
)
from orderly.modules.catalog.application.ports import CatalogUnitOfWork
from orderly.modules.catalog.domain.category import Category
from orderly.modules.catalog.domain.errors import CategoryNotFound, ProductNotFound, UnknownCategory
from orderly.modules.catalog.domain.product import Product, Variant
from orderly.modules.catalog.domain.slug import slugify
from orderly.shared_kernel.money import Money


def _variants(new: Iterable[NewVariant]) -> list[Variant]:
    return [
        Variant.of(
            sku=v.sku,
            prices=[Money(p.amount, p.currency) for p in v.all_prices()],
            attributes=v.attributes,
        )
        for v in new
    ]


async def _require_categories(uow: CatalogUnitOfWork, category_ids: tuple[uuid.UUID, ...]) -> None:
    if category_ids and (missing := await uow.categories.missing(category_ids)):
        raise UnknownCategory(str(missing[0]))


async def create_product(command: CreateProduct, *, uow: CatalogUnitOfWork) -> uuid.UUID:
    """Create a product (a draft unless ``publish``); its slug comes from the name when not given."""
    variants = _variants(command.variants)
    async with uow:
        await _require_categories(uow, command.category_ids)
        slug = command.slug or await uow.products.free_slug(slugify(command.name, fallback="product"))
        product = Product.create(
            name=command.name,
            description=command.description,
            slug=slug,
            variants=variants,
            category_ids=command.category_ids,
            publish=command.publish,
        )
        await uow.products.add(product)
        await uow.commit()
    return product.id


async def _load(uow: CatalogUnitOfWork, product_id: uuid.UUID) -> Product:
    product = await uow.products.get(product_id)
    if product is None:
        raise ProductNotFound(product_id)
    return product


async def update_product(command: UpdateProduct, *, uow: CatalogUnitOfWork) -> int:
    """Apply a partial update to the version the caller saw; returns the new version."""
    variants = _variants(command.variants) if command.variants is not None else None
    async with uow:
        product = await _load(uow, command.product_id)
        product.ensure_version(command.expected_version)
        if command.category_ids is not None:
            await _require_categories(uow, command.category_ids)
        changed = product.update(
            name=command.name,
            description=command.description,
            slug=command.slug,
            variants=variants,
            category_ids=command.category_ids,
        )
        if changed:
            await uow.products.save(product)
        await uow.commit()
    return product.version


async def publish_product(command: PublishProduct, *, uow: CatalogUnitOfWork) -> int:
    async with uow:
        product = await _load(uow, command.product_id)
        product.ensure_version(command.expected_version)
        if product.publish():
            await uow.products.save(product)
        await uow.commit()
    return product.version


async def archive_product(command: ArchiveProduct, *, uow: CatalogUnitOfWork) -> int:
    async with uow:
        product = await _load(uow, command.product_id)
        product.ensure_version(command.expected_version)
        if product.archive():
            await uow.products.save(product)
        await uow.commit()
    return product.version


async def create_category(command: CreateCategory, *, uow: CatalogUnitOfWork) -> uuid.UUID:
    async with uow:
        parent_path: list[uuid.UUID] = []
        if command.parent_id is not None:
            parent_path = await uow.categories.path_to(command.parent_id)
            if not parent_path:
                raise UnknownCategory(str(command.parent_id), field="parent_id")
        slug = command.slug or await uow.categories.free_slug(slugify(command.name, fallback="category"))
        category = Category.create(
            name=command.name, slug=slug, parent_id=command.parent_id, parent_path=parent_path
        )
        await uow.categories.add(category)
        await uow.commit()
    return category.id


async def update_category(command: UpdateCategory, *, uow: CatalogUnitOfWork) -> int:
    async with uow:
        category = await uow.categories.get(command.category_id)
        if category is None:
            raise CategoryNotFound(command.category_id)
        changed = category.rename(name=command.name, slug=command.slug)
        if command.move_to is not None:
            await uow.categories.lock_tree()
            parent_id = command.move_to.parent_id
            parent_path: list[uuid.UUID] = []
            if parent_id is not None:
                parent_path = await uow.categories.path_to(parent_id)
                if not parent_path:
                    raise UnknownCategory(str(parent_id), field="parent_id")
            height = await uow.categories.subtree_height(category.id)
            changed = (
                category.move(parent_id=parent_id, parent_path=parent_path, subtree_height=height) or changed
            )
        if changed:
            await uow.categories.save(category)
        await uow.commit()
    return category.version


async def record_stock_level(command: RecordStockLevel, *, uow: CatalogUnitOfWork) -> bool:
    """Update the availability projection inside the caller's unit of work (a consumer's,
    with its inbox); a report older than the stored one is ignored."""
    return await uow.stock_levels.record(command)
