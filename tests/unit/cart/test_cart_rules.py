"""The rules a cart document keeps, checked without any store."""

from __future__ import annotations

import pytest

from orderly.modules.cart.domain.cart import (
    CART_ID_LENGTH,
    MAX_QUANTITY,
    checked_quantity,
    checked_sku,
    is_cart_id,
    new_cart_id,
)
from orderly.modules.cart.domain.errors import InvalidSku, QuantityOutOfRange
from tests.unit.cart.factories import cart, line


class TestCartIds:
    def test_a_new_cart_id_carries_at_least_128_random_bits(self) -> None:
        cart_id = new_cart_id()
        # URL-safe base64: 6 bits per character.
        assert len(cart_id) * 6 >= 128
        assert len(cart_id) == CART_ID_LENGTH
        assert is_cart_id(cart_id)

    def test_cart_ids_do_not_repeat(self) -> None:
        assert len({new_cart_id() for _ in range(2000)}) == 2000

    @pytest.mark.parametrize(
        "value", ["", "short", "x" * 31, "x" * 33, "a" * 31 + "/", "a" * 31 + "\n", "a" * 31 + "="]
    )
    def test_anything_but_a_32_character_token_is_not_a_cart_id(self, value: str) -> None:
        assert not is_cart_id(value)


class TestQuantities:
    @pytest.mark.parametrize("quantity", [1, 2, 500, MAX_QUANTITY])
    def test_a_line_holds_one_to_999(self, quantity: int) -> None:
        assert checked_quantity(quantity, allow_zero=False) == quantity

    @pytest.mark.parametrize("quantity", [0, -1, MAX_QUANTITY + 1, 10**12])
    def test_an_added_quantity_outside_one_to_999_is_refused(self, quantity: int) -> None:
        with pytest.raises(QuantityOutOfRange) as refused:
            checked_quantity(quantity, allow_zero=False)
        assert refused.value.details["field"] == "quantity"

    def test_zero_is_a_quantity_only_where_it_means_remove(self) -> None:
        assert checked_quantity(0, allow_zero=True) == 0
        with pytest.raises(QuantityOutOfRange):
            checked_quantity(-1, allow_zero=True)

    @pytest.mark.parametrize("quantity", [True, 1.0, "2", None])
    def test_only_whole_numbers_are_quantities(self, quantity: object) -> None:
        with pytest.raises(QuantityOutOfRange):
            checked_quantity(quantity, allow_zero=True)  # type: ignore[arg-type]


class TestSkus:
    @pytest.mark.parametrize("sku", ["MUG-1", "a", "A.b_c-9", "X" * 64])
    def test_catalog_shaped_skus_are_accepted(self, sku: str) -> None:
        assert checked_sku(sku) == sku

    @pytest.mark.parametrize("sku", ["", "-MUG", "MUG 1", "MUG:1", "X" * 65, "MUG-1\n", "MÜG"])
    def test_anything_the_catalog_could_not_hold_is_refused_before_any_lookup(self, sku: str) -> None:
        with pytest.raises(InvalidSku) as refused:
            checked_sku(sku, location="body")
        assert refused.value.details["location"] == "body"


class TestTheDocument:
    def test_lines_read_in_the_order_they_were_first_added(self) -> None:
        document = cart(line("C", added_at=2), line("A", added_at=4), line("B", added_at=3, changed_at=9))
        assert document.skus == ["C", "B", "A"]

    def test_item_count_sums_the_quantities(self) -> None:
        assert cart(line("A", 2), line("B", 5, added_at=2)).item_count == 7
