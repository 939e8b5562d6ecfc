"""The worker dies at each saga step, after the other module acted and before ordering recorded it.

For each step, a first app (the worker that crashes) runs the saga with a hook
that raises at that point on every attempt, as a process killed there would
stop: inventory has reserved, or confirmed; the provider has authorized, or
captured; compensation has released and voided; ordering knows none of it and
its message was never acknowledged (the relay's transaction died with it).
Then a second app starts on the same database and the same provider (a
restart): its relay delivers the message again, and its sweep runs again any
step whose deadline passed. Every order must end in a terminal
state, nothing captured twice, no stock left reserved.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.ordering.domain.saga import SagaStep
from orderly.paymentsim.config import DEV_WEBHOOK_SECRET, Faults, SimulatorConfig, WebhookConfig
from orderly.paymentsim.server import RunningSimulator
from orderly.platform.settings import Settings
from tests.integration.ordering.support import shop
from tests.reliability.ordering.support import assert_books_balance, settle

pytestmark = pytest.mark.slow

ORDERS_PER_STEP = 3
STOCK = 20


class SimulatedCrash(BaseException):
    """The process dying: not an Exception, so nothing on the way up handles it as an error."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest_asyncio.fixture
async def provider() -> AsyncIterator[RunningSimulator]:
    """One provider for both lives of the worker (its books must survive the restart)."""
    config = SimulatorConfig(
        faults=Faults(), webhooks=WebhookConfig(url=None, secret=DEV_WEBHOOK_SECRET), seed=5
    )
    async with RunningSimulator(config, port=free_port()) as simulator:
        yield simulator


class TestCrashAtEachStep:
    @pytest.mark.parametrize(
        "step",
        [
            SagaStep.RESERVE_STOCK,
            SagaStep.AUTHORIZE_PAYMENT,
            SagaStep.CONFIRM_STOCK,
            SagaStep.CAPTURE_PAYMENT,
            SagaStep.COMPENSATE,
        ],
    )
    async def test_a_restart_finishes_every_saga_without_double_capture_or_leaked_stock(
        self,
        settings: Settings,
        database_url: str,
        engine: AsyncEngine,
        provider: RunningSimulator,
        step: SagaStep,
    ) -> None:
        declines = step is SagaStep.COMPENSATE
        provider.service.simulator.faults = Faults(decline_rate=1.0 if declines else 0.0)
        common: dict[str, Any] = {"ordering_step_timeout_s": 0.5}

        crashes = 0

        async def die_here(current: SagaStep) -> None:
            nonlocal crashes
            if current is step:
                crashes += 1
                raise SimulatedCrash

        async with shop(
            settings, database_url, engine, run_background=False, sim_url=provider.url, **common
        ) as first_life:
            # Before the first pump: the consumers are built from the deps then.
            first_life.ordering.deps = replace(first_life.ordering.deps, after_step_effects=die_here)
            await first_life.product("MUG-1", stock=STOCK)
            for _ in range(ORDERS_PER_STEP):
                response = await first_life.checkout(first_life.cart(("MUG-1", 2)))
                assert response.status_code == 201, response.text
            # Each pass dies at the first message that reaches the step; the others
            # (other partitions) get further on the next pass, as a restarted worker would.
            for _ in range(3 * ORDERS_PER_STEP):
                try:
                    await first_life.pump()
                    break
                except SimulatedCrash:
                    continue
            # (A crash after authorizing or capturing may be healed before the restart:
            # payments' own events reach the saga through another consumer.)
            assert crashes >= 1, f"the saga never reached {step.value}"

        provider.service.simulator.faults = Faults(decline_rate=1.0 if declines else 0.0)
        async with shop(settings, database_url, engine, sim_url=provider.url, **common) as second_life:
            await settle(engine, timeout_s=30)
            by_status = await assert_books_balance(second_life, sku="MUG-1", initial_stock=STOCK)
            expected = "payment_failed" if declines else "confirmed"
            assert by_status == {expected: ORDERS_PER_STEP}, by_status
