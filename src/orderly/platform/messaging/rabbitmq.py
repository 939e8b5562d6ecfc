"""RabbitMQ adapter (aio-pika).

Topology, declared idempotently by every process at start:
- one durable topic exchange; routing key = event type;
- per consumer a durable quorum queue ``<prefix>.<consumer>`` bound to the
  event types it subscribes to, with ``x-delivery-limit`` and a dead-letter
  exchange that routes exhausted or rejected messages to ``<queue>.dlq``.
  Dead-lettering is at-least-once (it needs ``overflow=reject-publish``): a
  message leaves the queue only once the dead-letter queue has confirmed it.

Publishing waits for publisher confirms: ``publish`` returns only when the
broker has the message on disk. Consumers ack after the handler's transaction
commits, so a crash means redelivery, which the inbox absorbs.

Order per aggregate: ``publish`` sends each aggregate's messages one after
the other, each after the previous one's confirm. A consumer spreads its
deliveries over lanes by ``aggregate_id``, so one aggregate's messages are
handled one at a time, in queue order. A handler that fails is retried in its
lane (backoff with jitter) rather than requeued: a requeued message would go
back behind the later messages of its aggregate the lane already holds. After
``delivery_limit`` attempts it is rejected to the dead-letter queue and the
lane moves on. Deliveries the broker made before (a consumer died holding the
message) count as attempts, and ``x-delivery-limit`` dead-letters a message
that keeps killing its consumers. The price of retrying in the lane: the
other aggregates hashed to it wait for the retries (a few seconds at most).
"""

from __future__ import annotations

import asyncio
import random
import uuid
import zlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aio_pika
import orjson
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)

from orderly.platform.events import Message
from orderly.platform.messaging.port import PoisonMessage, Subscription
from orderly.platform.observability.messaging import handle_observed, record_dead_letter

log = structlog.get_logger(module="platform.messaging")


