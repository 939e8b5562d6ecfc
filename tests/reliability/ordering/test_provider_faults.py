"""Checkouts against a payment provider that declines 20% and fails 10% (errors, timeouts, and
errors after the money moved). Once the queue drained: no order stuck, captures equal confirmed
orders (one each), nothing left held at the provider for an order that did not go through, and
no stock reserved (no order is open any more)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.paymentsim.config import DEV_WEBHOOK_SECRET, Faults, SimulatorConfig, WebhookConfig
from orderly.paymentsim.server import RunningSimulator
from orderly.platform.settings import Settings
from tests.integration.ordering.support import shop
from tests.reliability.ordering.support import assert_books_balance, scale, settle

pytestmark = pytest.mark.slow

CHECKOUTS = scale(local=40, full=200)
CONCURRENCY = 10
FAULTS = Faults(
    latency_ms=10,
    decline_rate=0.20,
    error_rate=0.04,
    timeout_rate=0.03,
    charge_then_error_rate=0.03,
    timeout_delay_s=0.6,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest_asyncio.fixture
async def provider() -> AsyncIterator[RunningSimulator]:
    config = SimulatorConfig(
        faults=FAULTS, webhooks=WebhookConfig(url=None, secret=DEV_WEBHOOK_SECRET), seed=11
    )
    async with RunningSimulator(config, port=free_port()) as simulator:
        yield simulator


class TestProviderFaults:
    async def test_after_the_queue_drains_money_stock_and_orders_agree(
        self, settings: Settings, database_url: str, engine: AsyncEngine, provider: RunningSimulator
    ) -> None:
        async with shop(
            settings,
            database_url,
            engine,
            sim_url=provider.url,
            payment_provider_timeout_s=0.4,
            payment_provider_max_attempts=3,
            payment_stale_after_s=1.0,
            payment_sweep_interval_s=0.3,
            ordering_step_timeout_s=1.0,
        ) as s:
            await s.product("MUG-1", stock=CHECKOUTS * 2)
            gate = asyncio.Semaphore(CONCURRENCY)

            async def buy() -> None:
                async with gate:
                    response = await s.checkout(s.cart(("MUG-1", 1)))
                    assert response.status_code == 201, response.text

            started = time.monotonic()
            await asyncio.gather(*(buy() for _ in range(CHECKOUTS)))
            settled_s = await settle(engine, timeout_s=60 + CHECKOUTS * 0.3)
            # Holds Orderly gave up on are voided by the payments sweep a moment later.
            deadline = time.monotonic() + 30
            while True:
                try:
                    by_status = await assert_books_balance(s, sku="MUG-1", initial_stock=CHECKOUTS * 2)
                    break
                except AssertionError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
            assert set(by_status) <= {"confirmed", "payment_failed"}, by_status
            assert sum(by_status.values()) == CHECKOUTS
            assert by_status.get("payment_failed", 0) > 0, "no fault struck: the test did not test that"
            stats = await s.sim("/v1/_sim/stats")
            assert stats["captures"] == by_status["confirmed"]
            print(
                f"\nprovider faults: {CHECKOUTS} checkouts -> {by_status}; "
                f"faults {stats['faults_injected']}; "
                f"settled {settled_s:.1f} s after intake, {time.monotonic() - started:.1f} s in all"
            )
