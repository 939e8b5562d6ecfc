"""Transactional outbox: the table each module writes its events to, and the relay.

Ordering and the late-commit pitfall
------------------------------------
Rows carry the writing transaction's id (``xid8``) and the relay only reads
rows whose transaction id is below the oldest transaction still running
(``pg_snapshot_xmin(pg_current_snapshot())``). A row of a transaction that is
still open, or committed after a row with a larger id, is therefore never
skipped: it becomes visible together with everything that sorts after it.
Rows are published ordered by ``(xid, id)``.

Several relays run at once by splitting the outbox into partitions
(``crc32(aggregate_id) % N``) and holding a transaction-scoped advisory lock
per partition while publishing it, so the events of one aggregate are always
published by one relay at a time, in order. See docs/adr/0003.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    SmallInteger,
    String,
    Table,
    Uuid,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orderly.platform.db import XID8
from orderly.platform.events import IntegrationEvent, Message, to_payload
from orderly.platform.messaging.port import MessageBus

log = structlog.get_logger(module="platform.outbox")


def outbox_table(metadata: MetaData) -> Table:
    """The outbox of one module, created inside that module's schema."""
    table = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("event_type", String(200), nullable=False),
        Column("aggregate_type", String(100), nullable=False),
        Column("aggregate_id", String(100), nullable=False),
        Column("partition", SmallInteger, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("xid", XID8, nullable=False, server_default=text("pg_current_xact_id()")),
        Column("published_at", DateTime(timezone=True), nullable=True),
    )
    Index(
        "ix_outbox_unpublished",
        table.c.partition,
        table.c.xid,
        table.c.id,
        postgresql_where=table.c.published_at.is_(None),
    )
    Index(
        "ix_outbox_published_at",
        table.c.published_at,
        postgresql_where=table.c.published_at.is_not(None),
    )
    return table


def partition_of(aggregate_id: str, partitions: int) -> int:
    return zlib.crc32(aggregate_id.encode()) % partitions


def outbox_rows(
    events: Sequence[IntegrationEvent], *, partitions: int, headers: dict[str, str]
) -> list[dict[str, object]]:
    return [
        {
            "event_id": event.event_id,
            "event_type": event.event_type,
            "aggregate_type": event.aggregate_type,
            "aggregate_id": event.aggregate_id,
            "partition": partition_of(event.aggregate_id, partitions),
            "payload": to_payload(event),
            "headers": headers,
            "occurred_at": event.occurred_at,
        }
        for event in events
    ]


@dataclass(frozen=True)
class RelayStats:
    published: int
    partitions_busy: int


class OutboxRelay:
    """Moves committed outbox rows to the message bus, at least once, in order."""

    def __init__(
        self,
        engine: AsyncEngine,
        bus: MessageBus,
        outboxes: Sequence[Table],
        *,
        batch_size: int,
        poll_interval_s: float,
    ) -> None:
        self._engine = engine
        self._bus = bus
        self._outboxes = list(outboxes)
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Hint that rows were just committed (in-process callers)."""
        self._wakeup.set()

    async def run_once(self) -> RelayStats:
        """One pass over every partition that has publishable rows."""
        published = busy = 0
        for outbox in self._outboxes:
            for partition in await self._pending_partitions(outbox):
                count = await self._publish_partition(outbox, partition)
                if count is None:
                    busy += 1
                else:
                    published += count
        return RelayStats(published=published, partitions_busy=busy)

    async def drain(self, *, max_passes: int = 1000) -> int:
        """Publish until nothing is left (used by tests and at shutdown)."""
        total = 0
        for _ in range(max_passes):
            stats = await self.run_once()
            total += stats.published
            if stats.published == 0 and stats.partitions_busy == 0:
                break
        return total

    async def run_forever(self, stop: asyncio.Event) -> None:
        log.info("relay started", outboxes=[t.fullname for t in self._outboxes])
        failures = 0
        while not stop.is_set():
            try:
                stats = await self.run_once()
                failures = 0
            except Exception:
                failures += 1
                delay = min(30.0, 0.5 * 2**failures) * random.uniform(0.5, 1.0)
                log.exception("relay pass failed", retry_in_s=round(delay, 2))
                await _sleep_or_stop(stop, delay)
                continue
            if stats.published >= self._batch_size:
                continue
            self._wakeup.clear()
            wait = asyncio.create_task(self._wakeup.wait())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait(
                {wait, stopped}, timeout=self._poll_interval_s, return_when=asyncio.FIRST_COMPLETED
            )
            wait.cancel()
            stopped.cancel()
        log.info("relay stopped")

    async def _pending_partitions(self, outbox: Table) -> list[int]:
        query = (
            select(outbox.c.partition)
            .where(outbox.c.published_at.is_(None))
            .where(outbox.c.xid < func.pg_snapshot_xmin(func.pg_current_snapshot()))
            .distinct()
        )
        async with self._engine.connect() as conn:
            partitions = list((await conn.execute(query)).scalars())
        random.shuffle(partitions)
        return partitions

    async def _publish_partition(self, outbox: Table, partition: int) -> int | None:
        async with self._engine.connect() as conn, conn.begin():
            if not await _try_lock(conn, outbox, partition):
                return None
            rows = (
                await conn.execute(
                    select(
                        outbox.c.id,
                        outbox.c.event_id,
                        outbox.c.event_type,
                        outbox.c.aggregate_id,
                        outbox.c.occurred_at,
                        outbox.c.payload,
                        outbox.c.headers,
                    )
                    .where(outbox.c.partition == partition)
                    .where(outbox.c.published_at.is_(None))
                    .where(outbox.c.xid < func.pg_snapshot_xmin(func.pg_current_snapshot()))
                    .order_by(outbox.c.xid, outbox.c.id)
                    .limit(self._batch_size)
                )
            ).all()
            if not rows:
                return 0
            messages = [
                Message(
                    message_id=row.event_id,
                    event_type=row.event_type,
                    aggregate_id=row.aggregate_id,
                    occurred_at=row.occurred_at,
                    payload=row.payload,
                    headers=row.headers,
                )
                for row in rows
            ]
            await self._bus.publish(messages)
            await self._after_publish_hook()
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([row.id for row in rows]))
                .values(published_at=func.now())
            )
        return len(rows)

    async def _after_publish_hook(self) -> None:
        """Crash point between "published" and "marked published" (tests override it)."""


async def _try_lock(conn: AsyncConnection, outbox: Table, partition: int) -> bool:
    key = zlib.crc32(f"orderly.outbox:{outbox.fullname}:{partition}".encode())
    locked = await conn.scalar(select(func.pg_try_advisory_xact_lock(key)))
    return bool(locked)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
