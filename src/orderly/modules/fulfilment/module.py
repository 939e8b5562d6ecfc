"""Wires fulfilment: tables, unit of work, routes, and the consumer that follows ordering."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from fastapi import APIRouter

from orderly.modules.fulfilment.adapters import tables
from orderly.modules.fulfilment.adapters.consumers import ORDER_EVENTS, ORDER_INTAKE, on_order_event
from orderly.modules.fulfilment.adapters.http import build_router
from orderly.modules.fulfilment.adapters.repository import FulfilmentSqlUnitOfWork
from orderly.platform.inbox import idempotent_consumer
from orderly.platform.messaging.port import Subscription
from orderly.platform.modules import BackgroundTask, ModuleContext


class FulfilmentModule:
    name: ClassVar[str] = "fulfilment"
    metadata = tables.metadata
    outbox = tables.outbox
    consumes: ClassVar[Sequence[tuple[str, tuple[str, ...]]]] = ((ORDER_INTAKE, ORDER_EVENTS),)

    def __init__(self, ctx: ModuleContext) -> None:
        self._ctx = ctx

    def unit_of_work(self) -> FulfilmentSqlUnitOfWork:
        return FulfilmentSqlUnitOfWork(
            self._ctx.engine,
            outbox=tables.outbox,
            inbox=tables.inbox,
            partitions=self._ctx.settings.outbox_partitions,
            isolation_level="READ COMMITTED",
        )

    def facade(self) -> None:
        return None

    def routers(self) -> Sequence[APIRouter]:
        return [build_router(uow_factory=self.unit_of_work)]

    def subscriptions(self) -> Sequence[Subscription]:
        return [
            Subscription(
                consumer=ORDER_INTAKE,
                event_types=ORDER_EVENTS,
                handler=idempotent_consumer(ORDER_INTAKE, self.unit_of_work, on_order_event),
            )
        ]

    def background_tasks(self) -> Sequence[BackgroundTask]:
        return []
