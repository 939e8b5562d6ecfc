"""Merging a guest's cart into their own cart when they sign in.

Quantities of the same SKU are summed and capped at the most a line may hold;
SKUs new to the customer's cart are added while the cart has room. Whatever
does not fit is reported, never silently lost.

The merged cart keeps one currency: the customer's cart's if it has lines,
otherwise the guest cart's (an empty cart has no prices to keep consistent).
Guest lines that move into another currency must have a price in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from orderly.modules.cart.domain.cart import MAX_LINES, MAX_QUANTITY, Cart


class AdjustmentReason(StrEnum):
    QUANTITY_CAPPED = "quantity_capped"
    LINE_LIMIT = "line_limit"
    NOT_PRICED_IN_CURRENCY = "not_priced_in_currency"


@dataclass(frozen=True, slots=True)
class MergeAdjustment:
    """A guest line that could not move over as it was."""

    sku: str
    reason: AdjustmentReason
    requested: int
    kept: int


@dataclass(frozen=True, slots=True)
class MergedLine:
    """A line of the customer's cart as the merge leaves it."""

    sku: str
    quantity: int
    price_seen: Decimal | None


@dataclass(frozen=True, slots=True)
class MergePlan:
    currency: str
    # Only the lines the merge writes; the customer's other lines stay as they are.
    changes: tuple[MergedLine, ...]
    adjustments: tuple[MergeAdjustment, ...]


def merge_currency(*, guest: Cart, into: Cart | None) -> str:
    if into is not None and into.lines:
        return into.currency
    return guest.currency


def plan_merge(*, guest: Cart, into: Cart | None, prices: Mapping[str, Decimal]) -> MergePlan:
    """What merging ``guest`` into ``into`` (None: the customer has no cart yet) writes.

    ``prices`` are the catalog's current prices of the guest's SKUs in the
    merge currency; they are needed only when that currency is not the guest
    cart's, to re-price what the shopper saw and to leave out what has no price.
    """
    currency = merge_currency(guest=guest, into=into)
    same_currency = currency == guest.currency
    line_count = len(into.lines) if into is not None else 0
    changes: list[MergedLine] = []
    adjustments: list[MergeAdjustment] = []
    for line in guest.lines:
        existing = into.line(line.sku) if into is not None else None
        if not same_currency and line.sku not in prices:
            adjustments.append(
                MergeAdjustment(line.sku, AdjustmentReason.NOT_PRICED_IN_CURRENCY, line.quantity, 0)
            )
            continue
        if existing is None and line_count >= MAX_LINES:
            adjustments.append(MergeAdjustment(line.sku, AdjustmentReason.LINE_LIMIT, line.quantity, 0))
            continue
        requested = line.quantity + (existing.quantity if existing is not None else 0)
        quantity = min(requested, MAX_QUANTITY)
        if quantity < requested:
            adjustments.append(
                MergeAdjustment(line.sku, AdjustmentReason.QUANTITY_CAPPED, requested, quantity)
            )
        # The guest's view is the most recent one the shopper had of this SKU.
        seen = line.price_seen if same_currency else prices[line.sku]
        if seen is None and existing is not None:
            seen = existing.price_seen
        changes.append(MergedLine(line.sku, quantity, seen))
        if existing is None:
            line_count += 1
    return MergePlan(currency=currency, changes=tuple(changes), adjustments=tuple(adjustments))
