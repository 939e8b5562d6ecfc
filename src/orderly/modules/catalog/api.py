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


class CatalogApi(Protocol):
    async def variant_prices(self, skus: list[str]) -> dict[str, VariantPrice]:
        """Current price of each known SKU; unknown SKUs are absent from the result."""
        ...
