"""Use cases that change products and categories, against the fake unit of work."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orderly.modules.catalog.application.commands import (
    ArchiveProduct,
    CreateCategory,
    NewParent,
    PublishProduct,
    RecordStockLevel,
    UpdateCategory,
    UpdateProduct,
)
from orderly.modules.catalog.application.handlers import (
    archive_product,
    create_category,
    create_product,
    publish_product,
    record_stock_level,
    update_category,
    update_product,
)
from orderly.modules.catalog.contracts import ProductArchived, ProductPublished, ProductUpdated
from orderly.modules.catalog.domain.errors import DuplicateSku, ProductNotFound, StaleVersion, UnknownCategory
from orderly.modules.catalog.domain.product import ProductStatus
from orderly.shared_kernel.errors import InvalidInput
from tests.support.fakes import FakeCatalogUnitOfWork
from tests.unit.catalog.factories import create_product_command, new_variant


async def _created(uow: FakeCatalogUnitOfWork, sku: str = "MUG-1") -> uuid.UUID:
    product_id = await create_product(create_product_command(variants=(new_variant(sku),)), uow=uow)
    uow.outbox.clear()
    return product_id


class TestUpdateProduct:
    async def test_a_change_based_on_the_current_version_is_committed_with_its_event(self) -> None:
        uow = FakeCatalogUnitOfWork()
        product_id = await _created(uow)
        version = await update_product(
            UpdateProduct(product_id=product_id, expected_version=1, name="Cup"), uow=uow
        )
        assert version == 2
        assert uow.products.committed[product_id].name == "Cup"
        assert [type(e) for e in uow.outbox] == [ProductUpdated]

    async def test_a_change_based_on_an_old_version_writes_nothing(self) -> None:
        uow = FakeCatalogUnitOfWork()
        product_id = await _created(uow)
        await update_product(UpdateProduct(product_id=product_id, expected_version=1, name="Cup"), uow=uow)
        uow.outbox.clear()
        with pytest.raises(StaleVersion):
            await update_product(
                UpdateProduct(product_id=product_id, expected_version=1, name="Bowl"), uow=uow
            )
        assert uow.products.committed[product_id].name == "Cup"
        assert uow.outbox == []

    async def test_taking_another_products_sku_is_refused(self) -> None:
        uow = FakeCatalogUnitOfWork()
        await _created(uow, "MUG-1")
        cup = await _created(uow, "CUP-1")
        commits = uow.commits
        with pytest.raises(DuplicateSku) as refused:
            await update_product(
                UpdateProduct(product_id=cup, expected_version=1, variants=(new_variant("MUG-1"),)), uow=uow
            )
        assert refused.value.sku == "MUG-1"
        assert uow.commits == commits
        assert uow.outbox == []

    async def test_an_unknown_category_is_refused(self) -> None:
        uow = FakeCatalogUnitOfWork()
        product_id = await _created(uow)
        with pytest.raises(UnknownCategory):
            await update_product(
                UpdateProduct(product_id=product_id, expected_version=1, category_ids=(uuid.uuid4(),)),
                uow=uow,
            )
        assert uow.outbox == []

    async def test_an_unknown_product_is_not_found(self) -> None:
        with pytest.raises(ProductNotFound):
            await update_product(
                UpdateProduct(product_id=uuid.uuid4(), expected_version=1, name="x"),
                uow=FakeCatalogUnitOfWork(),
            )


class TestPublishAndArchive:
    async def test_publish_then_archive_records_one_event_each(self) -> None:
        uow = FakeCatalogUnitOfWork()
        product_id = await _created(uow)
        assert await publish_product(PublishProduct(product_id=product_id), uow=uow) == 2
        assert await archive_product(ArchiveProduct(product_id=product_id, expected_version=2), uow=uow) == 3
        assert uow.products.committed[product_id].status is ProductStatus.ARCHIVED
        assert [type(e) for e in uow.outbox] == [ProductPublished, ProductArchived]

    async def test_archiving_with_a_stale_version_is_refused(self) -> None:
        uow = FakeCatalogUnitOfWork()
        product_id = await _created(uow)
        await publish_product(PublishProduct(product_id=product_id), uow=uow)
        with pytest.raises(StaleVersion):
            await archive_product(ArchiveProduct(product_id=product_id, expected_version=1), uow=uow)
        assert uow.products.committed[product_id].status is ProductStatus.PUBLISHED


class TestCategories:
    async def test_a_child_category_needs_an_existing_parent(self) -> None:
        uow = FakeCatalogUnitOfWork()
        with pytest.raises(UnknownCategory):
            await create_category(CreateCategory(name="Mugs", parent_id=uuid.uuid4()), uow=uow)
        assert uow.commits == 0

    async def test_the_slug_comes_from_the_name_and_is_made_unique(self) -> None:
        uow = FakeCatalogUnitOfWork()
        first = await create_category(CreateCategory(name="Mugs"), uow=uow)
        second = await create_category(CreateCategory(name="MUGS!"), uow=uow)
        slugs = {uow.categories.store.committed[c].slug for c in (first, second)}
        assert slugs == {"mugs", "mugs-2"}

    async def test_a_category_cannot_move_under_its_own_child(self) -> None:
        uow = FakeCatalogUnitOfWork()
        kitchen = await create_category(CreateCategory(name="Kitchen"), uow=uow)
        mugs = await create_category(CreateCategory(name="Mugs", parent_id=kitchen), uow=uow)
        with pytest.raises(InvalidInput):
            await update_category(
                UpdateCategory(category_id=kitchen, move_to=NewParent(parent_id=mugs)), uow=uow
            )
        assert uow.categories.store.committed[kitchen].parent_id is None

    async def test_moving_to_the_root(self) -> None:
        uow = FakeCatalogUnitOfWork()
        kitchen = await create_category(CreateCategory(name="Kitchen"), uow=uow)
        mugs = await create_category(CreateCategory(name="Mugs", parent_id=kitchen), uow=uow)
        assert (
            await update_category(
                UpdateCategory(category_id=mugs, move_to=NewParent(parent_id=None)), uow=uow
            )
            == 2
        )
        assert uow.categories.store.committed[mugs].parent_id is None


class TestStockLevels:
    async def test_an_older_report_than_the_stored_one_is_ignored(self) -> None:
        uow = FakeCatalogUnitOfWork()
        now = datetime.now(UTC)
        newer = RecordStockLevel(sku="MUG-1", on_hand=10, reserved=2, available=8, as_of=now)
        older = RecordStockLevel(
            sku="MUG-1", on_hand=10, reserved=0, available=10, as_of=now - timedelta(seconds=1)
        )
        assert await record_stock_level(newer, uow=uow) is True
        assert await record_stock_level(older, uow=uow) is False
        assert uow.stock_levels.levels["MUG-1"].available == 8
