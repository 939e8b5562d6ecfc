"""Retention on the real PostgreSQL: which outbox and inbox rows go, in what batches, and by whom."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import ColumnElement, Table, event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.inbox import idempotent_consumer
from orderly.platform.retention import RetentionConfig, RetentionPruner, lock_key
from tests.support.messaging import (
    CounterBumped,
    MessagingTables,
    MessagingUnitOfWork,
    effects_by_message,
    message_of,
    scratch_schema,
    wait_until,
)
from tests.support.observability import sample

DAY = timedelta(days=1)
CONFIG = RetentionConfig(outbox_retention=7 * DAY, inbox_retention=14 * DAY, batch_size=1000, max_batches=100)
CONSUMER = "test.retention"


@pytest.fixture
async def tables(engine: AsyncEngine) -> AsyncIterator[MessagingTables]:
    async with scratch_schema(engine, aggregate_ids=["agg-a"]) as tables:
        yield tables


def pruner(engine: AsyncEngine, tables: MessagingTables, **config: Any) -> RetentionPruner:
    return RetentionPruner(engine, [tables.metadata], replace(CONFIG, **config))


def _ago(age: timedelta) -> datetime:
    return datetime.now(UTC) - age


async def add_outbox_rows(
    engine: AsyncEngine,
    tables: MessagingTables,
    count: int,
    *,
    published: timedelta | None,
    occurred: timedelta,
) -> None:
    """``count`` rows that occurred ``occurred`` ago, published ``published`` ago (None: not yet)."""
    rows: list[dict[str, Any]] = [
        {
            "event_id": uuid.uuid4(),
            "event_type": CounterBumped.event_type,
            "aggregate_type": CounterBumped.aggregate_type,
            "aggregate_id": f"agg-{n}",
            "partition": 0,
            "payload": {},
            "occurred_at": _ago(occurred),
            "published_at": None if published is None else _ago(published),
        }
        for n in range(count)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(tables.outbox), rows)


async def add_inbox_rows(
    engine: AsyncEngine, tables: MessagingTables, count: int, *, processed: timedelta
) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    rows = [{"consumer": CONSUMER, "message_id": i, "processed_at": _ago(processed)} for i in ids]
    async with engine.begin() as conn:
        await conn.execute(insert(tables.inbox), rows)
    return ids


async def count(engine: AsyncEngine, table: Table, *where: ColumnElement[bool]) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)


class Deletes:
    """The DELETEs an engine ran: each one's row count, in order, and the most in flight at once."""

    def __init__(self) -> None:
        self.counts: list[int] = []
        self.most_at_once = 0
        self._in_flight = 0

    def started(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if _is_delete(statement):
            self._in_flight += 1
            self.most_at_once = max(self.most_at_once, self._in_flight)

    def finished(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if _is_delete(statement):
            self._in_flight -= 1
            self.counts.append(cursor.rowcount)


def _is_delete(statement: str) -> bool:
    return statement.lstrip().upper().startswith("DELETE")


@contextmanager
def deletes_seen(engine: AsyncEngine) -> Iterator[Deletes]:
    deletes = Deletes()
    event.listen(engine.sync_engine, "before_cursor_execute", deletes.started)
    event.listen(engine.sync_engine, "after_cursor_execute", deletes.finished)
    try:
        yield deletes
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", deletes.started)
        event.remove(engine.sync_engine, "after_cursor_execute", deletes.finished)


class TestOutbox:
    async def test_published_rows_past_retention_are_deleted(
        self, engine: AsyncEngine, tables: MessagingTables
    ) -> None:
        await add_outbox_rows(engine, tables, 3, published=8 * DAY, occurred=8 * DAY)

        report = await pruner(engine, tables).prune_once()

        assert report[tables.schema].deleted["outbox"] == 3
        assert await count(engine, tables.outbox) == 0

    async def test_unpublished_rows_are_kept_however_old(
        self, engine: AsyncEngine, tables: MessagingTables
    ) -> None:
        await add_outbox_rows(engine, tables, 3, published=None, occurred=365 * DAY)

        report = await pruner(engine, tables).prune_once()

        assert report[tables.schema].deleted["outbox"] == 0
        assert await count(engine, tables.outbox, tables.outbox.c.published_at.is_(None)) == 3

    async def test_rows_published_within_retention_are_kept_even_if_they_occurred_long_ago(
        self, engine: AsyncEngine, tables: MessagingTables
    ) -> None:
        # Retention runs from publication: a row that waited out an outage is kept its full week.
        await add_outbox_rows(engine, tables, 2, published=6 * DAY, occurred=30 * DAY)
        await add_outbox_rows(engine, tables, 1, published=8 * DAY, occurred=8 * DAY)

        report = await pruner(engine, tables).prune_once()

        assert report[tables.schema].deleted["outbox"] == 1
        assert await count(engine, tables.outbox) == 2


class TestInbox:
    async def test_rows_past_retention_are_deleted_and_recent_ones_kept(
        self, engine: AsyncEngine, tables: MessagingTables
    ) -> None:
        await add_inbox_rows(engine, tables, 4, processed=15 * DAY)
        recent = await add_inbox_rows(engine, tables, 2, processed=13 * DAY)

        report = await pruner(engine, tables).prune_once()

        assert report[tables.schema].deleted["inbox"] == 4
        async with engine.connect() as conn:
            kept = set((await conn.execute(select(tables.inbox.c.message_id))).scalars())
        assert kept == set(recent)

    async def test_a_redelivery_within_retention_is_still_dropped_as_a_duplicate(
        self, engine: AsyncEngine, tables: MessagingTables
    ) -> None:
        handler = self._consumer(engine, tables)
        message = message_of(CounterBumped(aggregate_id="agg-a", version=1))
        await handler(message)
        await self._age_inbox(engine, tables, 13 * DAY)

        await pruner(engine, tables).prune_once()
        await handler(message)

        assert (await effects_by_message(engine, tables))[message.message_id] == 1

    async def test_a_redelivery_after_its_row_was_pruned_is_applied_again(
        self, engine: AsyncEngine, tables: MessagingTables
    ) -> None:
        # Why the inbox retention must outlast every way a message can come back.
        handler = self._consumer(engine, tables)
        message = message_of(CounterBumped(aggregate_id="agg-a", version=1))
        await handler(message)
        await self._age_inbox(engine, tables, 15 * DAY)

        await pruner(engine, tables).prune_once()
        await handler(message)

        assert (await effects_by_message(engine, tables))[message.message_id] == 2

    @staticmethod
    def _consumer(engine: AsyncEngine, tables: MessagingTables) -> Any:
        async def apply(message: Any, uow: MessagingUnitOfWork) -> None:
            await uow.record_effect(CONSUMER, message)

        return idempotent_consumer(CONSUMER, lambda: MessagingUnitOfWork(engine, tables), apply)

    @staticmethod
    async def _age_inbox(engine: AsyncEngine, tables: MessagingTables, age: timedelta) -> None:
        async with engine.begin() as conn:
            await conn.execute(tables.inbox.update().values(processed_at=_ago(age)))


class TestBatches:
    async def test_each_delete_removes_at_most_one_batch(
        self, engine: AsyncEngine, tables: MessagingTables
    ) -> None:
        await add_outbox_rows(engine, tables, 2500, published=8 * DAY, occurred=8 * DAY)

        with deletes_seen(engine) as deletes:
            report = await pruner(engine, tables, batch_size=1000).prune_once()

        # Three outbox batches, then one empty inbox batch.
        assert deletes.counts == [1000, 1000, 500, 0]
        assert report[tables.schema].deleted == {"outbox": 2500, "inbox": 0}

    async def test_a_pass_stops_after_max_batches_and_the_next_one_goes_on(
        self, engine: AsyncEngine, tables: MessagingTables
    ) -> None:
        await add_inbox_rows(engine, tables, 250, processed=15 * DAY)
        bounded = pruner(engine, tables, batch_size=100, max_batches=2)

        first = await bounded.prune_once()
        second = await bounded.prune_once()

        assert first[tables.schema].deleted["inbox"] == 200
        assert second[tables.schema].deleted["inbox"] == 50
        assert await count(engine, tables.inbox) == 0

    async def test_deleted_rows_are_counted_per_module_and_table(
        self, engine: AsyncEngine, tables: MessagingTables
    ) -> None:
        await add_outbox_rows(engine, tables, 5, published=8 * DAY, occurred=8 * DAY)
        await add_inbox_rows(engine, tables, 3, processed=15 * DAY)

        await pruner(engine, tables).prune_once()

        name = "orderly_retention_pruned_total"
        assert sample(name, module=tables.schema, table="outbox") == 5
        assert sample(name, module=tables.schema, table="inbox") == 3


class TestSeveralProcesses:
    async def test_two_pruners_at_once_delete_each_row_once_and_neither_fails(
        self, engine: AsyncEngine, tables: MessagingTables
    ) -> None:
        await add_outbox_rows(engine, tables, 3000, published=8 * DAY, occurred=8 * DAY)
        await add_outbox_rows(engine, tables, 50, published=None, occurred=30 * DAY)
        await add_inbox_rows(engine, tables, 3000, processed=15 * DAY)
        first, second = pruner(engine, tables, batch_size=100), pruner(engine, tables, batch_size=100)

        with deletes_seen(engine) as deletes:
            reports = await asyncio.gather(first.prune_once(), second.prune_once())

        both = [report[tables.schema] for report in reports]
        assert sum(p.deleted.get("outbox", 0) for p in both) == 3000
        assert sum(p.deleted.get("inbox", 0) for p in both) == 3000
        # The module lock lets one batch run at a time: no DELETE ever waited on
        # another's rows only to find them gone.
        assert deletes.most_at_once == 1
        assert await count(engine, tables.outbox) == 50
        assert await count(engine, tables.inbox) == 0

    async def test_a_module_another_process_is_pruning_is_left_to_it(
        self, engine: AsyncEngine, tables: MessagingTables
    ) -> None:
        await add_outbox_rows(engine, tables, 3, published=8 * DAY, occurred=8 * DAY)

        async with engine.begin() as other_process:
            await other_process.execute(select(func.pg_advisory_xact_lock(lock_key(tables.schema))))
            report = await pruner(engine, tables).prune_once()

        assert report[tables.schema].busy
        assert report[tables.schema].deleted == {"outbox": 0}
        assert await count(engine, tables.outbox) == 3


class TestRunning:
    async def test_a_failing_module_is_logged_and_the_others_are_still_pruned(
        self, engine: AsyncEngine, tables: MessagingTables
    ) -> None:
        async with scratch_schema(engine) as doomed:
            await add_outbox_rows(engine, tables, 2, published=8 * DAY, occurred=8 * DAY)
            running = RetentionPruner(
                engine,
                [doomed.metadata, tables.metadata],
                replace(CONFIG, interval=timedelta(milliseconds=20)),
            )
            async with engine.begin() as conn:
                await conn.exec_driver_sql(f'DROP TABLE "{doomed.schema}".outbox')
            errors_before = sample("orderly_retention_errors_total", module=doomed.schema)
            stop = asyncio.Event()
            task = asyncio.create_task(running.run(stop))
            try:
                await wait_until(
                    lambda: self._pruned(engine, tables),
                    timeout_s=10,
                    what="the healthy module's rows to be pruned",
                )
                assert sample("orderly_retention_errors_total", module=doomed.schema) > errors_before
                assert not task.done(), "a failing module must not end the pruner"
            finally:
                stop.set()
                await asyncio.wait_for(task, timeout=10)

    @staticmethod
    async def _pruned(engine: AsyncEngine, tables: MessagingTables) -> bool:
        return await count(engine, tables.outbox) == 0
