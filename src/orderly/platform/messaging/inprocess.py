"""In-process message bus for the embedded default and for tests.

``publish`` runs every matching consumer before it returns, so the outbox row
is only marked published once every effect is committed: a crash in between
means the relay publishes again and the consumers' inboxes drop the repeat.
A handler that keeps failing is retried up to the delivery limit, then the
message is parked in ``dead_letters`` and logged, and the next one goes on.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from orderly.platform.events import Message
from orderly.platform.messaging.port import PoisonMessage, Subscription
from orderly.platform.observability.messaging import handle_observed, record_dead_letter

log = structlog.get_logger(module="platform.messaging")


@dataclass(frozen=True)
class DeadLetter:
    consumer: str
    message: Message
    error: str


class InProcessBus:
    def __init__(self, *, delivery_limit: int = 5, retry_delay_s: float = 0.01) -> None:
        self._delivery_limit = delivery_limit
        self._retry_delay_s = retry_delay_s
        self._routes: dict[str, list[Subscription]] = defaultdict(list)
        self.dead_letters: list[DeadLetter] = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def check(self) -> None:
        return None

    async def declare(self, subscriptions: Sequence[Subscription]) -> None:
        return None

    async def consume(self, subscriptions: Sequence[Subscription]) -> None:
        for subscription in subscriptions:
            for event_type in subscription.event_types:
                if subscription not in self._routes[event_type]:
                    self._routes[event_type].append(subscription)

    async def publish(self, messages: Sequence[Message]) -> None:
        for message in messages:
            for subscription in self._routes.get(message.event_type, []):
                await self._deliver(subscription, message)

    async def _deliver(self, subscription: Subscription, message: Message) -> None:
        for attempt in range(1, self._delivery_limit + 1):
            try:
                await handle_observed(subscription, message, system="inprocess")
                return
            except PoisonMessage as exc:
                self._dead_letter(subscription, message, exc)
                return
            except Exception as exc:
                if attempt == self._delivery_limit:
                    self._dead_letter(subscription, message, exc)
                    return
                log.warning(
                    "handler failed, retrying",
                    consumer=subscription.consumer,
                    message_id=str(message.message_id),
                    attempt=attempt,
                    exc_info=True,
                )
                await asyncio.sleep(self._retry_delay_s * attempt)

    def _dead_letter(self, subscription: Subscription, message: Message, exc: Exception) -> None:
        log.error(
            "message dead-lettered",
            consumer=subscription.consumer,
            message_id=str(message.message_id),
            event_type=message.event_type,
            error=repr(exc),
        )
        self.dead_letters.append(DeadLetter(subscription.consumer, message, repr(exc)))
        record_dead_letter(subscription.consumer)
