"""The RabbitMQ adapter against the real broker: publishing, lanes, retries, dead letters, inbox.

Every test declares its own exchange and queues under ``unique_prefix`` and
deletes them afterwards.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aio_pika
import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.events import Message
from orderly.platform.inbox import idempotent_consumer
from orderly.platform.messaging.port import PoisonMessage, Subscription
from orderly.platform.messaging.rabbitmq import RabbitMQBus
from orderly.platform.outbox import OutboxRelay
from tests.support.messaging import (
    BrokerNames,
    CounterBumped,
    MessagingTables,
    MessagingUnitOfWork,
    broker_names,
    commit_events,
    drain_queue,
    effects_by_message,
    message_of,
    queue_depth,
    scratch_schema,
    unpublished_count,
    wait_until,
)

CONSUMER = "test.consumer"
DELIVERY_LIMIT = 3


@dataclass
class Broker:
    url: str
    names: BrokerNames
    buses: list[RabbitMQBus]

    async def bus(self, **kw: int | float) -> RabbitMQBus:
        bus = self.names.bus(self.url, **kw)
        await bus.start()
        self.buses.append(bus)
        return bus

    @property
    def queue(self) -> str:
        return f"{self.names.prefix}.{CONSUMER}"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dlq"


@pytest.fixture
async def broker(broker_url: str, unique_prefix: str) -> AsyncIterator[Broker]:
    async with broker_names(broker_url, unique_prefix, [CONSUMER]) as names:
        broker = Broker(broker_url, names, [])
        try:
            yield broker
        finally:
            for bus in broker.buses:
                await bus.close()


def subscription(handler: Callable[[Message], Awaitable[None]]) -> Subscription:
    return Subscription(CONSUMER, (CounterBumped.event_type,), handler)


def bumped(aggregate_id: str, version: int, *, poison: bool = False) -> Message:
    return message_of(CounterBumped(aggregate_id=aggregate_id, version=version, poison=poison))


class Attempts:
    """A handler that records every attempt; poison always fails, ``flaky`` ids fail at first."""

    def __init__(
        self,
        *,
        flaky: frozenset[uuid.UUID] = frozenset(),
        fail_times: int = 0,
        error: type[Exception] = RuntimeError,
    ) -> None:
        self.flaky = flaky
        self.fail_times = fail_times
        self.error = error
        self.attempts: dict[uuid.UUID, int] = defaultdict(int)
        self.done: list[Message] = []

    async def handle(self, message: Message) -> None:
        self.attempts[message.message_id] += 1
        if message.payload["poison"] or (
            message.message_id in self.flaky and self.attempts[message.message_id] <= self.fail_times
        ):
            raise self.error(f"cannot handle version {message.payload['version']}")
        self.done.append(message)

    def versions(self, aggregate_id: str) -> list[int]:
        return [int(m.payload["version"]) for m in self.done if m.aggregate_id == aggregate_id]


class TestPublishing:
    async def test_relay_puts_a_committed_event_on_the_queue_exactly_once(
        self, engine: AsyncEngine, broker: Broker
    ) -> None:
        bus = await broker.bus()
        await bus.declare([subscription(Attempts().handle)])
        async with scratch_schema(engine, aggregate_ids=["agg-a"]) as tables:
            [event] = await commit_events(engine, tables, ["agg-a"])
            relay = OutboxRelay(engine, bus, [tables.outbox], batch_size=50, poll_interval_s=0.02)

            assert await relay.drain() == 1
            assert await relay.drain() == 0
            assert await unpublished_count(engine, tables) == 0

        [delivered] = await drain_queue(broker.url, broker.queue)
        assert delivered.message_id == str(event.event_id)
        assert delivered.type == CounterBumped.event_type
        assert (delivered.headers or {})["aggregate_id"] == "agg-a"
        assert delivered.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert await queue_depth(broker.url, broker.queue) == 0

    async def test_one_publish_keeps_each_aggregates_order_on_the_queue(self, broker: Broker) -> None:
        bus = await broker.bus()
        await bus.declare([subscription(Attempts().handle)])
        messages = [bumped(f"agg-{n % 4}", n // 4 + 1) for n in range(40)]

        await bus.publish(messages)

        taken = await drain_queue(broker.url, broker.queue)
        seen: dict[str, list[int]] = defaultdict(list)
        for incoming in taken:
            seen[str((incoming.headers or {})["aggregate_id"])].append(orjson.loads(incoming.body)["version"])
        assert len(taken) == 40
        assert seen == {f"agg-{n}": list(range(1, 11)) for n in range(4)}


class TestConsumerLanes:
    async def test_a_failing_message_holds_back_the_later_messages_of_its_aggregate(
        self, broker: Broker
    ) -> None:
        messages = [bumped("agg-a", v) for v in (1, 2, 3)] + [bumped("agg-b", 1)]
        handler = Attempts(flaky=frozenset({messages[0].message_id}), fail_times=2)
        bus = await broker.bus(delivery_limit=5, retry_base_delay_s=0.02)
        await bus.consume([subscription(handler.handle)])

        await bus.publish(messages)

        async def all_done() -> bool:
            return len(handler.done) == 4

        await wait_until(all_done, timeout_s=10, what=lambda: f"4 handled, got {handler.done}")
        assert handler.versions("agg-a") == [1, 2, 3]
        assert handler.versions("agg-b") == [1]
        assert handler.attempts[messages[0].message_id] == 3
        assert await queue_depth(broker.url, broker.dead_letter_queue) == 0


class TestDeadLetters:
    async def test_message_failing_every_attempt_is_dead_lettered_and_the_next_is_handled(
        self, broker: Broker
    ) -> None:
        handler = Attempts()
        bus = await broker.bus(delivery_limit=DELIVERY_LIMIT, retry_base_delay_s=0.01)
        await bus.consume([subscription(handler.handle)])
        poison, after_it, elsewhere = bumped("agg-a", 1, poison=True), bumped("agg-a", 2), bumped("agg-b", 1)

        await bus.publish([poison, after_it, elsewhere])

        async def dead_lettered() -> bool:
            return len(handler.done) == 2 and await queue_depth(broker.url, broker.dead_letter_queue) == 1

        await wait_until(
            dead_lettered, timeout_s=10, what="the poison message in the DLQ and the rest handled"
        )
        assert handler.attempts[poison.message_id] == DELIVERY_LIMIT
        assert [m.message_id for m in handler.done if m.aggregate_id == "agg-a"] == [after_it.message_id]
        [dead] = await drain_queue(broker.url, broker.dead_letter_queue)
        assert dead.message_id == str(poison.message_id)
        assert await queue_depth(broker.url, broker.queue) == 0

    async def test_poison_message_is_dead_lettered_at_once(self, broker: Broker) -> None:
        handler = Attempts(error=PoisonMessage)
        bus = await broker.bus(delivery_limit=DELIVERY_LIMIT, retry_base_delay_s=0.01)
        await bus.consume([subscription(handler.handle)])
        poison, after_it = bumped("agg-a", 1, poison=True), bumped("agg-a", 2)

        await bus.publish([poison, after_it])

        async def dead_lettered() -> bool:
            return len(handler.done) == 1 and await queue_depth(broker.url, broker.dead_letter_queue) == 1

        await wait_until(dead_lettered, timeout_s=10, what="the poison message in the DLQ")
        assert handler.attempts[poison.message_id] == 1
        [dead] = await drain_queue(broker.url, broker.dead_letter_queue)
        assert dead.message_id == str(poison.message_id)

    async def test_broker_dead_letters_a_message_whose_consumers_keep_dying(self, broker: Broker) -> None:
        # A consumer that dies holding a message gets it back from the broker;
        # the queue's x-delivery-limit is what stops that loop.
        bus = await broker.bus(delivery_limit=DELIVERY_LIMIT)
        await bus.declare([subscription(Attempts().handle)])
        message = bumped("agg-a", 1)
        await bus.publish([message])

        deliveries = 0
        connection = await aio_pika.connect(broker.url, timeout=5)
        try:
            channel = await connection.channel()
            queue = await channel.declare_queue(broker.queue, passive=True)
            for _ in range(DELIVERY_LIMIT + 2):
                incoming = await queue.get(fail=False, timeout=5)
                if incoming is None:
                    break
                deliveries += 1
                await incoming.nack(requeue=True)  # what a channel closing mid-handler does
        finally:
            await connection.close()

        async def dead_lettered() -> bool:
            return await queue_depth(broker.url, broker.dead_letter_queue) == 1

        await wait_until(dead_lettered, timeout_s=5, what="the broker to dead-letter the message")
        # RabbitMQ counts returns: the first delivery plus `limit` redeliveries.
        assert deliveries == DELIVERY_LIMIT + 1


class TestInboxBehindTheBus:
    async def test_redelivered_message_has_its_effect_once(self, engine: AsyncEngine, broker: Broker) -> None:
        async with scratch_schema(engine, aggregate_ids=["agg-a"]) as tables:
            calls = 0

            async def apply(message: Message, uow: MessagingUnitOfWork) -> None:
                await uow.record_effect(CONSUMER, message)

            inner = idempotent_consumer(CONSUMER, lambda: MessagingUnitOfWork(engine, tables), apply)

            async def counted(message: Message) -> None:
                nonlocal calls
                await inner(message)
                calls += 1

            bus = await broker.bus()
            await bus.consume([subscription(counted)])
            message = bumped("agg-a", 1)

            await bus.publish([message])
            await bus.publish([message])  # the relay republishing after a crash

            async def both_handled() -> bool:
                return calls == 2

            await wait_until(both_handled, timeout_s=10, what=lambda: f"2 deliveries, got {calls}")
            assert await effects_by_message(engine, tables) == {message.message_id: 1}
            assert await inbox_rows(engine, tables) == 1


async def inbox_rows(engine: AsyncEngine, tables: MessagingTables) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(tables.inbox)) or 0)
