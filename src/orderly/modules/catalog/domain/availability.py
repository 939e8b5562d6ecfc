"""How much of a variant a shopper can buy, as the storefront shows it."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

# At or below this many units the storefront says "low" (and a shopper hurries).
LOW_STOCK_THRESHOLD = 5


class Availability(StrEnum):
    IN_STOCK = "in_stock"
    LOW = "low"
    OUT_OF_STOCK = "out_of_stock"


def availability_of(available: int | None) -> Availability:
    """``None`` means inventory has not reported the SKU yet: nothing to sell."""
    if available is None or available <= 0:
        return Availability.OUT_OF_STOCK
    if available <= LOW_STOCK_THRESHOLD:
        return Availability.LOW
    return Availability.IN_STOCK


_RANK = {Availability.OUT_OF_STOCK: 0, Availability.LOW: 1, Availability.IN_STOCK: 2}


def best_of(levels: Iterable[Availability]) -> Availability:
    """A product is as available as its most available variant."""
    return max(levels, key=_RANK.__getitem__, default=Availability.OUT_OF_STOCK)
