"""Wires the inventory: tables, unit of work, retry policy, queries, routes, facade, sweep."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from fastapi import APIRouter

from orderly.modules.catalog.contracts import ProductCreated
from orderly.modules.inventory.adapters import tables
from orderly.modules.inventory.adapters.consumers import (
    REGISTER_SKUS,
    RESTOCK_CANCELLED_ORDERS,
    on_order_cancelled,
    on_product_created,
)
from orderly.modules.inventory.adapters.facade import SqlInventoryApi
from orderly.modules.inventory.adapters.http import build_router
from orderly.modules.inventory.adapters.http_warehouses import build_warehouse_router
from orderly.modules.inventory.adapters.queries import SqlInventoryQueries
from orderly.modules.inventory.adapters.repository import InventorySqlUnitOfWork, is_transient_db_error
from orderly.modules.inventory.adapters.sweeper import ReservationSweeper
from orderly.modules.inventory.application.retry import RetryPolicy
from orderly.modules.ordering.contracts import OrderCancelled
from orderly.platform.inbox import idempotent_consumer
from orderly.platform.messaging.port import Subscription
from orderly.platform.modules import BackgroundTask, ModuleContext


class InventoryModule:
    name: ClassVar[str] = "inventory"
    metadata = tables.metadata
    outbox = tables.outbox
    consumes: ClassVar[Sequence[tuple[str, tuple[str, ...]]]] = (
        (REGISTER_SKUS, (ProductCreated.event_type,)),
        (RESTOCK_CANCELLED_ORDERS, (OrderCancelled.event_type,)),
    )

    def __init__(self, ctx: ModuleContext) -> None:
        self._ctx = ctx
        self.retry = RetryPolicy(is_transient=is_transient_db_error)
        self.queries = SqlInventoryQueries(ctx.engine)
        self.sweeper = ReservationSweeper(uow_factory=self.unit_of_work, retry=self.retry)
        self._facade = SqlInventoryApi(
            ctx.engine, uow_factory=self.unit_of_work, retry=self.retry, queries=self.queries
        )

    def unit_of_work(self) -> InventorySqlUnitOfWork:
        # READ COMMITTED, stated rather than inherited from the server's
        # default: the locking strategy of ADR 0010 relies on it.
        return InventorySqlUnitOfWork(
            self._ctx.engine,
            outbox=tables.outbox,
            inbox=tables.inbox,
            partitions=self._ctx.settings.outbox_partitions,
            isolation_level="READ COMMITTED",
        )

    def facade(self) -> SqlInventoryApi:
        return self._facade

    def routers(self) -> Sequence[APIRouter]:
        return [
            build_warehouse_router(uow_factory=self.unit_of_work, retry=self.retry, queries=self.queries),
            build_router(uow_factory=self.unit_of_work, retry=self.retry, queries=self.queries),
        ]

    def subscriptions(self) -> Sequence[Subscription]:
        return [
            Subscription(
                consumer=REGISTER_SKUS,
                event_types=(ProductCreated.event_type,),
                handler=idempotent_consumer(REGISTER_SKUS, self.unit_of_work, on_product_created),
            ),
            Subscription(
                consumer=RESTOCK_CANCELLED_ORDERS,
                event_types=(OrderCancelled.event_type,),
                handler=idempotent_consumer(RESTOCK_CANCELLED_ORDERS, self.unit_of_work, on_order_cancelled),
            ),
        ]

    def background_tasks(self) -> Sequence[BackgroundTask]:
        return [self.sweeper.run_forever]
