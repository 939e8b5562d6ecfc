"""The create_product use case, against a fake unit of work."""

from __future__ import annotations

import uuid

import pytest

from orderly.modules.catalog.application.commands import CreateProduct
from orderly.modules.catalog.application.handlers import create_product
from orderly.modules.catalog.contracts import ProductCreated
from orderly.modules.catalog.domain.errors import DuplicateSku, DuplicateSlug, UnknownCategory
from orderly.shared_kernel.errors import InvalidInput
from tests.support.fakes import FakeCatalogUnitOfWork
from tests.unit.catalog.factories import create_product_command, new_variant


class TestCreateProduct:
    async def test_the_product_is_stored_and_committed_once(self) -> None:
        uow = FakeCatalogUnitOfWork()
        product_id = await create_product(create_product_command(name="Mug"), uow=uow)
        assert uow.commits == 1
        assert uow.rollbacks == 0
        stored = uow.products.committed[product_id]
        assert stored.name == "Mug"
        assert [v.sku for v in stored.variants] == ["MUG-1"]

    async def test_its_product_created_event_is_collected_for_the_outbox(self) -> None:
        uow = FakeCatalogUnitOfWork()
        product_id = await create_product(
            create_product_command(variants=(new_variant("MUG-1", "12.5"), new_variant("MUG-2", "14"))),
            uow=uow,
        )
        [event] = uow.outbox
        assert isinstance(event, ProductCreated)
        assert event.product_id == str(product_id)
        assert [(v.sku, v.price_amount) for v in event.variants] == [("MUG-1", "12.50"), ("MUG-2", "14.00")]

    async def test_the_slug_comes_from_the_name_and_a_taken_one_gets_a_suffix(self) -> None:
        uow = FakeCatalogUnitOfWork()
        first = await create_product(
            create_product_command(name="Tasse à café", variants=(new_variant("A"),)), uow=uow
        )
        second = await create_product(
            create_product_command(name="Tasse à Café!", variants=(new_variant("B"),)), uow=uow
        )
        assert uow.products.committed[first].slug == "tasse-a-cafe"
        assert uow.products.committed[second].slug == "tasse-a-cafe-2"

    async def test_publish_creates_a_published_product(self) -> None:
        uow = FakeCatalogUnitOfWork()
        product_id = await create_product(create_product_command(publish=True), uow=uow)
        assert uow.products.committed[product_id].status.value == "published"


class TestCreateProductRefused:
    @pytest.mark.parametrize(
        "command",
        [
            pytest.param(create_product_command(name="  "), id="blank-name"),
            pytest.param(create_product_command(variants=()), id="no-variants"),
            pytest.param(
                create_product_command(variants=(new_variant(amount="-1.00"),)), id="negative-price"
            ),
            pytest.param(
                create_product_command(variants=(new_variant(currency="XXX"),)), id="non-tender-currency"
            ),
            pytest.param(
                create_product_command(variants=(new_variant(currency="eur"),)), id="lower-case-currency"
            ),
            pytest.param(
                create_product_command(variants=(new_variant(amount="1.5", currency="JPY"),)),
                id="jpy-decimals",
            ),
            pytest.param(create_product_command(variants=(new_variant(sku="no spaces"),)), id="bad-sku"),
            pytest.param(create_product_command(slug="Not A Slug"), id="bad-slug"),
            pytest.param(
                create_product_command(variants=(new_variant("MUG-1"), new_variant("MUG-1"))), id="sku-twice"
            ),
        ],
    )
    async def test_nothing_is_committed_when_the_domain_refuses(self, command: CreateProduct) -> None:
        uow = FakeCatalogUnitOfWork()
        with pytest.raises(InvalidInput):
            await create_product(command, uow=uow)
        assert uow.commits == 0
        assert uow.products.committed == {}
        assert uow.outbox == []

    async def test_an_unknown_category_is_refused_and_nothing_is_committed(self) -> None:
        uow = FakeCatalogUnitOfWork()
        command = CreateProduct(
            name="Mug", description="", variants=(new_variant(),), category_ids=(uuid.uuid4(),)
        )
        with pytest.raises(UnknownCategory):
            await create_product(command, uow=uow)
        assert (uow.commits, uow.rollbacks) == (0, 1)
        assert uow.outbox == []

    async def test_a_sku_another_product_has_is_refused_and_nothing_of_the_second_is_kept(self) -> None:
        uow = FakeCatalogUnitOfWork()
        first = await create_product(create_product_command(variants=(new_variant("MUG-1"),)), uow=uow)
        with pytest.raises(DuplicateSku) as refused:
            await create_product(
                create_product_command(name="Cup", variants=(new_variant("CUP-1"), new_variant("MUG-1"))),
                uow=uow,
            )
        assert refused.value.sku == "MUG-1"
        assert (uow.commits, uow.rollbacks) == (1, 1)
        assert set(uow.products.committed) == {first}
        assert len(uow.outbox) == 1

    async def test_an_explicit_slug_another_product_has_is_refused(self) -> None:
        uow = FakeCatalogUnitOfWork()
        await create_product(create_product_command(slug="mug", variants=(new_variant("A"),)), uow=uow)
        with pytest.raises(DuplicateSlug):
            await create_product(create_product_command(slug="mug", variants=(new_variant("B"),)), uow=uow)
        assert uow.commits == 1
        assert len(uow.products.committed) == 1
