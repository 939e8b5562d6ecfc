"""Many writers commit events for a few shared aggregates while relays run.

Every writer holds its own connection and sleeps inside its open transaction,
so transactions take their ids in one order and commit in another, and a
transaction touching several aggregates takes its id long before it waits
for the last of them. Each bump increments the aggregate's version under the
row lock, so the version is the commit order; the consumer must see every
version of every aggregate exactly once, in that order.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.db import create_engine
from orderly.platform.events import Message
from orderly.platform.inbox import idempotent_consumer
from orderly.platform.messaging.inprocess import InProcessBus
from orderly.platform.messaging.port import MessageBus, Subscription
from orderly.platform.outbox import OutboxRelay
from orderly.platform.settings import Settings
from tests.support.messaging import (
    CounterBumped,
    CountingBus,
    MessagingTables,
    MessagingUnitOfWork,
    broker_names,
    effects_by_message,
    message_of,
    scratch_schema,
    wait_until,
)

WRITERS = 50
TRANSACTIONS_PER_WRITER = 3
AGGREGATES = [f"agg-{n}" for n in range(5)]
MAX_SLEEP_S = 0.015
RECORDER = "test.order-recorder"


@pytest.fixture
async def wide_engine(settings: Settings, database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine whose pool gives each of the writers a connection of its own."""
    engine = create_engine(settings, database_url, pool_size=WRITERS + 4)
    try:
        yield engine
    finally:
        await engine.dispose()


async def write(engine: AsyncEngine, tables: MessagingTables, rng: random.Random) -> None:
    for _ in range(TRANSACTIONS_PER_WRITER):
        # Sorted so concurrent writers lock rows in one order (no deadlocks);
        # repeats allowed so one transaction sometimes emits two events of an aggregate.
        touched = sorted(rng.choices(AGGREGATES, k=rng.randint(1, 3)))
        async with MessagingUnitOfWork(engine, tables) as uow:
            for aggregate_id in touched:
                await asyncio.sleep(rng.uniform(0, MAX_SLEEP_S))
                await uow.bump_and_publish(aggregate_id)
            await asyncio.sleep(rng.uniform(0, MAX_SLEEP_S))
            await uow.commit()


class Recorder:
    def __init__(self) -> None:
        self.seen: dict[str, list[int]] = defaultdict(list)

    async def handle(self, message: Message) -> None:
        self.seen[message.aggregate_id].append(int(message.payload["version"]))

    def total(self) -> int:
        return sum(len(versions) for versions in self.seen.values())


async def final_versions(engine: AsyncEngine, tables: MessagingTables) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(tables.aggregates.c.id, tables.aggregates.c.version))
        return {row.id: row.version for row in rows}


@asynccontextmanager
async def running_relays(
    engine: AsyncEngine, tables: MessagingTables, buses: list[MessageBus]
) -> AsyncIterator[list[CountingBus]]:
    """Relays publishing through ``buses`` until the block ends; yields what each published."""
    stop = asyncio.Event()
    counted = [CountingBus(bus) for bus in buses]
    relays = [
        OutboxRelay(engine, bus, [tables.outbox], batch_size=25, poll_interval_s=0.02) for bus in counted
    ]
    tasks = [asyncio.create_task(relay.run_forever(stop)) for relay in relays]
    try:
        yield counted
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)


async def run_writers_and_check_order(
    engine: AsyncEngine,
    tables: MessagingTables,
    recorder: Recorder,
    relay_buses: list[MessageBus],
    *,
    seed: int,
) -> None:
    rng = random.Random(seed)
    async with running_relays(engine, tables, relay_buses) as relays:
        await asyncio.wait_for(
            asyncio.gather(*(write(engine, tables, random.Random(rng.random())) for _ in range(WRITERS))),
            timeout=30,
        )
        delivered_while_writing = recorder.total()
        versions = await final_versions(engine, tables)
        expected = sum(versions.values())

        async def all_delivered() -> bool:
            return recorder.total() >= expected

        await wait_until(
            all_delivered,
            timeout_s=10,
            what=lambda: f"{expected} deliveries (seed {seed}), got {recorder.total()}",
        )
    assert expected >= WRITERS * TRANSACTIONS_PER_WRITER
    assert delivered_while_writing > 0, "the relays should have been publishing while writers wrote"
    assert all(relay.published > 0 for relay in relays), [relay.published for relay in relays]
    for aggregate_id, final in versions.items():
        assert recorder.seen[aggregate_id] == list(range(1, final + 1)), (
            f"{aggregate_id} delivered out of commit order or with gaps/duplicates (seed {seed})"
        )


