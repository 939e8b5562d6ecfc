"""The outbox relay against the real PostgreSQL: what it publishes, when, and in which order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orderly.platform.events import Message
from orderly.platform.messaging.inprocess import InProcessBus
from orderly.platform.messaging.port import Subscription
from orderly.platform.outbox import OutboxRelay, lock_aggregates
from tests.support.messaging import (
    CounterBumped,
    MessagingTables,
    MessagingUnitOfWork,
    commit_events,
    scratch_schema,
    unpublished_count,
)


class Recorder:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle(self, message: Message) -> None:
        self.messages.append(message)

    def ids(self) -> list[object]:
        return [m.message_id for m in self.messages]


@pytest.fixture
async def tables(engine: AsyncEngine) -> AsyncIterator[MessagingTables]:
    async with scratch_schema(engine, aggregate_ids=["agg-a", "agg-b"]) as tables:
        yield tables


@pytest.fixture
async def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def relay(engine: AsyncEngine, tables: MessagingTables, recorder: Recorder) -> OutboxRelay:
    bus = InProcessBus()
    await bus.consume([Subscription("test.recorder", (CounterBumped.event_type,), recorder.handle)])
    return OutboxRelay(engine, bus, [tables.outbox], batch_size=50, poll_interval_s=0.02)


class TestOneRelayPass:
    async def test_committed_event_is_published_by_one_pass_and_not_by_the_next(
        self, engine: AsyncEngine, tables: MessagingTables, relay: OutboxRelay, recorder: Recorder
    ) -> None:
        [event] = await commit_events(engine, tables, ["agg-a"])

        assert (await relay.run_once()).published == 1
        assert (await relay.run_once()).published == 0
        assert await relay.drain() == 0

        assert recorder.ids() == [event.event_id]
        assert recorder.messages[0].payload["version"] == 1
        async with engine.connect() as conn:
            published_at = await conn.scalar(
                select(tables.outbox.c.published_at).where(tables.outbox.c.event_id == event.event_id)
            )
        assert published_at is not None

    async def test_events_of_a_rolled_back_transaction_are_never_published(
        self, engine: AsyncEngine, tables: MessagingTables, relay: OutboxRelay, recorder: Recorder
    ) -> None:
        async with MessagingUnitOfWork(engine, tables) as uow:
            await uow.bump_and_publish("agg-a")
            await uow.rollback()

        async def handler_failing_before_commit() -> None:
            async with MessagingUnitOfWork(engine, tables) as uow:
                await uow.bump_and_publish("agg-b")
                raise RuntimeError("handler failed before commit")

        with pytest.raises(RuntimeError):
            await handler_failing_before_commit()
        async with MessagingUnitOfWork(engine, tables) as uow:
            await uow.bump_and_publish("agg-b")  # leaves without committing

        assert await relay.drain() == 0
        assert recorder.messages == []
        async with engine.connect() as conn:
            rows = (await conn.execute(select(tables.outbox))).all()
        assert rows == []

    async def test_transaction_that_commits_late_is_published_after_it_commits(
        self, engine: AsyncEngine, tables: MessagingTables, relay: OutboxRelay, recorder: Recorder
    ) -> None:
        # The late transaction writes first (so it has the older transaction id)
        # and commits last; a cursor-style relay would skip it.
        async with MessagingUnitOfWork(engine, tables) as late:
            late_event = await late.bump_and_publish("agg-a")
            [early_event] = await commit_events(engine, tables, ["agg-b"])

            assert await relay.drain() == 1
            assert recorder.ids() == [early_event.event_id]

            await late.commit()

        assert await relay.drain() == 1
        assert recorder.ids() == [early_event.event_id, late_event.event_id]
        assert await unpublished_count(engine, tables) == 0


class TestOrderPerAggregate:
    async def test_events_of_one_aggregate_are_published_in_the_order_they_were_committed(
        self, engine: AsyncEngine, tables: MessagingTables, relay: OutboxRelay, recorder: Recorder
    ) -> None:
        versions: list[int] = []
        for _ in range(3):
            versions += [e.version for e in await commit_events(engine, tables, ["agg-a", "agg-a"])]

        assert await relay.drain() == 6
        assert [m.payload["version"] for m in recorder.messages] == versions == [1, 2, 3, 4, 5, 6]

    async def test_delivery_follows_commit_order_even_when_commits_share_no_row(
        self,
        engine: AsyncEngine,
        tables: MessagingTables,
        relay: OutboxRelay,
        recorder: Recorder,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # Two transactions publish events for one aggregate without touching a
        # common row. The first has written its outbox row when its COMMIT is
        # held back; whichever commits first must be delivered first.
        held: set[int] = set()
        parked = asyncio.Event()
        release = asyncio.Event()
        original_commit = AsyncConnection.commit

        async def commit_when_released(self: AsyncConnection) -> None:
            if id(self) in held:
                parked.set()
                await asyncio.wait_for(release.wait(), timeout=5)
            await original_commit(self)

        monkeypatch.setattr(AsyncConnection, "commit", commit_when_released)
        commit_order: list[CounterBumped] = []

        async def publish_and_commit(event: CounterBumped, *, hold: bool) -> None:
            async with MessagingUnitOfWork(engine, tables) as uow:
                uow.publish(event)
                if hold:
                    held.add(id(uow.connection))
                await uow.commit()
            commit_order.append(event)

        first_event = CounterBumped(aggregate_id="agg-shared", version=1)
        second_event = CounterBumped(aggregate_id="agg-shared", version=2)
        first = asyncio.create_task(publish_and_commit(first_event, hold=True))
        await asyncio.wait_for(parked.wait(), timeout=5)
        second = asyncio.create_task(publish_and_commit(second_event, hold=False))
        await asyncio.sleep(0.3)  # time enough for the second to commit, were it allowed to
        release.set()
        await asyncio.wait_for(asyncio.gather(first, second), timeout=5)

        assert await relay.drain() == 2
        assert recorder.ids() == [e.event_id for e in commit_order]
        assert commit_order == [first_event, second_event]

    async def test_commit_for_another_aggregate_does_not_wait(
        self, engine: AsyncEngine, tables: MessagingTables
    ) -> None:
        async with MessagingUnitOfWork(engine, tables) as uow:
            uow.publish(CounterBumped(aggregate_id="agg-a", version=1))
            # Hold agg-a's commit lock as a commit in progress would.
            await lock_aggregates(uow.connection, tables.outbox, ["agg-a"])
            other = asyncio.create_task(commit_events(engine, tables, ["agg-b"]))
            await asyncio.wait_for(other, timeout=2)
            await uow.commit()
        assert await unpublished_count(engine, tables) == 2
