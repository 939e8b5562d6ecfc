"""Transactional outbox: the table each module writes its events to, and the relay.

Ordering and the late-commit pitfall
------------------------------------
The relay never keeps a cursor: it reads every row with ``published_at IS
NULL``, so a row committed late (with a smaller ``id`` than rows already
published) is still picked up on the next pass. Nothing can be skipped.

What it promises is order per aggregate, and that order is made at commit
time, not read from transaction ids. When a unit of work commits, it takes a
transaction-scoped advisory lock per aggregate it wrote events for (in one
sorted order, so two committers cannot deadlock) and only then inserts its
outbox rows, whose identity ``id`` is drawn under that lock. The next
transaction with events for the same aggregate waits for the lock, which is
released only after the first commit is visible, so per aggregate ``id``
order is commit order, and a row is never visible before the rows that
precede it in its aggregate. The relay publishes in ``id`` order. (This needs
the identity sequence to keep its default ``CACHE 1``: with cached ranges,
sessions would hand out ids out of the order they drew them.)

Why not ``ORDER BY xid`` with ``xid < pg_snapshot_xmin(...)``: a transaction
id is assigned at a transaction's first write or row lock, which can come
long before the transaction reaches the aggregate it then waits for. A
transaction that bumps aggregate A, then waits for B behind a younger
transaction, commits its B event after the younger one but carries the older
xid, so xid order is not commit order. The xmin filter makes it worse: with
an unrelated transaction open between the two xids it publishes the later
event and holds back the earlier. ``xid`` is still stored (it says which
transaction wrote a row).

Several relays run at once by splitting the outbox into partitions
(``crc32(aggregate_id) % N``) and holding a transaction-scoped advisory lock
per partition while publishing it, so the events of one aggregate are always
published by one relay at a time, in order. See docs/adr/0003.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Uuid,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orderly.platform.db import XID8
from orderly.platform.events import IntegrationEvent, Message, to_payload
from orderly.platform.messaging.port import MessageBus
from orderly.platform.observability.metrics import OUTBOX_RELAY_ERRORS
from orderly.platform.observability.relay import OutboxBacklog, publishing

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


def _int4(value: int) -> int:
    """A crc32 as the signed 32-bit integer PostgreSQL's lock functions take."""
    return value - 2**32 if value >= 2**31 else value


# The two-int4 advisory lock space is distinct from the bigint one the relay's
# partition locks use, so commit locks and relay locks never collide.
_LOCK_AGGREGATES = text(
    "SELECT count(pg_advisory_xact_lock(:namespace, key)) FROM unnest(:keys) AS key"
).bindparams(bindparam("namespace", type_=Integer), bindparam("keys", type_=ARRAY(Integer)))


async def lock_aggregates(conn: AsyncConnection, outbox: Table, aggregate_ids: Iterable[str]) -> None:
    """Serialise, per aggregate, the commits that write events to ``outbox``.

    Called right before the outbox insert and held until commit: the rows'
    ``id`` then follows commit order per aggregate (see the module docstring).
    Keys are taken in ascending order in one statement, so committers never
    deadlock on each other; a hash collision only costs a little waiting.
    """
    keys = sorted({_int4(zlib.crc32(a.encode())) for a in aggregate_ids})
    if not keys:
        return
    namespace = _int4(zlib.crc32(f"orderly.outbox.commit:{outbox.fullname}".encode()))
    await conn.execute(_LOCK_AGGREGATES, {"namespace": namespace, "keys": keys})


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
        self.backlog = OutboxBacklog(engine, self._outboxes)

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
            if stats.published == 0:
                # Another relay holds what is left; give it time instead of spinning.
                await asyncio.sleep(self._poll_interval_s)
        return total

    async def run_forever(self, stop: asyncio.Event) -> None:
        log.info("relay started", outboxes=[t.fullname for t in self._outboxes])
        failures = 0
        while not stop.is_set():
            # Sampled on failing passes too: a broker outage is when the backlog matters.
            await self.backlog.maybe_sample()
            try:
                stats = await self.run_once()
                failures = 0
            except Exception:
                OUTBOX_RELAY_ERRORS.inc()
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
        query = select(outbox.c.partition).where(outbox.c.published_at.is_(None)).distinct()
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
                    .order_by(outbox.c.id)
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
            with publishing(outbox, partition, messages):
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
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
