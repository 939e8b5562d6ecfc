"""Commands (imperative, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, kw_only=True)
class NewVariant:
    sku: str
    price_amount: Decimal
    price_currency: str


@dataclass(frozen=True, kw_only=True)
class CreateProduct:
    name: str
    description: str
    variants: tuple[NewVariant, ...]
