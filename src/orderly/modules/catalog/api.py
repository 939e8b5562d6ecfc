"""The catalog's facade: what other modules may ask it, synchronously."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class VariantPrice:
    sku: str
    product_id: uuid.UUID
    amount: Decimal
    currency: str
    # Only variants of published products may be sold.
    published: bool = True


class CatalogApi(Protocol):
    async def variant_prices(
        self, skus: list[str], *, currency: str | None = None
    ) -> dict[str, VariantPrice]:
        """Current price of each known SKU in ``currency`` (default: each variant's base
        price). SKUs the catalog does not know, or that have no price in that currency,
        are absent from the result. Amounts carry exactly the currency's decimals."""
        ...
