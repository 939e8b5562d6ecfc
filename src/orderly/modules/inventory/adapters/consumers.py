"""Reactions to other modules' integration events."""

from __future__ import annotations

import uuid

from orderly.modules.catalog.contracts import ProductCreated
from orderly.modules.inventory.adapters.repository import InventorySqlUnitOfWork
from orderly.modules.inventory.application.handlers import register_skus
from orderly.platform.events import Message, from_message

REGISTER_SKUS = "inventory.register-skus"


async def on_product_created(message: Message, uow: InventorySqlUnitOfWork) -> None:
    event = from_message(ProductCreated, message)
    await register_skus(product_id=uuid.UUID(event.product_id), skus=[v.sku for v in event.variants], uow=uow)
