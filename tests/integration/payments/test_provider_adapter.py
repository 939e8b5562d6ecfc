"""The HTTP adapter against the real simulated provider, on a real socket on 127.0.0.1.

Each test injects one kind of fault and checks both sides: what the adapter
answers, and what the provider actually did (its request and capture counts).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from orderly.modules.payments.adapters.provider_http import HttpPaymentProvider
from orderly.modules.payments.application.ports import ProviderRejected, ProviderUnavailable
from orderly.modules.payments.domain.model import ProviderStatus
from orderly.paymentsim.config import Faults, SimulatorConfig
from orderly.paymentsim.server import RunningSimulator
from orderly.shared_kernel.money import Money

TEN_EUR = Money(Decimal("10.00"), "EUR")


class Provider:
    """The adapter plus a plain client on the simulator's control panel."""

    def __init__(self, simulator: RunningSimulator, **options: Any) -> None:
        defaults: dict[str, Any] = {
            "timeout_s": 0.2,
            "max_attempts": 4,
            "backoff_base_s": 0.01,
            "backoff_cap_s": 0.05,
            "breaker_threshold": 100,
            "breaker_cooldown_s": 0.3,
            "rng": random.Random(1),
        }
        defaults.update(options)
        self.adapter = HttpPaymentProvider(base_url=simulator.url, **defaults)
        self.control = httpx.AsyncClient(base_url=simulator.url)

    async def faults(self, **faults: float) -> None:
        assert (await self.control.patch("/v1/_sim/faults", json=faults)).status_code == 200

    async def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = (await self.control.get("/v1/_sim/stats")).json()
        return stats

    async def captures(self, intent_id: str) -> int:
        count: int = (await self.control.get(f"/v1/payment_intents/{intent_id}/captures")).json()["count"]
        return count

    async def authorize(self, reference: str = "pay-1") -> Any:
        return await self.adapter.authorize(
            idempotency_key=f"{reference}:authorize",
            reference=reference,
            amount=TEN_EUR,
            customer=None,
            metadata={},
        )

    async def close(self) -> None:
        await self.adapter.aclose()
        await self.control.aclose()


@pytest.fixture
async def simulator() -> AsyncIterator[RunningSimulator]:
    # Slow "timeouts" are only slightly longer than the adapter waits (0.2 s).
    async with RunningSimulator(SimulatorConfig(faults=Faults(timeout_delay_s=0.4), seed=3)) as running:
        yield running


@pytest.fixture
async def provider(simulator: RunningSimulator) -> AsyncIterator[Provider]:
    p = Provider(simulator)
    try:
        yield p
    finally:
        await p.close()


class TestRetriesNeverChargeTwice:
    async def test_capture_answered_500_after_the_charge_is_retried_and_charged_once(
        self, provider: Provider
    ) -> None:
        intent = await provider.authorize()
        await provider.faults(charge_then_error_rate=1.0)

        captured = await provider.adapter.capture(
            idempotency_key="pay-1:capture", provider_intent_id=intent.provider_intent_id
        )

        assert captured.status is ProviderStatus.CAPTURED
        assert captured.amount_captured == TEN_EUR
        assert await provider.captures(intent.provider_intent_id) == 1
        stats = await provider.stats()
        assert stats["requests"]["capture"] == 2  # the 500, then the replay of the first outcome
        assert stats["faults_injected"]["charge_then_error"] == 1

    async def test_later_capture_with_the_same_key_replays_instead_of_charging(
        self, provider: Provider
    ) -> None:
        intent = await provider.authorize()
        await provider.faults(charge_then_error_rate=1.0)
        for _ in range(3):
            await provider.adapter.capture(
                idempotency_key="pay-1:capture", provider_intent_id=intent.provider_intent_id
            )
        assert await provider.captures(intent.provider_intent_id) == 1
        assert (await provider.stats())["captures"] == 1

    async def test_concurrent_captures_of_one_operation_charge_once(self, provider: Provider) -> None:
        intent = await provider.authorize()
        await provider.faults(latency_ms=50)
        results = await asyncio.gather(
            *(
                provider.adapter.capture(
                    idempotency_key="pay-1:capture", provider_intent_id=intent.provider_intent_id
                )
                for _ in range(5)
            )
        )
        assert {r.status for r in results} == {ProviderStatus.CAPTURED}
        assert await provider.captures(intent.provider_intent_id) == 1

    async def test_authorization_failing_before_any_work_is_retried_to_a_single_intent(
        self, simulator: RunningSimulator
    ) -> None:
        # Seeded: the first draws fail, a later attempt gets through.
        provider = Provider(simulator, max_attempts=10)
        try:
            await provider.faults(error_rate=0.6)
            result = await provider.authorize()
            stats = await provider.stats()
        finally:
            await provider.close()
        assert result.status is ProviderStatus.AUTHORIZED
        assert stats["intents"] == 1
        assert stats["requests"]["authorize"] == stats["faults_injected"]["error"] + 1 > 1