class TestConcurrentWritersInProcess:
    @pytest.mark.parametrize("relay_count", [1, 2])
    async def test_every_event_is_delivered_once_in_commit_order_per_aggregate(
        self, wide_engine: AsyncEngine, relay_count: int
    ) -> None:
        recorder = Recorder()
        bus = InProcessBus()
        await bus.consume([Subscription(RECORDER, (CounterBumped.event_type,), recorder.handle)])
        async with scratch_schema(wide_engine, aggregate_ids=AGGREGATES) as tables:
            await run_writers_and_check_order(
                wide_engine, tables, recorder, [bus] * relay_count, seed=relay_count
            )


class TestConcurrentWritersThroughRabbitMQ:
    @pytest.mark.parametrize("relay_count", [1, 2])
    async def test_every_event_is_delivered_once_in_commit_order_per_aggregate(
        self, wide_engine: AsyncEngine, broker_url: str, unique_prefix: str, relay_count: int
    ) -> None:
        recorder = Recorder()
        async with (
            broker_names(broker_url, unique_prefix, [RECORDER]) as names,
            scratch_schema(wide_engine, aggregate_ids=AGGREGATES) as tables,
        ):
            consumer_bus = names.bus(broker_url)
            # Each relay publishes over a connection of its own, as separate processes would.
            relay_buses = [names.bus(broker_url) for _ in range(relay_count)]
            for bus in [consumer_bus, *relay_buses]:
                await bus.start()
            try:
                await consumer_bus.consume(
                    [Subscription(RECORDER, (CounterBumped.event_type,), recorder.handle)]
                )
                await run_writers_and_check_order(
                    wide_engine, tables, recorder, list(relay_buses), seed=10 + relay_count
                )
            finally:
                for bus in [consumer_bus, *relay_buses]:
                    await bus.close()


class TestConcurrentDeliveriesOfOneMessage:
    @pytest.mark.parametrize("effect", ["counter-row", "naturally-keyed-row"])
    async def test_two_concurrent_deliveries_of_the_same_message_have_one_effect(
        self, wide_engine: AsyncEngine, effect: str
    ) -> None:
        consumer = "test.concurrent-inbox"
        async with scratch_schema(wide_engine, aggregate_ids=["agg-0"]) as tables:
            gate = asyncio.Event()
            applied = 0

            async def apply(message: Message, uow: MessagingUnitOfWork) -> None:
                nonlocal applied
                applied += 1
                if effect == "naturally-keyed-row":
                    await uow.create_aggregate(f"made-by-{message.message_id}")
                # Keep the first copy's transaction open while the second arrives.
                await asyncio.wait_for(gate.wait(), timeout=5)
                await uow.record_effect(consumer, message)

            handler = idempotent_consumer(consumer, lambda: MessagingUnitOfWork(wide_engine, tables), apply)
            message = message_of(CounterBumped(aggregate_id="agg-0", version=1))
            deliveries = [asyncio.ensure_future(handler(message)) for _ in range(2)]

            async def one_copy_inside() -> bool:
                return applied >= 1

            await wait_until(one_copy_inside, timeout_s=5, what="a delivery to reach its effect")
            await asyncio.sleep(0.2)  # let the other copy reach the inbox (or its effect)
            gate.set()
            # Neither copy may fail: the loser is a duplicate, not an error to retry.
            await asyncio.wait_for(asyncio.gather(*deliveries), timeout=10)

            assert await effects_by_message(wide_engine, tables) == {message.message_id: 1}
