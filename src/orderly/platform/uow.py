"""Unit of work: one database transaction, the only place that commits.

Committing writes the events the touched aggregates recorded to the module's
outbox, and the ids of messages a consumer applied to its inbox, in the same
transaction as the state change. Either all of it is durable or none.

Ordering note (see docs/adr/0003 and ``platform.outbox``): right before the
outbox insert, commit takes a transaction-scoped lock per aggregate that has
events, so the outbox ``id`` of each aggregate's events follows commit order
whatever else the transaction wrote first. Inbox rows go in before those
locks, so a transaction never holds them while it waits on another's inbox
row.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Self

from sqlalchemy import Table, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orderly.platform import context
from orderly.platform.events import IntegrationEvent
from orderly.platform.outbox import lock_aggregates, outbox_rows
from orderly.shared_kernel.domain import AggregateRoot


class SqlUnitOfWork:
    """Base for each module's unit of work; subclasses attach repositories in ``_open``."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        outbox: Table,
        inbox: Table,
        partitions: int,
        isolation_level: str | None = None,
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._inbox = inbox
        self._partitions = partitions
        self._isolation_level = isolation_level
        self._connection: AsyncConnection | None = None
        self._seen: list[AggregateRoot] = []
        self._extra_events: list[IntegrationEvent] = []
        self._processed: list[tuple[str, uuid.UUID]] = []
        self.committed = False

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._connection

    async def __aenter__(self) -> Self:
        connection = await self._engine.connect()
        if self._isolation_level is not None:
            connection = await connection.execution_options(isolation_level=self._isolation_level)
        await connection.begin()
        self._connection = connection
        self._open(connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if connection.in_transaction():
                await connection.rollback()
        finally:
            await connection.close()

    def _open(self, connection: AsyncConnection) -> None:
        """Create repositories bound to ``connection``."""

    def track(self, aggregate: AggregateRoot) -> None:
        """Called by repositories for every aggregate they load or add."""
        if not any(seen is aggregate for seen in self._seen):
            self._seen.append(aggregate)

    def publish(self, event: IntegrationEvent) -> None:
        """Queue an event that belongs to no aggregate (for example a projection's)."""
        self._extra_events.append(event)

    async def already_processed(self, consumer: str, message_id: uuid.UUID) -> bool:
        query = select(self._inbox.c.message_id).where(
            self._inbox.c.consumer == consumer, self._inbox.c.message_id == message_id
        )
        return (await self.connection.scalar(query)) is not None

    async def claim_message(self, consumer: str, message_id: uuid.UUID) -> bool:
        """Write the inbox row for ``message_id`` now; False if the consumer already applied it.

        A concurrent transaction holding the same claim makes this wait for its
        outcome: if it commits, this returns False; if it rolls back, this claim
        goes through. The row commits or rolls back with the consumer's effect.
        """
        claim = (
            pg_insert(self._inbox)
            .values(consumer=consumer, message_id=message_id)
            .on_conflict_do_nothing()
            .returning(self._inbox.c.message_id)
        )
        return (await self.connection.scalar(claim)) is not None

    def mark_processed(self, consumer: str, message_id: uuid.UUID) -> None:
        self._processed.append((consumer, message_id))

    async def commit(self) -> None:
        connection = self.connection
        events: list[IntegrationEvent] = []
        for aggregate in self._seen:
            events.extend(e for e in aggregate.collect_events() if isinstance(e, IntegrationEvent))
        events.extend(self._extra_events)
        self._extra_events = []
        if self._processed:
            await connection.execute(
                insert(self._inbox),
                [{"consumer": c, "message_id": m} for c, m in self._processed],
            )
            self._processed = []
        if events:
            await lock_aggregates(connection, self._outbox, (e.aggregate_id for e in events))
            rows = outbox_rows(events, partitions=self._partitions, headers=context.headers())
            await connection.execute(insert(self._outbox), rows)
        await connection.commit()
        self.committed = True

    async def rollback(self) -> None:
        await self.connection.rollback()
