"""The simulated provider running inside this process: the zero-configuration default.

With no ``ORDERLY_PAYMENT_PROVIDER_URL``, the payments module starts the
simulator on 127.0.0.1 (any free port unless ``payment_sim_port`` says) as
one of its background tasks, and the HTTP adapter waits for its address.
Its webhooks go straight to this process's webhook endpoint through an ASGI
transport, so they work whatever port ``orderly serve`` listens on; set
``ORDERLY_PAYMENT_SIM_WEBHOOK_URL`` to send them over the network instead.

This only makes sense for one process: the simulator's state is in memory. A
deployment with separate API and worker processes runs ``orderly payment-sim``
once and points every process at it.
"""

from __future__ import annotations

import asyncio

import httpx
import structlog
from fastapi import APIRouter, FastAPI

from orderly.paymentsim.config import Faults, SimulatorConfig, WebhookConfig
from orderly.paymentsim.server import RunningSimulator
from orderly.platform.http.problems import install_problem_handlers
from orderly.platform.settings import Settings

log = structlog.get_logger(module="payments.embedded")

_IN_PROCESS_BASE = "http://orderly.in-process"


class EmbeddedProvider:
    def __init__(self, settings: Settings, webhook_router: APIRouter) -> None:
        self._settings = settings
        self._webhook_router = webhook_router
        self._ready = asyncio.Event()
        self._url: str | None = None

    async def url(self, timeout_s: float = 10.0) -> str:
        """The simulator's base URL, once it listens."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._ready.wait()
        except TimeoutError:
            raise httpx.ConnectError(
                "the embedded payment simulator is not running in this process"
                " (it starts with the background tasks; set ORDERLY_PAYMENT_PROVIDER_URL otherwise)"
            ) from None
        assert self._url is not None
        return self._url

    def config(self) -> SimulatorConfig:
        s = self._settings
        return SimulatorConfig(
            faults=Faults(
                latency_ms=s.payment_sim_latency_ms,
                decline_rate=s.payment_sim_decline_rate,
                error_rate=s.payment_sim_error_rate,
                timeout_rate=s.payment_sim_timeout_rate,
                charge_then_error_rate=s.payment_sim_charge_then_error_rate,
                # Longer than Orderly waits, so a "timeout" is one.
                timeout_delay_s=s.payment_provider_timeout_s * 2,
            ),
            webhooks=WebhookConfig(
                url=s.payment_sim_webhook_url or f"{_IN_PROCESS_BASE}/v1/payments/webhooks/sim",
                secret=s.payment_webhook_secret.get_secret_value(),
            ),
            seed=s.payment_sim_seed,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Background task: serve the simulator until ``stop``."""
        webhook_client = None if self._settings.payment_sim_webhook_url else self._in_process_client()
        simulator = RunningSimulator(
            self.config(), port=self._settings.payment_sim_port, webhook_client=webhook_client
        )
        try:
            self._url = await simulator.start()
            self._ready.set()
            log.info("embedded payment simulator listening", url=self._url)
            await stop.wait()
        finally:
            self._ready.clear()
            await simulator.stop()
            if webhook_client is not None:
                await webhook_client.aclose()

    def _in_process_client(self) -> httpx.AsyncClient:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        install_problem_handlers(app)
        app.include_router(self._webhook_router)
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=_IN_PROCESS_BASE, timeout=10
        )
