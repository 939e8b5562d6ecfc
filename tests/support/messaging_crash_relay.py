"""A relay process for the crash tests: publish a batch, then die by SIGKILL before marking it.

Run as ``python -m tests.support.messaging_crash_relay --schema S ...`` from
the project root. It builds a real ``OutboxRelay`` over the scratch schema's
outbox and a ``RabbitMQBus``; with ``--crash-after-publish`` its
``_after_publish_hook`` (the point between "the broker has it" and "marked
published") prints ``published <n>`` and kills the process, so no ``finally``,
no rollback and no connection close runs: PostgreSQL and RabbitMQ only see
sockets drop, as with ``kill -9`` or a lost machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from orderly.platform.db import create_engine
from orderly.platform.outbox import OutboxRelay
from orderly.platform.settings import Settings
from tests.support.messaging import BrokerNames, CountingBus, messaging_tables

CRASH_MARKER = "published"


class CrashAfterPublishRelay(OutboxRelay):
    def __init__(self, *args: object, counting: CountingBus, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self._counting = counting

    async def _after_publish_hook(self) -> None:
        print(f"{CRASH_MARKER} {self._counting.last_batch}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


async def run(args: argparse.Namespace) -> int:
    settings = Settings(database_url=args.database_url, log_json=False)
    engine = create_engine(settings, args.database_url, pool_size=2)
    bus = CountingBus(BrokerNames(args.prefix).bus(args.broker_url))
    await bus.start()
    outbox = messaging_tables(args.schema).outbox
    relay: OutboxRelay
    if args.crash_after_publish:
        relay = CrashAfterPublishRelay(
            engine, bus, [outbox], batch_size=args.batch_size, poll_interval_s=0.05, counting=bus
        )
    else:
        relay = OutboxRelay(engine, bus, [outbox], batch_size=args.batch_size, poll_interval_s=0.05)
    try:
        published = await relay.drain(max_passes=50)
        print(f"drained {published}", flush=True)
    finally:
        await bus.close()
        await engine.dispose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--broker-url", required=True)
    parser.add_argument("--prefix", required=True, help="the test's unique exchange/queue prefix")
    parser.add_argument("--schema", required=True, help="the scratch schema holding the outbox")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--crash-after-publish", action="store_true")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
