"""Scratch tables, a unit of work and helpers for the outbox/inbox/bus tests.

Each test gets a schema of its own (outbox, inbox, a row per aggregate holding
its version, and an effects table with no uniqueness at all, so a consumer
effect applied twice shows up as two rows). The schema is dropped afterwards,
and the RabbitMQ names a test used are deleted.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import ClassVar

import aio_pika
from sqlalchemy import (
    BigInteger,
    Column,
    Identity,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.db import module_metadata
from orderly.platform.events import IntegrationEvent, Message, from_message, to_payload
from orderly.platform.inbox import inbox_table
from orderly.platform.messaging.port import MessageBus, Subscription
from orderly.platform.messaging.rabbitmq import RabbitMQBus
from orderly.platform.outbox import outbox_table
from orderly.platform.uow import SqlUnitOfWork

DEFAULT_PARTITIONS = 4


@dataclass(frozen=True, kw_only=True)
class CounterBumped(IntegrationEvent):
    """The one event these tests write: aggregate ``aggregate_id`` reached ``version``."""

    event_type: ClassVar[str] = "test.counter_bumped.v1"
    aggregate_type: ClassVar[str] = "test.counter"
    version: int
    poison: bool = False


@dataclass(frozen=True)
class MessagingTables:
    schema: str
    metadata: MetaData
    outbox: Table
    inbox: Table
    aggregates: Table
    effects: Table


def messaging_tables(schema: str) -> MessagingTables:
    """The table objects of one scratch schema (also used by the crash-relay subprocess)."""
    metadata = module_metadata(schema)
    aggregates = Table(
        "aggregates",
        metadata,
        Column("id", String(100), primary_key=True),
        Column("version", Integer, nullable=False, server_default=text("0")),
    )
    effects = Table(
        "effects",
        metadata,
        Column("seq", BigInteger, Identity(always=True), primary_key=True),
        Column("consumer", String(200), nullable=False),
        Column("message_id", Uuid, nullable=False),
        Column("aggregate_id", String(100), nullable=False),
        Column("version", Integer, nullable=False),
    )
    return MessagingTables(
        schema=schema,
        metadata=metadata,
        outbox=outbox_table(metadata),
        inbox=inbox_table(metadata),
        aggregates=aggregates,
        effects=effects,
    )


@asynccontextmanager
async def scratch_schema(
    engine: AsyncEngine, *, aggregate_ids: Iterable[str] = ()
) -> AsyncIterator[MessagingTables]:
    """Create a fresh schema with the messaging tables; drop it on the way out."""
    tables = messaging_tables(f"msg_{uuid.uuid4().hex[:10]}")
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{tables.schema}"'))
        await conn.run_sync(tables.metadata.create_all)
        ids = list(aggregate_ids)
        if ids:
            await conn.execute(insert(tables.aggregates), [{"id": a} for a in ids])
    try:
        yield tables
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{tables.schema}" CASCADE'))


class MessagingUnitOfWork(SqlUnitOfWork):
    """The scratch schema's unit of work: bump an aggregate, record a consumer effect."""

    def __init__(
        self, engine: AsyncEngine, tables: MessagingTables, *, partitions: int = DEFAULT_PARTITIONS
    ) -> None:
        super().__init__(engine, outbox=tables.outbox, inbox=tables.inbox, partitions=partitions)
        self.tables = tables

    async def bump(self, aggregate_id: str) -> int:
        """Increment the aggregate's version under its row lock; the version is its commit order."""
        aggregates = self.tables.aggregates
        version = await self.connection.scalar(
            update(aggregates)
            .where(aggregates.c.id == aggregate_id)
            .values(version=aggregates.c.version + 1)
            .returning(aggregates.c.version)
        )
        if version is None:
            raise LookupError(f"no aggregate {aggregate_id!r}")
        return int(version)

    async def bump_and_publish(self, aggregate_id: str, *, poison: bool = False) -> CounterBumped:
        version = await self.bump(aggregate_id)
        event = CounterBumped(aggregate_id=aggregate_id, version=version, poison=poison)
        self.publish(event)
        return event

    async def create_aggregate(self, aggregate_id: str) -> None:
        """An effect with a natural key of its own (a second insert is a unique violation)."""
        await self.connection.execute(insert(self.tables.aggregates).values(id=aggregate_id))

    async def record_effect(self, consumer: str, message: Message) -> None:
        event = from_message(CounterBumped, message)
        await self.connection.execute(
            insert(self.tables.effects).values(
                consumer=consumer,
                message_id=message.message_id,
                aggregate_id=event.aggregate_id,
                version=event.version,
            )
        )


