"""Merging a guest cart into a customer's cart on sign-in: the plan, before any store."""

from __future__ import annotations

import uuid
from decimal import Decimal

from orderly.modules.cart.domain.cart import MAX_LINES, MAX_QUANTITY
from orderly.modules.cart.domain.merge import AdjustmentReason, MergedLine, merge_currency, plan_merge
from tests.unit.cart.factories import cart, line, numbered_lines

CUSTOMER = uuid.uuid4()


class TestQuantities:
    def test_a_sku_in_both_carts_ends_with_the_sum(self) -> None:
        guest = cart(line("MUG-1", 2, "12.50"))
        mine = cart(line("MUG-1", 3, "11.00"), customer_id=CUSTOMER)
        plan = plan_merge(guest=guest, into=mine, prices={})
        assert plan.changes == (MergedLine("MUG-1", 5, Decimal("12.50")),)
        assert plan.adjustments == ()

    def test_the_sum_is_capped_at_the_most_a_line_holds_and_the_cap_is_reported(self) -> None:
        guest = cart(line("MUG-1", 600))
        mine = cart(line("MUG-1", 500), customer_id=CUSTOMER)
        plan = plan_merge(guest=guest, into=mine, prices={})
        assert plan.changes[0].quantity == MAX_QUANTITY
        [adjustment] = plan.adjustments
        assert adjustment.reason is AdjustmentReason.QUANTITY_CAPPED
        assert (adjustment.requested, adjustment.kept) == (1100, MAX_QUANTITY)

    def test_lines_only_the_customer_has_are_left_alone(self) -> None:
        guest = cart(line("A", 1))
        mine = cart(line("B", 4), customer_id=CUSTOMER)
        plan = plan_merge(guest=guest, into=mine, prices={})
        assert [c.sku for c in plan.changes] == ["A"]

    def test_a_customer_without_a_cart_gets_the_guest_lines_as_they_are(self) -> None:
        guest = cart(line("A", 2, "3.00"), line("B", 1, "4.00", added_at=2))
        plan = plan_merge(guest=guest, into=None, prices={})
        assert plan.changes == (MergedLine("A", 2, Decimal("3.00")), MergedLine("B", 1, Decimal("4.00")))
        assert plan.currency == "EUR"

    def test_an_empty_guest_cart_changes_nothing(self) -> None:
        plan = plan_merge(guest=cart(), into=cart(line("A"), customer_id=CUSTOMER), prices={})
        assert plan.changes == ()
        assert plan.adjustments == ()


class TestLineLimit:
    def test_new_skus_stop_at_the_line_limit_and_the_rest_are_reported(self) -> None:
        mine = cart(*numbered_lines(MAX_LINES - 1, prefix="MINE"), customer_id=CUSTOMER)
        guest = cart(line("NEW-1", 2), line("NEW-2", 3, added_at=2))
        plan = plan_merge(guest=guest, into=mine, prices={})
        assert [c.sku for c in plan.changes] == ["NEW-1"]
        [dropped] = plan.adjustments
        assert (dropped.sku, dropped.reason, dropped.requested, dropped.kept) == (
            "NEW-2",
            AdjustmentReason.LINE_LIMIT,
            3,
            0,
        )

    def test_a_full_cart_still_takes_more_of_the_skus_it_has(self) -> None:
        mine = cart(*numbered_lines(MAX_LINES, prefix="MINE"), customer_id=CUSTOMER)
        guest = cart(line("MINE-7", 2), line("NEW-1", 1, added_at=2))
        plan = plan_merge(guest=guest, into=mine, prices={})
        assert plan.changes == (MergedLine("MINE-7", 3, Decimal("12.50")),)
        assert [a.sku for a in plan.adjustments] == ["NEW-1"]


class TestCurrency:
    def test_a_customer_cart_with_lines_keeps_its_currency(self) -> None:
        guest = cart(line("A"), currency="USD")
        mine = cart(line("B"), currency="EUR", customer_id=CUSTOMER)
        assert merge_currency(guest=guest, into=mine) == "EUR"

    def test_an_empty_customer_cart_takes_the_guest_currency(self) -> None:
        guest = cart(line("A"), currency="USD")
        assert merge_currency(guest=guest, into=cart(currency="EUR", customer_id=CUSTOMER)) == "USD"
        assert merge_currency(guest=guest, into=None) == "USD"

    def test_guest_lines_moving_to_another_currency_take_its_current_price(self) -> None:
        guest = cart(line("A", 1, "10.00"), line("B", 2, "20.00", added_at=2), currency="USD")
        mine = cart(line("C"), currency="EUR", customer_id=CUSTOMER)
        plan = plan_merge(guest=guest, into=mine, prices={"A": Decimal("9.20")})
        assert plan.currency == "EUR"
        assert plan.changes == (MergedLine("A", 1, Decimal("9.20")),)
        [left_out] = plan.adjustments
        assert (left_out.sku, left_out.reason, left_out.kept) == (
            "B",
            AdjustmentReason.NOT_PRICED_IN_CURRENCY,
            0,
        )
