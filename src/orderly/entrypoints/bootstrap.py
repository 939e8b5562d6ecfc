"""The composition root: builds the infrastructure and the chosen modules once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import redis.asyncio as aioredis
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.entrypoints import registry
from orderly.platform.db import create_engine
from orderly.platform.messaging.inprocess import InProcessBus
from orderly.platform.messaging.port import MessageBus, Subscription
from orderly.platform.messaging.rabbitmq import RabbitMQBus
from orderly.platform.modules import Module, ModuleContext
from orderly.platform.outbox import OutboxRelay
from orderly.platform.redis import create_redis
from orderly.platform.retention import RetentionConfig, RetentionPruner
from orderly.platform.settings import Settings

log = structlog.get_logger(module="bootstrap")


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    bus: MessageBus
    redis: aioredis.Redis
    modules: list[Module]
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def in_process_bus(self) -> bool:
        return isinstance(self.bus, InProcessBus)

    def relay(self) -> OutboxRelay:
        return OutboxRelay(
            self.engine,
            self.bus,
            [module.outbox for module in self.modules if module.outbox is not None],
            batch_size=self.settings.relay_batch_size,
            poll_interval_s=self.settings.relay_poll_interval_s,
        )

    def subscriptions(self) -> list[Subscription]:
        return [s for module in self.modules for s in module.subscriptions()]

    async def start(self) -> None:
        await self.bus.start()
        # Every process declares the whole topology, so an event published
        # before its consumer first ran still finds its queue.
        await self.bus.declare(
            [
                Subscription(consumer=consumer, event_types=types, handler=_never)
                for module in registry.MODULES.values()
                for consumer, types in module.consumes
            ]
        )

    async def start_consumers(self) -> None:
        await self.bus.consume(self.subscriptions())

    def retention(self) -> RetentionPruner:
        return RetentionPruner(
            self.engine,
            [registry.MODULES[module.name].metadata for module in self.modules],
            RetentionConfig.from_settings(self.settings),
        )

    def start_background_tasks(self) -> None:
        for module in self.modules:
            for task in module.background_tasks():
                self._tasks.append(asyncio.create_task(task(self._stop)))
        # The platform's housekeeping runs beside the modules' own sweeps.
        self._tasks.append(asyncio.create_task(self.retention().run(self._stop)))

    def start_relay(self) -> OutboxRelay:
        relay = self.relay()
        self._tasks.append(asyncio.create_task(relay.run_forever(self._stop)))
        return relay

    async def close(self) -> None:
        self._stop.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        await self.bus.close()
        await self.redis.aclose()
        await self.engine.dispose()

    async def check_database(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def check_redis(self) -> None:
        await self.redis.ping()


async def _never(_: object) -> None:  # pragma: no cover - declaration only
    raise RuntimeError("declaration-only subscription")


def build_container(
    settings: Settings,
    *,
    database_url: str,
    module_names: list[str] | None = None,
    bus: MessageBus | None = None,
    redis: aioredis.Redis | None = None,
) -> Container:
    engine = create_engine(settings, database_url)
    if bus is None:
        bus = (
            RabbitMQBus(
                settings.broker_url,
                exchange=settings.exchange_name,
                queue_prefix=settings.queue_prefix,
                delivery_limit=settings.consumer_delivery_limit,
                prefetch=settings.consumer_prefetch,
            )
            if settings.broker_url
            else InProcessBus(delivery_limit=settings.consumer_delivery_limit)
        )
    redis_client = redis if redis is not None else create_redis(settings.redis_url)
    ctx = ModuleContext(settings=settings, engine=engine, bus=bus, redis=redis_client)
    modules: list[Module] = []
    for module_class in registry.resolve(module_names):
        module = module_class(ctx)
        ctx.facades[module.name] = module.facade()
        modules.append(module)
    log.info("container built", modules=[m.name for m in modules], bus=type(bus).__name__)
    return Container(settings=settings, engine=engine, bus=bus, redis=redis_client, modules=modules)
