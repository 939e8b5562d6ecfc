"""The catalog and inventory facades as the cart sees them, in memory."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

from orderly.modules.catalog.api import VariantPrice
from orderly.modules.inventory.api import Availability


class FakeCatalog:
    """Prices per (SKU, currency); the first currency given for a SKU is its base price."""

    def __init__(self) -> None:
        self._prices: dict[str, dict[str, Decimal]] = {}
        self._off_sale: set[str] = set()
        self.product_id = uuid.uuid4()

    def add(self, sku: str, amount: str, currency: str = "EUR") -> None:
        self._prices.setdefault(sku, {})[currency] = Decimal(amount)

    def take_off_sale(self, sku: str) -> None:
        self._off_sale.add(sku)

    async def variant_prices(
        self, skus: list[str], *, currency: str | None = None
    ) -> dict[str, VariantPrice]:
        found: dict[str, VariantPrice] = {}
        for sku in skus:
            prices = self._prices.get(sku)
            if not prices:
                continue
            chosen = currency if currency is not None else next(iter(prices))
            if chosen not in prices:
                continue
            found[sku] = VariantPrice(
                sku=sku,
                product_id=self.product_id,
                amount=prices[chosen],
                currency=chosen,
                published=sku not in self._off_sale,
            )
        return found


class FakeInventory:
    def __init__(self) -> None:
        self.available: dict[str, int] = {}

    async def availability(self, skus: Sequence[str]) -> dict[str, Availability]:
        return {
            sku: Availability(sku=sku, on_hand=self.available[sku], reserved=0, available=self.available[sku])
            for sku in skus
            if sku in self.available
        }
