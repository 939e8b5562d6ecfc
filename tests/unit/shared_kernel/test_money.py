"""Money: decimal amounts in ISO 4217 currencies, with each currency's minor units."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, cast

import pytest

from orderly.shared_kernel.errors import InvalidInput
from orderly.shared_kernel.money import Money, is_currency, minor_units


class TestCurrencyCodes:
    @pytest.mark.parametrize(
        ("code", "places"),
        [("EUR", 2), ("USD", 2), ("GBP", 2), ("JPY", 0), ("KRW", 0), ("BHD", 3), ("KWD", 3), ("CLF", 4)],
    )
    def test_a_tender_currency_has_its_iso_4217_minor_units(self, code: str, places: int) -> None:
        assert minor_units(code) == places
        assert is_currency(code)

    @pytest.mark.parametrize("code", ["XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XBA"])
    def test_codes_that_are_not_money_a_shop_can_charge_in_are_refused(self, code: str) -> None:
        with pytest.raises(InvalidInput) as refused:
            minor_units(code)
        assert refused.value.details["field"] == "currency"
        assert not is_currency(code)

    @pytest.mark.parametrize("code", ["ABC", "EUR1", "EU", "", "eur", "Eur", "ÉUR", " EUR"])
    def test_a_code_that_is_not_in_iso_4217_is_refused(self, code: str) -> None:
        assert not is_currency(code)
        with pytest.raises(InvalidInput):
            Money(Decimal("1"), code)


class TestAmounts:
    def test_an_amount_keeps_its_exact_decimal_value(self) -> None:
        price = Money.of("12.50", "EUR")
        assert price.amount == Decimal("12.50")
        assert price.currency == "EUR"

    @pytest.mark.parametrize(
        ("amount", "currency"),
        [("12.345", "EUR"), ("100.5", "JPY"), ("1.2345", "BHD"), ("0.001", "USD"), ("1.23456", "CLF")],
    )
    def test_more_decimals_than_the_currency_has_are_refused(self, amount: str, currency: str) -> None:
        with pytest.raises(InvalidInput) as refused:
            Money.of(amount, currency)
        assert refused.value.details["field"] == "amount"

    @pytest.mark.parametrize(
        ("amount", "currency"), [("12.34", "EUR"), ("100", "JPY"), ("1.234", "KWD"), ("1.2345", "CLF")]
    )
    def test_exactly_the_currency_decimals_are_accepted(self, amount: str, currency: str) -> None:
        assert Money.of(amount, currency).amount == Decimal(amount)

    def test_trailing_zeros_past_the_minor_unit_change_nothing(self) -> None:
        assert Money.of("12.500", "EUR").quantized() == Decimal("12.50")
        assert Money.of("100.0", "JPY").quantized() == Decimal("100")

    @pytest.mark.parametrize(
        ("amount", "currency", "written"),
        [("12.5", "EUR", "12.50"), ("7", "USD", "7.00"), ("1000", "JPY", "1000"), ("1.2", "BHD", "1.200")],
    )
    def test_quantized_writes_the_currency_number_of_decimals(
        self, amount: str, currency: str, written: str
    ) -> None:
        assert str(Money.of(amount, currency).quantized()) == written

    @pytest.mark.parametrize("amount", ["twelve", "", "12,50", "1.2.3", "0x10"])
    def test_a_non_numeric_amount_is_refused(self, amount: str) -> None:
        with pytest.raises(InvalidInput) as refused:
            Money.of(amount, "EUR")
        assert refused.value.details["field"] == "amount"

    @pytest.mark.parametrize("amount", ["NaN", "sNaN", "Infinity", "-Infinity"])
    def test_a_non_finite_amount_is_refused(self, amount: str) -> None:
        with pytest.raises(InvalidInput):
            Money.of(amount, "EUR")

    @pytest.mark.parametrize("amount", ["1e30", "123456789012345678901234567.89", "-1E+27"])
    def test_an_amount_too_large_to_write_with_its_decimals_is_refused(self, amount: str) -> None:
        with pytest.raises(InvalidInput) as refused:
            Money.of(amount, "EUR")
        assert refused.value.details["field"] == "amount"

    def test_the_largest_amount_that_fits_is_accepted_and_written_exactly(self) -> None:
        amount = "9" * 26 + ".99"
        assert str(Money.of(amount, "EUR").quantized()) == amount

    def test_a_float_is_never_taken_for_money(self) -> None:
        with pytest.raises(InvalidInput):
            Money(cast(Any, 12.5), "EUR")

    def test_negative_amounts_exist_and_say_so(self) -> None:
        # A refund or a discount is negative money; whether a price may be is
        # the catalog's rule, not Money's.
        assert Money.of("-1.00", "EUR").is_negative()
        assert not Money.of("0", "EUR").is_negative()

    def test_money_is_immutable(self) -> None:
        price = Money.of("1.00", "EUR")
        with pytest.raises(dataclasses.FrozenInstanceError):
            price.amount = Decimal("2.00")  # type: ignore[misc]

    def test_equal_values_in_the_same_currency_are_equal_money(self) -> None:
        assert Money.of("12.5", "EUR") == Money.of("12.50", "EUR")
        assert Money.of("12.50", "EUR") != Money.of("12.50", "USD")


class TestArithmetic:
    def test_adding_money_of_one_currency_adds_the_amounts(self) -> None:
        assert Money.of("12.50", "EUR") + Money.of("0.75", "EUR") == Money.of("13.25", "EUR")

    def test_subtracting_money_of_one_currency_subtracts_the_amounts(self) -> None:
        total = Money.of("1000", "JPY") - Money.of("1500", "JPY")
        assert total == Money.of("-500", "JPY")
        assert total.is_negative()

    def test_adding_mixed_currencies_is_refused(self) -> None:
        with pytest.raises(InvalidInput):
            _ = Money.of("1.00", "EUR") + Money.of("1.00", "USD")

    def test_subtracting_mixed_currencies_is_refused(self) -> None:
        with pytest.raises(InvalidInput):
            _ = Money.of("1.000", "BHD") - Money.of("1.000", "KWD")
