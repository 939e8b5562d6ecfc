"""Changing a product: partial updates, status transitions, versions and the events they record."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from orderly.modules.catalog.contracts import ProductArchived, ProductPublished, ProductUpdated
from orderly.modules.catalog.domain.errors import StaleVersion
from orderly.modules.catalog.domain.product import Product, ProductStatus, Variant
from orderly.shared_kernel.errors import InvalidInput
from orderly.shared_kernel.money import Money
from tests.unit.catalog.factories import product, variant


def _fresh(**overrides: object) -> Product:
    created = product(**overrides)  # type: ignore[arg-type]
    created.collect_events()
    return created


class TestUpdatingAProduct:
    def test_a_change_bumps_the_version_and_records_the_new_state(self) -> None:
        mug = _fresh()
        assert mug.update(name="Big mug", slug="big-mug") is True
        assert (mug.name, mug.slug, mug.version) == ("Big mug", "big-mug", 2)
        [event] = mug.collect_events()
        assert isinstance(event, ProductUpdated)
        assert (event.version, event.slug, event.previous_slug, event.name) == (
            2,
            "big-mug",
            "mug",
            "Big mug",
        )

    def test_fields_left_out_stay_as_they_are(self) -> None:
        mug = _fresh(description="Stoneware")
        mug.update(name="Cup")
        assert mug.description == "Stoneware"
        assert [v.sku for v in mug.variants] == ["MUG-1"]

    def test_an_update_that_changes_nothing_keeps_the_version_and_records_nothing(self) -> None:
        mug = _fresh()
        assert mug.update(name="  Mug ", description=mug.description, variants=list(mug.variants)) is False
        assert mug.version == 1
        assert mug.collect_events() == []

    def test_variants_are_replaced_as_a_whole(self) -> None:
        mug = _fresh(variants=[variant("MUG-1"), variant("MUG-2")])
        mug.update(variants=[variant("MUG-3", "9.00")])
        assert [v.sku for v in mug.variants] == ["MUG-3"]
        [event] = mug.collect_events()
        assert isinstance(event, ProductUpdated)
        assert [v.sku for v in event.variants] == ["MUG-3"]

    def test_an_invalid_change_is_refused_and_leaves_the_product_untouched(self) -> None:
        mug = _fresh()
        with pytest.raises(InvalidInput):
            mug.update(name="Cup", slug="Not A Slug")
        assert (mug.name, mug.slug, mug.version) == ("Mug", "mug", 1)
        assert mug.collect_events() == []

    def test_the_same_category_twice_counts_once(self) -> None:
        mug = _fresh()
        kitchen = uuid.uuid4()
        mug.update(category_ids=[kitchen, kitchen])
        assert mug.category_ids == (kitchen,)


class TestOptimisticConcurrency:
    def test_the_version_the_caller_saw_is_accepted(self) -> None:
        _fresh().ensure_version(1)

    def test_an_older_version_is_refused_naming_the_current_one(self) -> None:
        mug = _fresh()
        mug.update(name="Cup")
        with pytest.raises(StaleVersion) as refused:
            mug.ensure_version(1)
        assert (refused.value.expected, refused.value.current) == (1, 2)

    def test_no_expected_version_means_any(self) -> None:
        _fresh().ensure_version(None)


class TestPublishingAndArchiving:
    def test_publishing_a_draft_shows_it_and_records_product_published(self) -> None:
        mug = _fresh()
        assert mug.publish() is True
        assert mug.status is ProductStatus.PUBLISHED
        assert mug.published_at is not None
        assert mug.version == 2
        [event] = mug.collect_events()
        assert isinstance(event, ProductPublished)
        assert (event.product_id, event.version, event.slug) == (str(mug.id), 2, "mug")

    def test_publishing_twice_changes_nothing_the_second_time(self) -> None:
        mug = _fresh()
        mug.publish()
        mug.collect_events()
        assert mug.publish() is False
        assert mug.version == 2
        assert mug.collect_events() == []

    def test_archiving_records_product_archived_and_publishing_brings_it_back(self) -> None:
        mug = _fresh(publish=True)
        assert mug.archive() is True
        assert mug.status is ProductStatus.ARCHIVED
        [archived] = mug.collect_events()
        assert isinstance(archived, ProductArchived)
        assert mug.publish() is True
        assert (mug.status.value, mug.version) == ("published", 3)


class TestAttributesAndPrices:
    def test_variants_of_one_product_share_the_same_attributes(self) -> None:
        with pytest.raises(InvalidInput, match="same attributes"):
            product(
                variants=[
                    variant("S", attributes={"size": "S"}),
                    variant("RED", attributes={"colour": "Red"}),
                ]
            )

    def test_two_variants_with_the_same_option_values_are_refused(self) -> None:
        with pytest.raises(InvalidInput, match="same attribute values"):
            product(
                variants=[
                    variant("RED-1", attributes={"colour": "Red"}),
                    variant("RED-2", attributes={"colour": " red "}),
                ]
            )

    @pytest.mark.parametrize("code", ["Size", "1size", "size-x", "", "s" * 33])
    def test_an_attribute_code_outside_the_pattern_is_refused(self, code: str) -> None:
        with pytest.raises(InvalidInput):
            variant(attributes={code: "M"})

    def test_facets_are_case_insensitive_tokens_of_every_value_offered(self) -> None:
        mug = product(
            variants=[
                variant("S-RED", attributes={"size": "S", "colour": "Red"}),
                variant("M-RED", attributes={"size": "M", "colour": "Red"}),
            ]
        )
        assert mug.facets() == ("colour=red", "size=m", "size=s")

    def test_the_from_price_is_the_lowest_variant_price_per_currency(self) -> None:
        mug = product(
            variants=[
                Variant.of(sku="A", prices=[Money.of("12.50", "EUR"), Money.of("15", "USD")]),
                Variant.of(sku="B", prices=[Money.of("9.99", "EUR")]),
            ]
        )
        assert mug.from_prices() == {"EUR": Decimal("9.99"), "USD": Decimal("15")}

    def test_a_variant_prices_in_at_most_ten_currencies(self) -> None:
        currencies = ["EUR", "USD", "GBP", "JPY", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF"]
        with pytest.raises(InvalidInput):
            Variant.of(sku="A", prices=[Money.of("1", c) for c in currencies])