class RabbitMQBus:
    def __init__(
        self,
        url: str,
        *,
        exchange: str = "orderly.events",
        queue_prefix: str = "orderly",
        delivery_limit: int = 5,
        prefetch: int = 32,
        lanes: int = 8,
        retry_base_delay_s: float = 0.2,
    ) -> None:
        self._url = url
        self._exchange_name = exchange
        self._dlx_name = f"{exchange}.dlx"
        self._queue_prefix = queue_prefix
        self._delivery_limit = delivery_limit
        self._prefetch = prefetch
        self._lanes = max(1, min(lanes, prefetch))
        self._retry_base_delay_s = retry_base_delay_s
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._consumer_channels: list[AbstractChannel] = []
        self._lane_tasks: list[asyncio.Task[None]] = []

    def queue_name(self, consumer: str) -> str:
        return f"{self._queue_prefix}.{consumer}"

    def dead_letter_queue_name(self, consumer: str) -> str:
        return f"{self.queue_name(consumer)}.dlq"

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self._url, timeout=10)
        self._publish_channel = await self._connection.channel(publisher_confirms=True)
        self._exchange = await self._publish_channel.declare_exchange(
            self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        await self._publish_channel.declare_exchange(
            self._dlx_name, aio_pika.ExchangeType.DIRECT, durable=True
        )

    async def close(self) -> None:
        for task in self._lane_tasks:
            task.cancel()
        await asyncio.gather(*self._lane_tasks, return_exceptions=True)
        self._lane_tasks.clear()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def check(self) -> None:
        if self._connection is None or self._connection.is_closed:
            raise ConnectionError("not connected to RabbitMQ")
        if self._publish_channel is None or self._publish_channel.is_closed:
            raise ConnectionError("publishing channel is closed")

    async def declare(self, subscriptions: Sequence[Subscription]) -> None:
        channel = self._require_channel()
        for subscription in subscriptions:
            await self._declare_queue(channel, subscription)

    async def _declare_queue(
        self, channel: AbstractChannel, subscription: Subscription
    ) -> aio_pika.abc.AbstractQueue:
        name = self.queue_name(subscription.consumer)
        dlq = await channel.declare_queue(
            self.dead_letter_queue_name(subscription.consumer),
            durable=True,
            arguments={"x-queue-type": "quorum"},
        )
        await dlq.bind(self._dlx_name, routing_key=name)
        queue = await channel.declare_queue(
            name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": self._delivery_limit,
                "x-dead-letter-exchange": self._dlx_name,
                "x-dead-letter-routing-key": name,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        for event_type in subscription.event_types:
            await queue.bind(self._exchange_name, routing_key=event_type)
        return queue

    async def publish(self, messages: Sequence[Message]) -> None:
        exchange = self._require_exchange()
        # Chains per aggregate keep each aggregate's order while independent
        # aggregates wait for their confirms concurrently.
        chains: dict[str, list[Message]] = defaultdict(list)
        for message in messages:
            chains[message.aggregate_id].append(message)

        async def publish_chain(chain: list[Message]) -> None:
            for message in chain:
                await exchange.publish(_encode(message), routing_key=message.event_type)

        tasks = [asyncio.create_task(publish_chain(chain)) for chain in chains.values()]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            # No chain may keep publishing after the caller has given up on
            # the batch: it will republish the batch, from the start, in order.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def consume(self, subscriptions: Sequence[Subscription]) -> None:
        if self._connection is None:
            raise ConnectionError("bus not started")
        for subscription in subscriptions:
            channel = await self._connection.channel()
            await channel.set_qos(prefetch_count=self._prefetch)
            self._consumer_channels.append(channel)
            queue = await self._declare_queue(channel, subscription)
            lanes: list[asyncio.Queue[AbstractIncomingMessage]] = [
                asyncio.Queue() for _ in range(self._lanes)
            ]
            for lane in lanes:
                self._lane_tasks.append(asyncio.create_task(self._run_lane(subscription, lane)))

            async def route(
                incoming: AbstractIncomingMessage,
                lanes: list[asyncio.Queue[AbstractIncomingMessage]] = lanes,
            ) -> None:
                key = str((incoming.headers or {}).get("aggregate_id", incoming.message_id))
                await lanes[zlib.crc32(key.encode()) % len(lanes)].put(incoming)

            await queue.consume(route, no_ack=False)

    async def _run_lane(
        self, subscription: Subscription, lane: asyncio.Queue[AbstractIncomingMessage]
    ) -> None:
        while True:
            incoming = await lane.get()
            try:
                await self._handle(subscription, incoming)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lane failed to settle a delivery", consumer=subscription.consumer)

    async def _handle(self, subscription: Subscription, incoming: AbstractIncomingMessage) -> None:
        try:
            message = _decode(incoming)
        except Exception:
            log.error("undecodable message dead-lettered", consumer=subscription.consumer)
            record_dead_letter(subscription.consumer)
            await incoming.reject(requeue=False)
            return
        attempt = _previous_deliveries(incoming) + 1
        while True:
            try:
                await handle_observed(subscription, message, system="rabbitmq")
            except PoisonMessage as exc:
                await self._dead_letter(subscription, incoming, message, exc, attempts=attempt)
                return
            except Exception as exc:
                if attempt >= self._delivery_limit:
                    await self._dead_letter(subscription, incoming, message, exc, attempts=attempt)
                    return
                delay = min(5.0, self._retry_base_delay_s * 2 ** (attempt - 1))
                delay *= random.uniform(0.5, 1.0)
                log.warning(
                    "handler failed, retrying",
                    consumer=subscription.consumer,
                    message_id=str(message.message_id),
                    attempt=attempt,
                    retry_in_s=round(delay, 3),
                    exc_info=True,
                )
                await asyncio.sleep(delay)
                attempt += 1
                continue
            await incoming.ack()
            return

    async def _dead_letter(
        self,
        subscription: Subscription,
        incoming: AbstractIncomingMessage,
        message: Message,
        exc: Exception,
        *,
        attempts: int,
    ) -> None:
        log.error(
            "message dead-lettered",
            consumer=subscription.consumer,
            message_id=str(message.message_id),
            event_type=message.event_type,
            attempts=attempts,
            error=repr(exc),
        )
        record_dead_letter(subscription.consumer)
        await incoming.reject(requeue=False)

    def _require_channel(self) -> AbstractChannel:
        if self._publish_channel is None:
            raise ConnectionError("bus not started")
        return self._publish_channel

    def _require_exchange(self) -> AbstractExchange:
        if self._exchange is None:
            raise ConnectionError("bus not started")
        return self._exchange


def _previous_deliveries(incoming: AbstractIncomingMessage) -> int:
    """How often the broker handed this message out before (quorum queues count returns)."""
    count = (incoming.headers or {}).get("x-delivery-count", 0)
    return count if isinstance(count, int) else 0


def _encode(message: Message) -> aio_pika.Message:
    headers: dict[str, Any] = dict(message.headers)
    headers["aggregate_id"] = message.aggregate_id
    headers["occurred_at"] = message.occurred_at.isoformat()
    return aio_pika.Message(
        body=orjson.dumps(message.payload),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(message.message_id),
        type=message.event_type,
        headers=headers,
    )


def _decode(incoming: AbstractIncomingMessage) -> Message:
    headers = dict(incoming.headers or {})
    aggregate_id = str(headers.pop("aggregate_id"))
    occurred_at = datetime.fromisoformat(str(headers.pop("occurred_at")))
    if incoming.message_id is None or incoming.type is None:
        raise ValueError("message without id or type")
    return Message(
        message_id=uuid.UUID(incoming.message_id),
        event_type=incoming.type,
        aggregate_id=aggregate_id,
        occurred_at=occurred_at,
        payload=orjson.loads(incoming.body),
        headers={k: str(v) for k, v in headers.items() if not k.startswith("x-")},
    )
