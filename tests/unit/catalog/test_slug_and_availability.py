"""Slugs made from names, and availability levels from stock counts."""

from __future__ import annotations

import pytest

from orderly.modules.catalog.domain.availability import (
    LOW_STOCK_THRESHOLD,
    Availability,
    availability_of,
    best_of,
)
from orderly.modules.catalog.domain.slug import MAX_SLUG, slugify, validate_slug, with_suffix
from orderly.shared_kernel.errors import InvalidInput


class TestSlugify:
    @pytest.mark.parametrize(
        ("text", "slug"),
        [
            ("Red Mug", "red-mug"),
            ("  Tasse à café — 330 ml  ", "tasse-a-cafe-330-ml"),
            ("C++ & Rust!!", "c-rust"),
            ("Ærø", "r"),
            ("杯子", "product"),
            ("---", "product"),
        ],
    )
    def test_a_name_becomes_lowercase_ascii_words_joined_by_dashes(self, text: str, slug: str) -> None:
        assert slugify(text, fallback="product") == slug

    def test_every_slug_made_is_a_valid_slug_and_leaves_room_for_a_suffix(self) -> None:
        long = slugify("word " * 100, fallback="product")
        assert validate_slug(long) == long
        assert len(with_suffix(long, 999)) <= MAX_SLUG

    def test_a_suffix_keeps_the_slug_valid(self) -> None:
        assert with_suffix("mug", 2) == "mug-2"
        assert validate_slug(with_suffix("a" * MAX_SLUG, 12)) == "a" * (MAX_SLUG - 3) + "-12"

    @pytest.mark.parametrize(
        "slug", ["", "Mug", "mug--2", "-mug", "mug-", "mug_2", "mug 2", "mug\n", "m" * 121]
    )
    def test_anything_but_lowercase_words_joined_by_single_dashes_is_refused(self, slug: str) -> None:
        with pytest.raises(InvalidInput):
            validate_slug(slug)


class TestAvailability:
    @pytest.mark.parametrize(
        ("available", "level"),
        [
            (None, Availability.OUT_OF_STOCK),
            (-3, Availability.OUT_OF_STOCK),
            (0, Availability.OUT_OF_STOCK),
            (1, Availability.LOW),
            (LOW_STOCK_THRESHOLD, Availability.LOW),
            (LOW_STOCK_THRESHOLD + 1, Availability.IN_STOCK),
        ],
    )
    def test_the_level_follows_the_units_available(self, available: int | None, level: Availability) -> None:
        assert availability_of(available) is level

    def test_a_product_is_as_available_as_its_best_variant(self) -> None:
        assert best_of([Availability.OUT_OF_STOCK, Availability.LOW]) is Availability.LOW
        assert best_of([Availability.LOW, Availability.IN_STOCK]) is Availability.IN_STOCK
        assert best_of([]) is Availability.OUT_OF_STOCK
