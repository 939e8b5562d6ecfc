"""Showing a cart: current prices, totals in Money, stale prices and stock, with no I/O."""

from __future__ import annotations

from decimal import Decimal

from orderly.modules.cart.domain.pricing import CatalogPrice, LineStatus, price_cart
from orderly.shared_kernel.money import Money
from tests.unit.cart.factories import cart, line


def price(amount: str, *, for_sale: bool = True) -> CatalogPrice:
    return CatalogPrice(amount=Decimal(amount), for_sale=for_sale)


class TestTotals:
    def test_line_totals_and_subtotal_are_exact_money_in_the_cart_currency(self) -> None:
        priced = price_cart(
            cart(line("A", 3, "0.10"), line("B", 7, "19.99", added_at=2)),
            prices={"A": price("0.10"), "B": price("19.99")},
            available={},
        )
        assert [ln.line_total for ln in priced.lines] == [Money.of("0.30", "EUR"), Money.of("139.93", "EUR")]
        assert priced.subtotal == Money.of("140.23", "EUR")

    def test_currencies_without_minor_units_total_in_whole_units(self) -> None:
        priced = price_cart(
            cart(line("A", 3, "1500"), currency="JPY"), prices={"A": price("1500")}, available={}
        )
        assert priced.subtotal == Money.of("4500", "JPY")

    def test_an_empty_cart_has_a_zero_subtotal(self) -> None:
        priced = price_cart(cart(currency="USD"), prices={}, available={})
        assert priced.subtotal == Money.of("0.00", "USD")
        assert priced.lines == ()


class TestStalePrices:
    def test_a_line_whose_price_moved_shows_both_prices(self) -> None:
        priced = price_cart(cart(line("A", 2, "10.00")), prices={"A": price("12.00")}, available={})
        [shown] = priced.lines
        assert shown.price_changed
        assert shown.price_seen == Money.of("10.00", "EUR")
        assert shown.unit_price == Money.of("12.00", "EUR")
        assert shown.line_total == Money.of("24.00", "EUR")
        assert priced.has_price_changes

    def test_the_same_price_written_differently_is_not_a_change(self) -> None:
        priced = price_cart(cart(line("A", 1, "10.0")), prices={"A": price("10.00")}, available={})
        assert not priced.lines[0].price_changed
        assert not priced.has_price_changes

    def test_a_line_never_priced_before_is_not_flagged(self) -> None:
        priced = price_cart(cart(line("A", 1, None)), prices={"A": price("10.00")}, available={})
        assert not priced.lines[0].price_changed
        assert priced.lines[0].price_seen is None


class TestUnavailableLines:
    def test_a_sku_gone_from_the_catalog_counts_toward_nothing(self) -> None:
        priced = price_cart(
            cart(line("GONE", 2), line("A", 1, "5.00", added_at=2)), prices={"A": price("5.00")}, available={}
        )
        gone = priced.lines[0]
        assert gone.status is LineStatus.UNAVAILABLE
        assert (gone.unit_price, gone.line_total) == (None, None)
        assert priced.subtotal == Money.of("5.00", "EUR")
        assert priced.has_unavailable_lines

    def test_a_product_taken_off_sale_is_shown_as_not_for_sale(self) -> None:
        priced = price_cart(cart(line("A", 1)), prices={"A": price("12.50", for_sale=False)}, available={})
        assert priced.lines[0].status is LineStatus.NOT_FOR_SALE
        assert priced.subtotal == Money.of("0.00", "EUR")


class TestStock:
    def test_stock_is_shown_and_compared_with_the_quantity(self) -> None:
        priced = price_cart(
            cart(line("A", 3), line("B", 3, added_at=2), line("C", 1, added_at=3)),
            prices={sku: price("12.50") for sku in "ABC"},
            available={"A": 3, "B": 2},
        )
        assert [(ln.available, ln.enough_stock) for ln in priced.lines] == [
            (3, True),
            (2, False),
            (None, None),
        ]
        assert priced.has_stock_shortfalls
