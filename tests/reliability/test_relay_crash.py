"""A relay killed between publishing and marking published loses nothing and duplicates no effect.

The relay runs as a real subprocess and dies by SIGKILL at its crash point
(``OutboxRelay._after_publish_hook``): RabbitMQ has confirmed the batch, the
outbox rows are still unmarked. A second relay process publishes the batch
again; the consumer, whose effect (a row in a table with no uniqueness) is
not idempotent by itself, sits behind ``idempotent_consumer`` and the inbox,
and must show each effect exactly once.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.events import Message
from orderly.platform.inbox import idempotent_consumer
from orderly.platform.messaging.port import Subscription
from orderly.platform.messaging.rabbitmq import RabbitMQBus
from tests.support.messaging import (
    BrokerNames,
    CounterBumped,
    MessagingTables,
    MessagingUnitOfWork,
    broker_names,
    commit_events,
    effects_by_message,
    queue_depth,
    scratch_schema,
    unpublished_count,
    wait_until,
)
from tests.support.messaging_crash_relay import CRASH_MARKER

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONSUMER = "test.crash-consumer"
EVENTS = 3


async def run_relay_process(
    *, database_url: str, broker_url: str, names: BrokerNames, tables: MessagingTables, crash: bool
) -> tuple[int, str]:
    """Run the relay script to its end (or its death); return its exit code and output."""
    args = [
        "-m",
        "tests.support.messaging_crash_relay",
        f"--database-url={database_url}",
        f"--broker-url={broker_url}",
        f"--prefix={names.prefix}",
        f"--schema={tables.schema}",
    ]
    if crash:
        args.append("--crash-after-publish")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail("the relay process did not finish within 30 s")
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


@pytest.fixture
async def tables(engine: AsyncEngine) -> AsyncIterator[MessagingTables]:
    async with scratch_schema(engine, aggregate_ids=["agg-a"]) as tables:
        yield tables


class TestRelayKilledBetweenPublishAndMark:
    async def test_second_relay_republishes_and_each_effect_happens_once(
        self,
        database_url: str,
        engine: AsyncEngine,
        tables: MessagingTables,
        broker_url: str,
        unique_prefix: str,
    ) -> None:
        async with broker_names(broker_url, unique_prefix, [CONSUMER]) as names:
            consumer_bus = names.bus(broker_url, retry_base_delay_s=0.02)
            await consumer_bus.start()
            try:
                await self._crash_republish_and_consume(
                    database_url, engine, tables, broker_url, names, consumer_bus
                )
            finally:
                await consumer_bus.close()

    async def _crash_republish_and_consume(
        self,
        database_url: str,
        engine: AsyncEngine,
        tables: MessagingTables,
        broker_url: str,
        names: BrokerNames,
        consumer_bus: RabbitMQBus,
    ) -> None:
        deliveries = 0

        async def apply(message: Message, uow: MessagingUnitOfWork) -> None:
            await uow.record_effect(CONSUMER, message)

        inbox_guarded = idempotent_consumer(CONSUMER, lambda: MessagingUnitOfWork(engine, tables), apply)

        async def handler(message: Message) -> None:
            nonlocal deliveries
            await inbox_guarded(message)
            deliveries += 1

        subscription = Subscription(CONSUMER, (CounterBumped.event_type,), handler)
        await consumer_bus.declare([subscription])
        queue = f"{names.prefix}.{CONSUMER}"
        events = await commit_events(engine, tables, ["agg-a"] * EVENTS)

        code, output = await run_relay_process(
            database_url=database_url, broker_url=broker_url, names=names, tables=tables, crash=True
        )
        assert code == -signal.SIGKILL, f"relay should have been killed, exit {code}:\n{output}"
        assert f"{CRASH_MARKER} {EVENTS}" in output, output
        assert await queue_depth(broker_url, queue) == EVENTS  # confirmed by the broker
        assert await unpublished_count(engine, tables) == EVENTS  # ... but never marked

        code, output = await run_relay_process(
            database_url=database_url, broker_url=broker_url, names=names, tables=tables, crash=False
        )
        assert code == 0, output
        assert f"drained {EVENTS}" in output, output
        assert await unpublished_count(engine, tables) == 0
        assert await queue_depth(broker_url, queue) == 2 * EVENTS

        await consumer_bus.consume([subscription])

        async def every_copy_handled() -> bool:
            return deliveries == 2 * EVENTS

        await wait_until(
            every_copy_handled, timeout_s=10, what=lambda: f"{2 * EVENTS} deliveries, got {deliveries}"
        )
        assert await effects_by_message(engine, tables) == {e.event_id: 1 for e in events}
        async with engine.connect() as conn:
            inbox_rows = await conn.scalar(select(func.count()).select_from(tables.inbox))
        assert inbox_rows == EVENTS
