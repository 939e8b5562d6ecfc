"""Delivering events to the merchant (Orderly): signed, retried with backoff.

Each event is delivered by its own task, so one slow or failing delivery never
holds up the others; that also means events about one intent may arrive out
of order, as they do from real providers. A delivery is re-signed on every
attempt (fresh timestamp) and retried on anything but a 2xx, with
exponential backoff and jitter, up to ``max_attempts``; then it is kept in
``failed`` and can be redelivered by hand.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import httpx
import orjson
import structlog

from orderly.paymentsim.config import WebhookConfig
from orderly.paymentsim.signing import SIGNATURE_HEADER, signature_header

log = structlog.get_logger(module="paymentsim.webhooks")

JsonDict = dict[str, Any]


class WebhookSender:
    def __init__(self, config: WebhookConfig, *, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._client = client
        self._owns_client = client is None
        self._tasks: set[asyncio.Task[None]] = set()
        self.events: dict[str, JsonDict] = {}
        self.failed: set[str] = set()
        self.counts: Counter[str] = Counter()
        self._rng = random.Random()

    @property
    def enabled(self) -> bool:
        return self.config.url is not None

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.config.timeout_s)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def enqueue(self, event: JsonDict) -> None:
        """Called synchronously by the simulator right after a state change."""
        self.events[event["id"]] = event
        if not self.enabled:
            return
        self._spawn(event, initial_delay_s=self.config.initial_delay_s)

    def redeliver(self, event_id: str) -> bool:
        event = self.events.get(event_id)
        if event is None or not self.enabled:
            return False
        self.failed.discard(event_id)
        self._spawn(event, initial_delay_s=0.0)
        return True

    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait until no delivery is in progress (tests, shutdown)."""
        async with asyncio.timeout(timeout_s):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def stats(self) -> JsonDict:
        return {**dict(self.counts), "in_progress": len(self._tasks), "failed": len(self.failed)}

    def _spawn(self, event: JsonDict, *, initial_delay_s: float) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(event, initial_delay_s))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, event: JsonDict, initial_delay_s: float) -> None:
        if initial_delay_s > 0:
            await asyncio.sleep(initial_delay_s)
        body = orjson.dumps(event)
        config = self.config
        for attempt in range(1, config.max_attempts + 1):
            if await self._attempt(event, body):
                self.counts["delivered"] += 1
                return
            self.counts["attempts_failed"] += 1
            if attempt < config.max_attempts:
                ceiling = min(config.backoff_cap_s, config.backoff_base_s * 2 ** (attempt - 1))
                await asyncio.sleep(self._rng.uniform(ceiling / 2, ceiling))
        self.failed.add(event["id"])
        self.counts["gave_up"] += 1
        log.warning("webhook abandoned", event_id=event["id"], event_type=event["type"])

    async def _attempt(self, event: JsonDict, body: bytes) -> bool:
        assert self._client is not None
        assert self.config.url is not None
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(self.config.secret, body),
        }
        try:
            response = await self._client.post(
                self.config.url, content=body, headers=headers, timeout=self.config.timeout_s
            )
        except httpx.HTTPError as exc:
            log.info("webhook attempt failed", event_id=event["id"], error=type(exc).__name__)
            return False
        if response.is_success:
            return True
        log.info("webhook refused", event_id=event["id"], status=response.status_code)
        return False
