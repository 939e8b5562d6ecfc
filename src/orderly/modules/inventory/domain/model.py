"""Stock-keeping units known to inventory."""

from __future__ import annotations

import uuid
from datetime import datetime

from orderly.modules.inventory.contracts import SkuRegistered
from orderly.shared_kernel.domain import AggregateRoot, utcnow


class StockItem(AggregateRoot):
    """Stock of one SKU. Quantities and reservations arrive with the inventory issue."""

    def __init__(self, *, sku: str, product_id: uuid.UUID, registered_at: datetime, version: int) -> None:
        super().__init__()
        self.sku = sku
        self.product_id = product_id
        self.registered_at = registered_at
        self.version = version

    @classmethod
    def register(cls, *, sku: str, product_id: uuid.UUID) -> StockItem:
        item = cls(sku=sku, product_id=product_id, registered_at=utcnow(), version=1)
        item.record(SkuRegistered(aggregate_id=sku, sku=sku, product_id=str(product_id)))
        return item
