"""Pricing rules: line totals, shipping rate table, flat tax per country, rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderly.modules.ordering.domain.errors import ShippingNotAvailable
from orderly.modules.ordering.domain.pricing import PriceableLine, PricingRules, round_half_up
from orderly.shared_kernel.errors import InvalidInput
from orderly.shared_kernel.money import Money
from tests.unit.ordering.factories import RULES, eur


class TestLineTotals:
    def test_line_total_is_unit_price_times_quantity_and_subtotal_their_sum(self) -> None:
        totals = RULES.price(
            [PriceableLine("A", 3, eur("12.50")), PriceableLine("B", 1, eur("0.99"))],
            country="DE",
            currency="EUR",
        )
        assert [line.line_total for line in totals.lines] == [eur("37.50"), eur("0.99")]
        assert totals.subtotal == eur("38.49")

    def test_an_order_without_lines_is_refused(self) -> None:
        with pytest.raises(InvalidInput):
            RULES.price([], country="DE", currency="EUR")

    def test_a_line_priced_in_another_currency_is_refused(self) -> None:
        with pytest.raises(InvalidInput):
            RULES.price([PriceableLine("A", 1, Money(Decimal(1), "USD"))], country="DE", currency="EUR")


class TestShipping:
    def test_a_listed_country_pays_its_own_flat_rate(self) -> None:
        assert RULES.shipping(country="DE", currency="EUR") == eur("4.90")

    def test_other_countries_pay_the_fallback_rate(self) -> None:
        assert RULES.shipping(country="IT", currency="EUR") == eur("9.90")

    def test_a_currency_the_table_does_not_price_cannot_be_shipped(self) -> None:
        with pytest.raises(ShippingNotAvailable) as raised:
            RULES.shipping(country="DE", currency="USD")
        assert raised.value.details["field"] == "shipping_address.country"

    def test_without_a_fallback_unlisted_countries_are_not_shipped_to(self) -> None:
        rules = PricingRules(shipping_rates={"DE": {"EUR": Decimal("4.90")}}, tax_rates={})
        with pytest.raises(ShippingNotAvailable):
            rules.shipping(country="FR", currency="EUR")


class TestTax:
    def test_tax_applies_to_subtotal_plus_shipping_at_the_destination_rate(self) -> None:
        totals = RULES.price([PriceableLine("A", 2, eur("12.50"))], country="DE", currency="EUR")
        # (25.00 + 4.90) x 0.19 = 5.681 -> 5.68
        assert totals.tax == eur("5.68")
        assert totals.total == eur("35.58")
        assert totals.tax_rate == Decimal("0.19")

    def test_a_country_without_a_rate_pays_no_tax(self) -> None:
        totals = RULES.price([PriceableLine("A", 1, eur("10.00"))], country="IT", currency="EUR")
        assert totals.tax == eur("0.00")

    def test_tax_is_rounded_once_per_order_half_up(self) -> None:
        rules = PricingRules(shipping_rates={"*": {"EUR": Decimal(0)}}, tax_rates={"*": Decimal("0.1")})
        lines = [PriceableLine(sku, 1, eur("0.05")) for sku in ("A", "B", "C")]
        # Per line 0.005 would round to 0.01 three times (0.03); once per order 0.015 -> 0.02.
        assert rules.price(lines, country="IT", currency="EUR").tax == eur("0.02")

    def test_a_half_rounds_away_from_zero(self) -> None:
        assert round_half_up(Decimal("0.125"), "EUR") == Decimal("0.13")
        assert round_half_up(Decimal("0.124"), "EUR") == Decimal("0.12")

    def test_currencies_without_minor_units_round_to_whole_units(self) -> None:
        rules = PricingRules(shipping_rates={"*": {"JPY": Decimal(0)}}, tax_rates={"*": Decimal("0.1")})
        totals = rules.price(
            [PriceableLine("A", 1, Money(Decimal(125), "JPY"))], country="JP", currency="JPY"
        )
        assert totals.tax == Money(Decimal(13), "JPY")


class TestConfiguration:
    def test_a_negative_shipping_rate_is_refused(self) -> None:
        with pytest.raises(ValueError, match="negative"):
            PricingRules(shipping_rates={"*": {"EUR": Decimal("-1")}}, tax_rates={})

    def test_a_tax_rate_above_one_is_refused(self) -> None:
        with pytest.raises(ValueError, match="between 0 and 1"):
            PricingRules(shipping_rates={}, tax_rates={"DE": Decimal("1.5")})

    def test_a_rate_with_more_decimals_than_the_currency_is_refused(self) -> None:
        with pytest.raises(InvalidInput):
            PricingRules(shipping_rates={"*": {"EUR": Decimal("4.999")}}, tax_rates={})


cents = st.integers(min_value=0, max_value=10_000_000).map(lambda c: Decimal(c).scaleb(-2))
lines_strategy = st.lists(st.tuples(cents, st.integers(min_value=1, max_value=50)), min_size=1, max_size=8)
rates = st.integers(min_value=0, max_value=10_000).map(lambda r: Decimal(r).scaleb(-4))


class TestTotalsProperties:
    @given(lines=lines_strategy, rate=rates, shipping=cents)
    def test_totals_add_up_exactly_and_tax_is_within_half_a_cent(
        self, lines: list[tuple[Decimal, int]], rate: Decimal, shipping: Decimal
    ) -> None:
        rules = PricingRules(shipping_rates={"*": {"EUR": shipping}}, tax_rates={"*": rate})
        totals = rules.price(
            [PriceableLine(f"S{i}", qty, eur(str(price))) for i, (price, qty) in enumerate(lines)],
            country="IT",
            currency="EUR",
        )
        exact_subtotal = sum((price * qty for price, qty in lines), Decimal(0))
        assert totals.subtotal.amount == exact_subtotal
        assert totals.total.amount == totals.subtotal.amount + totals.shipping.amount + totals.tax.amount
        exact_tax = (exact_subtotal + shipping) * rate
        assert abs(totals.tax.amount - exact_tax) <= Decimal("0.005")
        for money in (totals.subtotal, totals.shipping, totals.tax, totals.total):
            assert money.amount == money.quantized()
