"""Orderly's payments module wired to a real simulated provider, both in this process.

The simulator listens on 127.0.0.1 (a free port) and Orderly calls it over
real HTTP, with real timeouts. Its webhooks are posted, signed, to Orderly's
real app (the composition root's ``create_app``) through an ASGI transport.
The identity module runs too, as the issuer of the staff token that ``api``
sends to the staff endpoints; webhooks go without one, as the provider's do.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.entrypoints.api import create_app
from orderly.entrypoints.bootstrap import build_container
from orderly.modules.payments.adapters import tables
from orderly.modules.payments.adapters.facade import SqlPaymentsApi
from orderly.modules.payments.module import PaymentsModule
from orderly.paymentsim.config import Faults, SimulatorConfig, WebhookConfig
from orderly.paymentsim.server import RunningSimulator
from orderly.platform.settings import Settings
from tests.support.http import StaffToken

ORDERLY_BASE = "http://orderly.test"
WEBHOOK_PATH = "/v1/payments/webhooks/sim"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def payment_settings(settings: Settings, port: int, **overrides: Any) -> Settings:
    """Short timeouts and backoffs, so fault tests take seconds, not minutes."""
    values: dict[str, Any] = {
        "payment_provider_url": f"http://127.0.0.1:{port}",
        "payment_provider_timeout_s": 0.3,
        "payment_provider_max_attempts": 4,
        "payment_provider_backoff_base_s": 0.01,
        "payment_provider_backoff_cap_s": 0.05,
        "payment_breaker_threshold": 50,
        "payment_breaker_cooldown_s": 0.3,
        "payment_release_grace_s": 0.0,
        "payment_stale_after_s": 0.0,
    }
    values.update(overrides)
    return settings.model_copy(update=values)


@dataclass
class Harness:
    settings: Settings
    engine: AsyncEngine
    module: PaymentsModule
    simulator: RunningSimulator
    sim: httpx.AsyncClient
    # An admin's client (payments:read and payments:write), and the anonymous
    # one the provider's webhooks come through.
    api: httpx.AsyncClient
    webhooks: httpx.AsyncClient

    @property
    def facade(self) -> SqlPaymentsApi:
        return self.module.facade()

    async def set_faults(self, **faults: float) -> None:
        response = await self.sim.patch("/v1/_sim/faults", json=faults)
        assert response.status_code == 200, response.text

    async def sim_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = (await self.sim.get("/v1/_sim/stats")).json()
        return stats

    async def intent(self, payment_id: uuid.UUID) -> dict[str, Any] | None:
        found = (await self.sim.get("/v1/payment_intents", params={"reference": str(payment_id)})).json()[
            "data"
        ]
        return found[0] if found else None

    async def intents(self) -> dict[str, dict[str, Any]]:
        """Every intent at the provider, by the payment id it was made for."""
        return {i["reference"]: i for i in (await self.sim.get("/v1/payment_intents")).json()["data"]}

    async def drain_webhooks(self, timeout_s: float = 10.0) -> None:
        await self.simulator.service.webhooks.drain(timeout_s)

    async def outbox_types(self) -> list[str]:
        async with self.engine.connect() as conn:
            rows = await conn.scalars(select(tables.outbox.c.event_type).order_by(tables.outbox.c.id))
            return list(rows)

    async def inbox_count(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(tables.inbox)) or 0)


@asynccontextmanager
async def harness(
    settings: Settings,
    engine: AsyncEngine,
    database_url: str,
    *,
    faults: Faults | None = None,
    webhooks: bool = True,
    webhook_delay_s: float = 0.0,
    seed: int | None = 7,
    **setting_overrides: Any,
) -> AsyncIterator[Harness]:
    port = free_port()
    test_settings = payment_settings(settings, port, **setting_overrides)
    container = build_container(
        test_settings, database_url=database_url, module_names=["identity", "payments"]
    )
    module = next(m for m in container.modules if isinstance(m, PaymentsModule))
    app = create_app(container, run_background=False)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with (
            httpx.AsyncClient(
                transport=transport, base_url=ORDERLY_BASE, timeout=30, auth=StaffToken(app, role="admin")
            ) as api,
            httpx.AsyncClient(transport=transport, base_url=ORDERLY_BASE, timeout=30) as webhook_client,
        ):
            config = SimulatorConfig(
                faults=faults or Faults(),
                webhooks=WebhookConfig(
                    url=ORDERLY_BASE + WEBHOOK_PATH if webhooks else None,
                    secret=test_settings.payment_webhook_secret.get_secret_value(),
                    initial_delay_s=webhook_delay_s,
                    backoff_base_s=0.02,
                    backoff_cap_s=0.2,
                    max_attempts=5,
                ),
                seed=seed,
            )
            async with (
                RunningSimulator(config, port=port, webhook_client=webhook_client) as simulator,
                httpx.AsyncClient(base_url=simulator.url, timeout=10) as sim,
            ):
                try:
                    yield Harness(test_settings, engine, module, simulator, sim, api, webhook_client)
                finally:
                    await module.provider.aclose()
                    # Let deliveries still in flight land before the app goes away.
                    await asyncio.sleep(0)
