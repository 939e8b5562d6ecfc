"""The product aggregate: the rules a new product must meet and the event it records."""

from __future__ import annotations

import pytest

from orderly.modules.catalog.contracts import PriceSnapshot, ProductCreated, VariantSnapshot
from orderly.modules.catalog.domain.product import MAX_NAME, MAX_VARIANTS, ProductStatus, Variant
from orderly.shared_kernel.errors import InvalidInput
from orderly.shared_kernel.money import Money
from tests.unit.catalog.factories import product, variant


class TestCreatingAProduct:
    def test_a_new_product_is_a_draft_at_version_one_with_its_variants_in_order(self) -> None:
        created = product(variants=[variant("MUG-1"), variant("MUG-2", "14.00")])
        assert created.id.version == 7
        assert created.version == 1
        assert created.status is ProductStatus.DRAFT
        assert created.published_at is None
        assert [v.sku for v in created.variants] == ["MUG-1", "MUG-2"]

    def test_the_name_is_kept_without_surrounding_whitespace(self) -> None:
        assert product(name="  Mug \n").name == "Mug"

    @pytest.mark.parametrize("name", ["", "   ", "\t\n"])
    def test_a_product_without_a_name_is_refused(self, name: str) -> None:
        with pytest.raises(InvalidInput) as refused:
            product(name=name)
        assert refused.value.details["field"] == "name"

    def test_a_name_longer_than_the_limit_is_refused(self) -> None:
        assert product(name="n" * MAX_NAME).name == "n" * MAX_NAME
        with pytest.raises(InvalidInput) as refused:
            product(name="n" * (MAX_NAME + 1))
        assert refused.value.details["field"] == "name"

    def test_a_description_longer_than_the_limit_is_refused(self) -> None:
        with pytest.raises(InvalidInput) as refused:
            product(description="d" * 10_001)
        assert refused.value.details["field"] == "description"

    @pytest.mark.parametrize("slug", ["", "Mug", "mug--1", "-mug", "mug_1", "mug 1", "m" * 121])
    def test_a_slug_that_is_not_lowercase_words_joined_by_dashes_is_refused(self, slug: str) -> None:
        with pytest.raises(InvalidInput) as refused:
            product(slug=slug)
        assert refused.value.details["field"] == "slug"

    def test_a_product_without_variants_is_refused(self) -> None:
        with pytest.raises(InvalidInput) as refused:
            product(variants=[])
        assert refused.value.details["field"] == "variants"

    def test_more_variants_than_the_limit_are_refused(self) -> None:
        many = [variant(f"SKU-{i}") for i in range(MAX_VARIANTS + 1)]
        assert len(product(variants=many[:MAX_VARIANTS]).variants) == MAX_VARIANTS
        with pytest.raises(InvalidInput) as refused:
            product(variants=many)
        assert refused.value.details["field"] == "variants"

    def test_the_same_sku_twice_in_one_product_is_refused_naming_the_repeat(self) -> None:
        with pytest.raises(InvalidInput) as refused:
            product(variants=[variant("MUG-1"), variant("MUG-2"), variant("MUG-1", "9.99")])
        assert refused.value.details == {"field": "variants.2.sku", "sku": "MUG-1"}

    def test_skus_differing_only_in_case_are_different_skus(self) -> None:
        assert len(product(variants=[variant("mug-1"), variant("MUG-1")]).variants) == 2


class TestProductCreatedEvent:
    def test_creating_a_draft_records_exactly_one_product_created(self) -> None:
        created = product()
        events = created.collect_events()
        assert len(events) == 1
        assert isinstance(events[0], ProductCreated)
        assert created.collect_events() == []

    def test_creating_a_published_product_records_one_product_created_saying_so(self) -> None:
        created = product(publish=True)
        assert created.status is ProductStatus.PUBLISHED
        [event] = created.collect_events()
        assert isinstance(event, ProductCreated)
        assert event.status == "published"

    def test_the_event_carries_the_product_and_each_price_as_written_in_its_currency(self) -> None:
        created = product(
            name=" Mug ",
            slug="mug",
            variants=[
                variant("MUG-1", "12.5", "EUR"),
                variant("MUG-JP", "1500", "JPY"),
                variant("MUG-BH", "2", "BHD"),
            ],
        )
        [event] = created.collect_events()
        assert isinstance(event, ProductCreated)
        assert event.event_type == "catalog.product_created.v1"
        assert event.aggregate_type == "product"
        assert event.aggregate_id == event.product_id == str(created.id)
        assert (event.name, event.slug, event.status, event.version) == ("Mug", "mug", "draft", 1)
        assert event.variants == (
            VariantSnapshot(
                sku="MUG-1",
                price_amount="12.50",
                price_currency="EUR",
                prices=(PriceSnapshot(amount="12.50", currency="EUR"),),
            ),
            VariantSnapshot(
                sku="MUG-JP",
                price_amount="1500",
                price_currency="JPY",
                prices=(PriceSnapshot(amount="1500", currency="JPY"),),
            ),
            VariantSnapshot(
                sku="MUG-BH",
                price_amount="2.000",
                price_currency="BHD",
                prices=(PriceSnapshot(amount="2.000", currency="BHD"),),
            ),
        )

    def test_each_product_created_has_its_own_event_id(self) -> None:
        first = product().collect_events()[0]
        second = product().collect_events()[0]
        assert first.event_id != second.event_id


class TestVariantRules:
    @pytest.mark.parametrize("sku", ["MUG-1", "a", "9", "A.b_c-9", "X" * 64])
    def test_a_sku_of_letters_digits_dots_underscores_and_dashes_is_accepted(self, sku: str) -> None:
        assert variant(sku).sku == sku

    @pytest.mark.parametrize(
        "sku",
        ["", "-MUG", ".MUG", "_MUG", "MUG 1", "MUG/1", "MÜG", "X" * 65, "MUG-1\n", "MUG\x00", "MUG;DROP"],
    )
    def test_a_sku_outside_the_pattern_is_refused(self, sku: str) -> None:
        with pytest.raises(InvalidInput) as refused:
            variant(sku)
        assert refused.value.details["field"] == "sku"

    def test_a_negative_price_is_refused(self) -> None:
        with pytest.raises(InvalidInput) as refused:
            variant(amount="-0.01")
        assert refused.value.details["field"] == "price.amount"

    def test_a_free_variant_is_allowed(self) -> None:
        assert variant(amount="0").base_price.amount == 0

    def test_a_variant_needs_a_price(self) -> None:
        with pytest.raises(InvalidInput) as refused:
            Variant.of(sku="MUG-1", prices=[])
        assert refused.value.details["field"] == "prices"

    def test_two_prices_in_one_currency_are_refused(self) -> None:
        with pytest.raises(InvalidInput) as refused:
            Variant.of(sku="MUG-1", prices=[Money.of("1.00", "EUR"), Money.of("2.00", "EUR")])
        assert refused.value.details["field"] == "prices"

    def test_the_first_price_is_the_base_price(self) -> None:
        multi = Variant.of(sku="MUG-1", prices=[Money.of("12.50", "EUR"), Money.of("14.00", "USD")])
        assert multi.base_price == Money.of("12.50", "EUR")
        assert multi.price_in("USD") == Money.of("14.00", "USD")
        assert multi.price_in("JPY") is None
