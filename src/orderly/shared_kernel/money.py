"""Money: a decimal amount in an ISO 4217 currency, never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from iso4217 import Currency as _Iso4217

from orderly.shared_kernel.errors import InvalidInput

# Codes that are ISO 4217 entries but not money a shop can charge in
# (precious metals, testing and "no currency" codes have no minor unit).
_NON_TENDER = {"XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA"}


def minor_units(currency: str) -> int:
    """Number of decimal places the currency allows, per ISO 4217."""
    # The iso4217 enum also has lower-case aliases ("eur"), which the standard
    # does not; only the upper-case code is a currency here.
    entry = (
        _Iso4217.__members__.get(currency)
        if isinstance(currency, str) and currency.isascii() and currency.isupper()
        else None
    )
    if entry is None or currency in _NON_TENDER:
        raise InvalidInput(f"'{currency}' is not an ISO 4217 currency code", field="currency")
    exponent = entry.exponent
    if exponent is None:
        raise InvalidInput(f"'{currency}' has no minor unit and cannot be charged", field="currency")
    return int(exponent)


def is_currency(code: str) -> bool:
    try:
        minor_units(code)
    except InvalidInput:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        places = minor_units(self.currency)
        if not isinstance(self.amount, Decimal):
            raise InvalidInput("amount must be a decimal", field="amount")
        if not self.amount.is_finite():
            raise InvalidInput("amount must be a finite number", field="amount")
        try:
            # Quantizing fails past the context's 28 significant digits: such an
            # amount could never be written with the currency's decimals later.
            exact = self.amount.quantize(Decimal(1).scaleb(-places))
        except InvalidOperation:
            raise InvalidInput("amount is too large", field="amount") from None
        if exact != self.amount:
            raise InvalidInput(f"{self.currency} allows at most {places} decimal places", field="amount")

    @classmethod
    def of(cls, amount: str | Decimal, currency: str) -> Money:
        try:
            value = Decimal(amount)
        except (InvalidOperation, TypeError, ValueError):
            raise InvalidInput(f"'{amount}' is not a decimal amount", field="amount") from None
        return cls(value, currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def is_negative(self) -> bool:
        return self.amount < 0

    def quantized(self) -> Decimal:
        """The amount written with exactly the currency's number of decimals."""
        return self.amount.quantize(Decimal(1).scaleb(-minor_units(self.currency)))

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidInput(f"cannot combine {self.currency} with {other.currency}")
