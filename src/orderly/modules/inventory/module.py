"""Wires the inventory module."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from fastapi import APIRouter

from orderly.modules.catalog.contracts import ProductCreated
from orderly.modules.inventory.adapters import tables
from orderly.modules.inventory.adapters.consumers import REGISTER_SKUS, on_product_created
from orderly.modules.inventory.adapters.facade import SqlInventoryApi
from orderly.modules.inventory.adapters.repository import InventorySqlUnitOfWork
from orderly.platform.inbox import idempotent_consumer
from orderly.platform.messaging.port import Subscription
from orderly.platform.modules import BackgroundTask, ModuleContext


class InventoryModule:
    name: ClassVar[str] = "inventory"
    metadata = tables.metadata
    outbox = tables.outbox
    consumes: ClassVar[Sequence[tuple[str, tuple[str, ...]]]] = (
        (REGISTER_SKUS, (ProductCreated.event_type,)),
    )

    def __init__(self, ctx: ModuleContext) -> None:
        self._ctx = ctx
        self._facade = SqlInventoryApi(ctx.engine)

    def unit_of_work(self) -> InventorySqlUnitOfWork:
        return InventorySqlUnitOfWork(
            self._ctx.engine,
            outbox=tables.outbox,
            inbox=tables.inbox,
            partitions=self._ctx.settings.outbox_partitions,
        )

    def facade(self) -> SqlInventoryApi:
        return self._facade

    def routers(self) -> Sequence[APIRouter]:
        return []

    def subscriptions(self) -> Sequence[Subscription]:
        return [
            Subscription(
                consumer=REGISTER_SKUS,
                event_types=(ProductCreated.event_type,),
                handler=idempotent_consumer(REGISTER_SKUS, self.unit_of_work, on_product_created),
            )
        ]

    def background_tasks(self) -> Sequence[BackgroundTask]:
        return []
