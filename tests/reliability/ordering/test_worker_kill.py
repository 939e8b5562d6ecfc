"""kill -9 of the worker process while sagas run, again and again, then a last worker left alone.

The real several-process shape: this test process serves the API and runs the
relay (publishing to RabbitMQ); ``orderly worker`` runs in a subprocess with
every consumer and sweep; the payment provider runs here so its books outlive
the workers. The worker is killed with SIGKILL at random moments (mid-step:
a reservation made and not recorded, a capture made and not recorded, a
message half handled and never acknowledged) and started again. Once a last
worker has drained the queue: every order confirmed, exactly one capture each,
no stock left reserved.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.entrypoints.registry import MODULES
from orderly.paymentsim.config import DEV_WEBHOOK_SECRET, Faults, SimulatorConfig, WebhookConfig
from orderly.paymentsim.server import RunningSimulator
from orderly.platform.settings import Settings
from tests.integration.ordering.support import shop
from tests.reliability.ordering.support import assert_books_balance, scale, settle
from tests.support.messaging import BrokerNames, broker_names

pytestmark = pytest.mark.slow

ORDERS = scale(local=12, full=40)
KILLS = scale(local=4, full=8)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest_asyncio.fixture
async def provider() -> AsyncIterator[RunningSimulator]:
    config = SimulatorConfig(
        faults=Faults(latency_ms=30), webhooks=WebhookConfig(url=None, secret=DEV_WEBHOOK_SECRET), seed=3
    )
    async with RunningSimulator(config, port=free_port()) as simulator:
        yield simulator


class Worker:
    """``orderly worker`` in a subprocess, started until it says it is consuming."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, timeout_s: float = 60) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orderly", "worker",
            env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        assert self.process.stdout is not None
        seen: list[bytes] = []
        async with asyncio.timeout(timeout_s):
            while True:
                line = await self.process.stdout.readline()
                assert line, "the worker exited during start-up:\n" + b"".join(seen[-40:]).decode(
                    errors="replace"
                )
                seen.append(line)
                if b"worker consuming" in line:
                    break
        # Keep draining its output so the pipe never fills and blocks it.
        asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        while await self.process.stdout.readline():
            pass

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=20)
            except TimeoutError:
                await self.kill()


def worker_env(database_url: str, broker_url: str, names: BrokerNames, sim_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "ORDERLY_DATABASE_URL": database_url,
        "ORDERLY_BROKER_URL": broker_url,
        "ORDERLY_EXCHANGE_NAME": names.exchange,
        "ORDERLY_QUEUE_PREFIX": names.prefix,
        "ORDERLY_PAYMENT_PROVIDER_URL": sim_url,
        "ORDERLY_PAYMENT_PROVIDER_TIMEOUT_S": "1.0",
        "ORDERLY_PAYMENT_STALE_AFTER_S": "2",
        "ORDERLY_PAYMENT_SWEEP_INTERVAL_S": "0.5",
        "ORDERLY_PAYMENT_RELEASE_GRACE_S": "0",
        "ORDERLY_ORDERING_STEP_TIMEOUT_S": "1.5",
        "ORDERLY_ORDERING_SWEEP_INTERVAL_S": "0.3",
        "ORDERLY_LOG_LEVEL": "INFO",
    }


class TestWorkerKilled:
    async def test_sagas_survive_sigkill_of_the_worker_at_random_moments(
        self,
        settings: Settings,
        database_url: str,
        engine: AsyncEngine,
        broker_url: str,
        unique_prefix: str,
        provider: RunningSimulator,
    ) -> None:
        consumers = [consumer for module in MODULES.values() for consumer, _ in module.consumes]
        rng = random.Random(7)
        async with (
            broker_names(broker_url, unique_prefix, consumers) as names,
            shop(
                settings,
                database_url,
                engine,
                run_background=False,
                sim_url=provider.url,
                broker_url=broker_url,
                exchange_name=names.exchange,
                queue_prefix=names.prefix,
            ) as s,
        ):
            stop = asyncio.Event()
            relay = asyncio.create_task(s.container.relay().run_forever(stop))
            worker = Worker(worker_env(database_url, broker_url, names, provider.url))
            try:
                await worker.start()
                await s.product("MUG-1", stock=ORDERS * 2)
                for _ in range(ORDERS):
                    response = await s.checkout(s.cart(("MUG-1", 1)))
                    assert response.status_code == 201, response.text
                kills = 0
                started = time.monotonic()
                for _ in range(KILLS):
                    await asyncio.sleep(rng.uniform(0.2, 1.2))
                    await worker.kill()
                    kills += 1
                    await worker.start()
                settled_s = await settle(engine, timeout_s=90)
                by_status = await assert_books_balance(s, sku="MUG-1", initial_stock=ORDERS * 2)
                assert by_status == {"confirmed": ORDERS}, by_status
                print(
                    f"\nworker killed {kills} times; {ORDERS} orders confirmed, one capture each; "
                    f"{time.monotonic() - started:.1f} s from the first kill, "
                    f"settled {settled_s:.1f} s after the last"
                )
            finally:
                await worker.stop()
                stop.set()
                await relay
