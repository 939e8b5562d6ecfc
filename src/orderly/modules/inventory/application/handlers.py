"""Inventory use cases."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from orderly.modules.inventory.application.ports import InventoryUnitOfWork
from orderly.modules.inventory.domain.model import StockItem


async def register_skus(*, product_id: uuid.UUID, skus: Sequence[str], uow: InventoryUnitOfWork) -> int:
    """Start tracking the SKUs of a new product. Runs inside the caller's unit of
    work (a consumer's, with its inbox); SKUs already tracked are left alone."""
    known = await uow.stock_items.existing(list(skus))
    new = [sku for sku in skus if sku not in known]
    for sku in new:
        await uow.stock_items.add(StockItem.register(sku=sku, product_id=product_id))
    return len(new)