def message_of(event: IntegrationEvent, **headers: str) -> Message:
    """The message the relay would publish for ``event``."""
    return Message(
        message_id=event.event_id,
        event_type=event.event_type,
        aggregate_id=event.aggregate_id,
        occurred_at=event.occurred_at,
        payload=to_payload(event),
        headers=headers,
    )


async def commit_events(
    engine: AsyncEngine, tables: MessagingTables, aggregate_ids: Sequence[str], **kw: bool
) -> list[CounterBumped]:
    """One transaction that bumps each aggregate in turn and commits an event per bump."""
    async with MessagingUnitOfWork(engine, tables) as uow:
        events = [await uow.bump_and_publish(a, **kw) for a in aggregate_ids]
        await uow.commit()
    return events


async def effects_by_message(engine: AsyncEngine, tables: MessagingTables) -> dict[uuid.UUID, int]:
    effects = tables.effects
    async with engine.connect() as conn:
        rows = await conn.execute(select(effects.c.message_id, func.count()).group_by(effects.c.message_id))
        return {row[0]: int(row[1]) for row in rows}


async def unpublished_count(engine: AsyncEngine, tables: MessagingTables) -> int:
    outbox = tables.outbox
    async with engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
    return int(count or 0)


async def wait_until(
    condition: Callable[[], Awaitable[bool]],
    *,
    timeout_s: float,
    what: str | Callable[[], str],
    interval_s: float = 0.02,
) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` once ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout_s}s waiting for {detail}")
        await asyncio.sleep(interval_s)


class CountingBus:
    """Passes everything on to ``inner``; counts what it published, and the last batch."""

    def __init__(self, inner: MessageBus) -> None:
        self.inner = inner
        self.published = 0
        self.last_batch = 0

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def check(self) -> None:
        await self.inner.check()

    async def declare(self, subscriptions: Sequence[Subscription]) -> None:
        await self.inner.declare(subscriptions)

    async def consume(self, subscriptions: Sequence[Subscription]) -> None:
        await self.inner.consume(subscriptions)

    async def publish(self, messages: Sequence[Message]) -> None:
        await self.inner.publish(messages)
        self.published += len(messages)
        self.last_batch = len(messages)


@dataclass(frozen=True)
class BrokerNames:
    """The exchange and queue names of one test (see the ``unique_prefix`` fixture)."""

    prefix: str

    @property
    def exchange(self) -> str:
        return f"{self.prefix}.events"

    def bus(self, broker_url: str, **kw: int | float) -> RabbitMQBus:
        return RabbitMQBus(
            broker_url,
            exchange=self.exchange,
            queue_prefix=self.prefix,
            **kw,  # type: ignore[arg-type]
        )


async def queue_depth(broker_url: str, queue: str) -> int:
    """Messages ready in ``queue`` (not counting deliveries a consumer holds unacked)."""
    connection = await aio_pika.connect(broker_url, timeout=5)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)
    finally:
        await connection.close()


async def drain_queue(
    broker_url: str, queue: str, *, limit: int = 100
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Take (and ack) every message ready in ``queue``, at most ``limit``."""
    taken: list[aio_pika.abc.AbstractIncomingMessage] = []
    connection = await aio_pika.connect(broker_url, timeout=5)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        for _ in range(limit):
            incoming = await declared.get(no_ack=True, fail=False, timeout=5)
            if incoming is None:
                break
            taken.append(incoming)
    finally:
        await connection.close()
    return taken


async def delete_broker_names(broker_url: str, names: BrokerNames, consumers: Iterable[str]) -> None:
    """Remove what a test declared (deleting a name never declared is a no-op for RabbitMQ)."""
    connection = await aio_pika.connect(broker_url, timeout=5)
    try:
        channel = await connection.channel()
        for consumer in consumers:
            queue = f"{names.prefix}.{consumer}"
            await channel.queue_delete(queue)
            await channel.queue_delete(f"{queue}.dlq")
        await channel.exchange_delete(names.exchange)
        await channel.exchange_delete(f"{names.exchange}.dlx")
    finally:
        await connection.close()


@asynccontextmanager
async def broker_names(broker_url: str, prefix: str, consumers: Iterable[str]) -> AsyncIterator[BrokerNames]:
    names = BrokerNames(prefix)
    try:
        yield names
    finally:
        await delete_broker_names(broker_url, names, list(consumers))
