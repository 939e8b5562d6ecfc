"""The payment provider port over HTTP, for the simulated provider's API.

Resilience, from the inside out:

* each attempt has a total deadline (``timeout_s``), whatever the server does;
* only failures that say nothing about the outcome are retried: timeouts,
  connection errors, 5xx, and the provider's "this key is still being
  processed" (409). A decline or any other 4xx is an answer and is returned or
  raised at once;
* every attempt of one logical operation carries the same ``Idempotency-Key``
  (chosen by the caller from the payment id and the operation), so a retry
  after a lost answer can never charge twice: the provider replays the first
  outcome;
* retries wait a "full jitter" exponential backoff, so a crowd of clients that
  failed together does not come back together;
* a circuit breaker (purgatory) counts consecutive failed attempts; once open
  it refuses calls at once for ``breaker_cooldown_s``, then lets calls through
  again and closes on the first success.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import httpx
import structlog
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from orderly.modules.payments.application.ports import (
    ProviderRejected,
    ProviderUnavailable,
    UnavailableReason,
)
from orderly.modules.payments.domain.model import ProviderRefundView, ProviderStatus, ProviderView
from orderly.shared_kernel.money import Money, minor_units

log = structlog.get_logger(module="payments.provider")

CIRCUIT = "payment-provider"
# The provider answers 409 with this code while a request with the same key is
# still running: the outcome is not known yet, so it is worth asking again.
KEY_IN_USE = "idempotency_key_in_use"

BaseUrl = str | Callable[[], Awaitable[str]]


class _AttemptFailed(Exception):
    """One attempt ended without telling us the outcome (counted by the breaker)."""

    def __init__(self, reason: UnavailableReason, detail: str) -> None:
        super().__init__(detail)
        self.reason: UnavailableReason = reason


class HttpPaymentProvider:
    def __init__(
        self,
        *,
        base_url: BaseUrl,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = 2.0,
        max_attempts: int = 4,
        backoff_base_s: float = 0.1,
        backoff_cap_s: float = 2.0,
        breaker_threshold: int = 5,
        breaker_cooldown_s: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        self._base_url = base_url
        self._client = client or httpx.AsyncClient(timeout=timeout_s)
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._rng = rng or random.Random()
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=breaker_threshold, default_ttl=breaker_cooldown_s
        )
        self._breakers.add_listener(self._on_breaker_event)
        self.attempts = 0  # every HTTP request sent, for tests and metrics

    async def aclose(self) -> None:
        await self._client.aclose()

    async def circuit_state(self) -> str:
        """``closed``, ``opened`` or ``half-opened``."""
        return (await self._breakers.get_breaker(CIRCUIT)).context.state

    # -- the port ----------------------------------------------------------------------

    async def authorize(
        self,
        *,
        idempotency_key: str,
        reference: str,
        amount: Money,
        customer: str | None,
        metadata: Mapping[str, str],
    ) -> ProviderView:
        body = {
            "amount": to_minor(amount),
            "currency": amount.currency,
            "reference": reference,
            "customer": customer,
            "metadata": dict(metadata),
        }
        response = await self._send("POST", "/v1/payment_intents", json=body, key=idempotency_key)
        if response.status_code in (200, 201, 402):  # 402: declined, still an intent
            return parse_intent(response.json())
        code, message, _ = _error(response)
        if code == "reference_in_use":
            # The intent exists under another key (ours was lost): adopt it.
            found = await self.find(reference=reference)
            if found is not None:
                return found
        raise ProviderRejected(code, message)

    async def capture(self, *, idempotency_key: str, provider_intent_id: str) -> ProviderView:
        return await self._mutate(f"/v1/payment_intents/{provider_intent_id}/capture", idempotency_key, None)

    async def void(self, *, idempotency_key: str, provider_intent_id: str) -> ProviderView:
        return await self._mutate(f"/v1/payment_intents/{provider_intent_id}/void", idempotency_key, None)

    async def refund(
        self, *, idempotency_key: str, provider_intent_id: str, amount: Money, reference: str
    ) -> ProviderView:
        body = {"amount": to_minor(amount), "reference": reference}
        return await self._mutate(f"/v1/payment_intents/{provider_intent_id}/refunds", idempotency_key, body)

    async def find(self, *, reference: str) -> ProviderView | None:
        response = await self._send("GET", "/v1/payment_intents", params={"reference": reference})
        if response.status_code != 200:
            code, message, _ = _error(response)
            raise ProviderRejected(code, message)
        found = response.json().get("data") or []
        return parse_intent(found[0]) if found else None

    # -- plumbing ------------------------------------------------------------------------

    async def _mutate(self, path: str, key: str, body: dict[str, Any] | None) -> ProviderView:
        response = await self._send("POST", path, json=body, key=key)
        if response.status_code == 200:
            return parse_intent(response.json())
        code, message, intent = _error(response)
        raise ProviderRejected(code, message, view=parse_intent(intent) if intent else None)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        key: str | None = None,
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        last: _AttemptFailed | None = None
        for attempt in range(1, self._max_attempts + 1):
            try:
                breaker = await self._breakers.get_breaker(CIRCUIT)
                async with breaker:
                    response = await self._attempt(method, path, json=json, params=params, headers=headers)
            except OpenedState:
                raise ProviderUnavailable("circuit_open", "the circuit breaker is open") from None
            except _AttemptFailed as exc:
                last = exc
                log.info(
                    "provider attempt failed", path=path, attempt=attempt, reason=exc.reason, error=str(exc)
                )
            else:
                if not _key_in_use(response):
                    return response
                last = _AttemptFailed("timeout", "the same request is still being processed")
            if attempt < self._max_attempts:
                await asyncio.sleep(self._backoff(attempt))
        assert last is not None
        raise ProviderUnavailable(last.reason, str(last))

    async def _attempt(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None,
        params: dict[str, str] | None,
        headers: dict[str, str],
    ) -> httpx.Response:
        self.attempts += 1
        try:
            base = self._base_url if isinstance(self._base_url, str) else await self._base_url()
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.request(
                    method, base + path, json=json, params=params, headers=headers, timeout=self._timeout_s
                )
        except (TimeoutError, httpx.TimeoutException):
            raise _AttemptFailed("timeout", f"no answer within {self._timeout_s}s") from None
        except httpx.TransportError as exc:
            raise _AttemptFailed("error", f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise _AttemptFailed("error", f"HTTP {response.status_code}")
        return response

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._backoff_cap_s, self._backoff_base_s * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)

    def _on_breaker_event(self, circuit: str, kind: str, event: object) -> None:
        if kind == "state_changed":
            log.warning("circuit breaker state changed", circuit=circuit, state=getattr(event, "state", None))


def _key_in_use(response: httpx.Response) -> bool:
    return response.status_code == 409 and _error(response)[0] == KEY_IN_USE


def _error(response: httpx.Response) -> tuple[str, str, dict[str, Any] | None]:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    intent = error.get("intent")
    return (
        str(error.get("code", f"http_{response.status_code}")),
        str(error.get("message", response.reason_phrase)),
        intent if isinstance(intent, dict) else None,
    )


def to_minor(amount: Money) -> int:
    """12.50 EUR -> 1250: the provider speaks integers in minor units."""
    return int(amount.quantized().scaleb(minor_units(amount.currency)))


def from_minor(value: int, currency: str) -> Money:
    return Money(Decimal(value).scaleb(-minor_units(currency)), currency)


def parse_intent(data: Mapping[str, Any]) -> ProviderView:
    """The provider's intent JSON (answers and webhooks share it) as a ``ProviderView``."""
    currency = str(data["currency"])
    return ProviderView(
        provider_intent_id=str(data["id"]),
        status=ProviderStatus(data["status"]),
        amount_captured=from_minor(int(data.get("amount_captured") or 0), currency),
        refunds=tuple(
            ProviderRefundView(
                provider_refund_id=str(r["id"]),
                amount=from_minor(int(r["amount"]), currency),
                reference=r.get("reference"),
            )
            for r in data.get("refunds") or ()
        ),
        decline_code=data.get("decline_code"),
    )
