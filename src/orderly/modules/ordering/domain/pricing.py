"""How an order is priced: every rule in one place, in Money arithmetic.

Rounding rule (also in docs/ordering/README.md):

* unit prices come from the catalog already exact in the currency's minor
  unit, so a line total (unit price x quantity) and the subtotal are exact
  and never rounded;
* shipping is a flat amount per order and destination country, written in
  the rate table per currency, exact as configured;
* tax is a flat rate per destination country applied once per order to
  (subtotal + shipping) and rounded once, half up (commercial rounding), to
  the currency's minor unit; rounding per line would let the sum of rounded
  lines drift from the rate applied to the order;
* total = subtotal + shipping + tax, exact.

Prices are tax-exclusive (the tax is added on top), as a B2C storefront in
most of the rate table's markets shows them at checkout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from orderly.modules.ordering.domain.errors import ShippingNotAvailable
from orderly.shared_kernel.errors import InvalidInput
from orderly.shared_kernel.money import Money, minor_units

# The rate tables' fallback entry: applies to every country not listed.
ANY_COUNTRY = "*"
MAX_TAX_RATE = Decimal(1)


@dataclass(frozen=True, slots=True)
class PriceableLine:
    """A cart line with the catalog's unit price at this moment."""

    sku: str
    quantity: int
    unit_price: Money


@dataclass(frozen=True, slots=True)
class PricedLine:
    sku: str
    quantity: int
    unit_price: Money
    line_total: Money


@dataclass(frozen=True, slots=True)
class Totals:
    lines: tuple[PricedLine, ...]
    subtotal: Money
    shipping: Money
    tax_rate: Decimal
    tax: Money
    total: Money

    @property
    def currency(self) -> str:
        return self.total.currency


@dataclass(frozen=True)
class PricingRules:
    """Shipping per order by country and currency; tax rate by country.

    ``shipping_rates`` maps a country (ISO 3166-1 alpha-2, or ``*`` for any
    other) to a flat amount per currency; a country without an entry (and no
    ``*``) or a currency missing from its entry cannot be shipped to.
    ``tax_rates`` maps a country (or ``*``) to a rate between 0 and 1; a
    country without one pays no tax.
    """

    shipping_rates: Mapping[str, Mapping[str, Decimal]]
    tax_rates: Mapping[str, Decimal]

    def __post_init__(self) -> None:
        for country, by_currency in self.shipping_rates.items():
            for currency, amount in by_currency.items():
                # Validates the code and the number of decimals up front, so a
                # bad configuration fails at start, not at the first checkout.
                if Money(Decimal(amount), currency).is_negative():
                    raise ValueError(f"negative shipping rate for {country}/{currency}")
        for country, rate in self.tax_rates.items():
            if not Decimal(0) <= Decimal(rate) <= MAX_TAX_RATE:
                raise ValueError(f"tax rate of {country} must be between 0 and 1")

    def shipping(self, *, country: str, currency: str) -> Money:
        by_currency = self.shipping_rates.get(country) or self.shipping_rates.get(ANY_COUNTRY)
        if by_currency is None or currency not in by_currency:
            raise ShippingNotAvailable(country=country, currency=currency)
        return Money(Decimal(by_currency[currency]), currency)

    def tax_rate(self, *, country: str) -> Decimal:
        rate = self.tax_rates.get(country, self.tax_rates.get(ANY_COUNTRY, Decimal(0)))
        return Decimal(rate)

    def price(self, lines: Sequence[PriceableLine], *, country: str, currency: str) -> Totals:
        if not lines:
            raise InvalidInput("an order needs at least one line", field="lines")
        priced: list[PricedLine] = []
        subtotal = Money(Decimal(0), currency)
        for line in lines:
            if line.unit_price.currency != currency:
                raise InvalidInput(f"'{line.sku}' is priced in {line.unit_price.currency}, not {currency}")
            if line.quantity < 1:
                raise InvalidInput("a quantity is at least 1", field="quantity")
            line_total = Money(line.unit_price.amount * line.quantity, currency)
            priced.append(PricedLine(line.sku, line.quantity, line.unit_price, line_total))
            subtotal = subtotal + line_total
        shipping = self.shipping(country=country, currency=currency)
        rate = self.tax_rate(country=country)
        tax = Money(round_half_up((subtotal + shipping).amount * rate, currency), currency)
        return Totals(
            lines=tuple(priced),
            subtotal=subtotal,
            shipping=shipping,
            tax_rate=rate,
            tax=tax,
            total=subtotal + shipping + tax,
        )


def round_half_up(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded to the currency's minor unit, halves away from zero."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)
