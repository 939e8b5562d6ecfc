"""Reactions to other modules' integration events."""

from __future__ import annotations

import uuid

from orderly.modules.catalog.contracts import ProductCreated
from orderly.modules.inventory.adapters.repository import InventorySqlUnitOfWork
from orderly.modules.inventory.application.handlers import register_skus, restock_cancelled_order
from orderly.modules.ordering.contracts import OrderCancelled
from orderly.platform.events import Message, from_message

REGISTER_SKUS = "inventory.register-skus"
RESTOCK_CANCELLED_ORDERS = "inventory.restock-cancelled-orders"


async def on_product_created(message: Message, uow: InventorySqlUnitOfWork) -> None:
    event = from_message(ProductCreated, message)
    await register_skus(product_id=uuid.UUID(event.product_id), skus=[v.sku for v in event.variants], uow=uow)


async def on_order_cancelled(message: Message, uow: InventorySqlUnitOfWork) -> None:
    event = from_message(OrderCancelled, message)
    if not event.restock:
        return
    await restock_cancelled_order(
        reference=event.order_id,
        lines=[(line.sku, line.quantity) for line in event.restock],
        note=f"order {event.order_id} cancelled ({event.reason})",
        uow=uow,
    )