class TestTimeouts:
    async def test_timed_out_authorization_is_retried_and_answered_with_the_first_outcome(
        self, provider: Provider
    ) -> None:
        await provider.faults(timeout_rate=1.0)
        started = time.monotonic()
        result = await provider.authorize()
        elapsed = time.monotonic() - started
        assert result.status is ProviderStatus.AUTHORIZED
        stats = await provider.stats()
        assert stats["intents"] == 1
        assert stats["requests"]["authorize"] == 2
        assert provider.adapter.attempts == 2
        assert 0.2 <= elapsed < 1.0  # one deadline waited out, then a fast replay

    async def test_provider_that_never_answers_in_time_is_unavailable_after_the_attempts(
        self, simulator: RunningSimulator
    ) -> None:
        # The first attempt is held before any work (latency up to a minute);
        # the retries find it still running ("in progress", 409), which is
        # retried too, until the attempts run out.
        provider = Provider(simulator, max_attempts=3, backoff_base_s=0.001, backoff_cap_s=0.001)
        try:
            await provider.faults(latency_ms=60_000)
            with pytest.raises(ProviderUnavailable) as caught:
                await provider.authorize("slow")
            stats = await provider.stats()
        finally:
            await provider.close()
        assert caught.value.reason == "timeout"
        assert provider.adapter.attempts == 3
        assert stats["intents"] == 0
        assert stats["requests"]["authorize"] == 3

    async def test_unreachable_provider_is_unavailable_with_reason_error(self) -> None:
        adapter = HttpPaymentProvider(
            base_url="http://127.0.0.1:9", timeout_s=0.2, max_attempts=2, backoff_base_s=0.001
        )
        try:
            with pytest.raises(ProviderUnavailable) as caught:
                await adapter.find(reference="x")
        finally:
            await adapter.aclose()
        assert caught.value.reason == "error"
        assert adapter.attempts == 2


class TestDeclinesAndRefusals:
    async def test_decline_is_an_answer_and_is_not_retried(self, provider: Provider) -> None:
        await provider.faults(decline_rate=1.0)
        result = await provider.authorize()
        assert result.status is ProviderStatus.DECLINED
        assert result.decline_code
        assert provider.adapter.attempts == 1
        assert (await provider.stats())["requests"]["authorize"] == 1

    async def test_capture_of_a_voided_intent_is_refused_with_the_intent_attached(
        self, provider: Provider
    ) -> None:
        intent = await provider.authorize()
        await provider.adapter.void(
            idempotency_key="pay-1:void", provider_intent_id=intent.provider_intent_id
        )
        with pytest.raises(ProviderRejected) as caught:
            await provider.adapter.capture(
                idempotency_key="pay-1:capture", provider_intent_id=intent.provider_intent_id
            )
        assert caught.value.code == "intent_unexpected_state"
        assert caught.value.view is not None
        assert caught.value.view.status is ProviderStatus.VOIDED
        assert provider.adapter.attempts == 3

    async def test_partial_refunds_add_up_and_over_refund_is_refused(self, provider: Provider) -> None:
        intent = await provider.authorize()
        pid = intent.provider_intent_id
        await provider.adapter.capture(idempotency_key="c", provider_intent_id=pid)
        three = Money(Decimal("3.00"), "EUR")
        first = await provider.adapter.refund(
            idempotency_key="r1", provider_intent_id=pid, amount=three, reference="a"
        )
        assert first.status is ProviderStatus.PARTIALLY_REFUNDED
        with pytest.raises(ProviderRejected) as caught:
            await provider.adapter.refund(
                idempotency_key="r2",
                provider_intent_id=pid,
                amount=Money(Decimal("7.01"), "EUR"),
                reference="b",
            )
        assert caught.value.code == "amount_invalid"
        last = await provider.adapter.refund(
            idempotency_key="r3", provider_intent_id=pid, amount=Money(Decimal("7.00"), "EUR"), reference="c"
        )
        assert last.status is ProviderStatus.REFUNDED
        assert [r.reference for r in last.refunds] == ["a", "c"]


class TestCircuitBreaker:
    async def test_circuit_opens_after_repeated_failures_then_closes_after_the_cool_down(
        self, simulator: RunningSimulator
    ) -> None:
        provider = Provider(simulator, max_attempts=2, breaker_threshold=3, breaker_cooldown_s=0.3)
        try:
            await provider.faults(error_rate=1.0)
            with pytest.raises(ProviderUnavailable):
                await provider.authorize("a")  # 2 failed attempts
            with pytest.raises(ProviderUnavailable) as third:
                await provider.authorize("b")  # the 3rd failure opens the circuit
            assert third.value.reason == "circuit_open"
            assert await provider.adapter.circuit_state() == "opened"
            sent = (await provider.stats())["requests"]["authorize"]
            assert sent == 3

            # Open: refused at once, nothing reaches the provider.
            with pytest.raises(ProviderUnavailable) as refused:
                await provider.authorize("c")
            assert refused.value.reason == "circuit_open"
            assert (await provider.stats())["requests"]["authorize"] == sent

            await provider.faults(error_rate=0.0)
            await asyncio.sleep(0.35)
            result = await provider.authorize("d")
            assert result.status is ProviderStatus.AUTHORIZED
            assert await provider.adapter.circuit_state() == "closed"
        finally:
            await provider.close()

    async def test_declines_do_not_open_the_circuit(self, simulator: RunningSimulator) -> None:
        provider = Provider(simulator, breaker_threshold=2)
        try:
            await provider.faults(decline_rate=1.0)
            for n in range(5):
                assert (await provider.authorize(f"d{n}")).status is ProviderStatus.DECLINED
            assert await provider.adapter.circuit_state() == "closed"
        finally:
            await provider.close()
