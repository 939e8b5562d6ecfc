"""The in-process bus: routing, order, retries and dead letters, with no I/O."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime

from orderly.platform.events import Message
from orderly.platform.messaging.inprocess import InProcessBus
from orderly.platform.messaging.port import PoisonMessage, Subscription

PLACED = "test.placed.v1"
SHIPPED = "test.shipped.v1"


def message(aggregate_id: str = "agg-1", *, event_type: str = PLACED, seq: int = 1) -> Message:
    return Message(
        message_id=uuid.uuid4(),
        event_type=event_type,
        aggregate_id=aggregate_id,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        payload={"seq": seq},
    )


class Handler:
    """Records attempts and successes.

    Fails ``fail_times`` times on ids in ``failing``, always on ``broken``, and
    raises PoisonMessage on ``poison``.
    """

    def __init__(
        self,
        *,
        failing: frozenset[uuid.UUID] = frozenset(),
        fail_times: int = 0,
        broken: frozenset[uuid.UUID] = frozenset(),
        poison: frozenset[uuid.UUID] = frozenset(),
    ) -> None:
        self.failing, self.fail_times, self.broken, self.poison = failing, fail_times, broken, poison
        self.attempts: dict[uuid.UUID, int] = defaultdict(int)
        self.handled: list[Message] = []

    async def __call__(self, msg: Message) -> None:
        self.attempts[msg.message_id] += 1
        if msg.message_id in self.poison:
            raise PoisonMessage("can never succeed")
        if msg.message_id in self.broken:
            raise RuntimeError("always fails")
        if msg.message_id in self.failing and self.attempts[msg.message_id] <= self.fail_times:
            raise ConnectionError("transient")
        self.handled.append(msg)


async def bus_with(*subscriptions: Subscription, delivery_limit: int = 3) -> InProcessBus:
    bus = InProcessBus(delivery_limit=delivery_limit, retry_delay_s=0)
    await bus.consume(subscriptions)
    return bus


class TestRouting:
    async def test_every_consumer_subscribed_to_the_type_gets_the_message_once(self) -> None:
        first, second, other = Handler(), Handler(), Handler()
        bus = await bus_with(
            Subscription("first", (PLACED,), first),
            Subscription("second", (PLACED, SHIPPED), second),
            Subscription("other", (SHIPPED,), other),
        )
        placed = message()

        await bus.publish([placed])

        assert first.handled == [placed]
        assert second.handled == [placed]
        assert other.handled == []

    async def test_consuming_the_same_subscription_twice_does_not_deliver_twice(self) -> None:
        handler = Handler()
        sub = Subscription("one", (PLACED,), handler)
        bus = await bus_with(sub)
        await bus.consume([sub])

        await bus.publish([message()])

        assert len(handler.handled) == 1

    async def test_message_nobody_subscribed_to_is_dropped_quietly(self) -> None:
        handler = Handler()
        bus = await bus_with(Subscription("one", (PLACED,), handler))

        await bus.publish([message(event_type="test.unknown.v1")])

        assert handler.handled == []
        assert bus.dead_letters == []

    async def test_messages_are_handled_in_the_order_published(self) -> None:
        handler = Handler()
        bus = await bus_with(Subscription("one", (PLACED,), handler))
        batch = [message(f"agg-{n % 3}", seq=n) for n in range(9)]

        await bus.publish(batch)

        assert handler.handled == batch


class TestRetries:
    async def test_transient_failure_is_retried_until_the_handler_succeeds(self) -> None:
        flaky = message()
        handler = Handler(failing=frozenset({flaky.message_id}), fail_times=2)
        bus = await bus_with(Subscription("one", (PLACED,), handler), delivery_limit=3)

        await bus.publish([flaky])

        assert handler.handled == [flaky]
        assert handler.attempts[flaky.message_id] == 3
        assert bus.dead_letters == []

    async def test_retried_message_still_comes_before_the_next_of_its_aggregate(self) -> None:
        first, second = message(seq=1), message(seq=2)
        handler = Handler(failing=frozenset({first.message_id}), fail_times=1)
        bus = await bus_with(Subscription("one", (PLACED,), handler))

        await bus.publish([first, second])

        assert handler.handled == [first, second]


class TestDeadLetters:
    async def test_message_failing_every_attempt_is_dead_lettered_and_the_next_is_handled(self) -> None:
        broken, after_it = message(seq=1), message(seq=2)
        handler = Handler(broken=frozenset({broken.message_id}))
        bus = await bus_with(Subscription("one", (PLACED,), handler), delivery_limit=3)

        await bus.publish([broken, after_it])

        assert handler.attempts[broken.message_id] == 3
        assert handler.handled == [after_it]
        [dead] = bus.dead_letters
        assert (dead.consumer, dead.message) == ("one", broken)
        assert "always fails" in dead.error

    async def test_poison_message_is_dead_lettered_without_a_retry(self) -> None:
        poison, after_it = message(seq=1), message(seq=2)
        handler = Handler(poison=frozenset({poison.message_id}))
        bus = await bus_with(Subscription("one", (PLACED,), handler), delivery_limit=5)

        await bus.publish([poison, after_it])

        assert handler.attempts[poison.message_id] == 1
        assert handler.handled == [after_it]
        assert [d.message for d in bus.dead_letters] == [poison]

    async def test_one_consumer_dead_lettering_a_message_does_not_keep_it_from_another(
        self,
    ) -> None:
        msg = message()
        broken = Handler(broken=frozenset({msg.message_id}))
        healthy = Handler()
        bus = await bus_with(
            Subscription("broken", (PLACED,), broken), Subscription("healthy", (PLACED,), healthy)
        )

        await bus.publish([msg])

        assert healthy.handled == [msg]
        assert [d.consumer for d in bus.dead_letters] == ["broken"]
