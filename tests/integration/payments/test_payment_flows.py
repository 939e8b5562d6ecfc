"""The payments facade end to end: PostgreSQL, the outbox, the real simulated provider."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.payments.api import PaymentProviderUnavailable
from orderly.modules.payments.application.handlers import sweep
from orderly.modules.payments.contracts import (
    PaymentAuthorizationFailed,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentRefunded,
    PaymentVoided,
)
from orderly.modules.payments.domain.model import Payment
from orderly.paymentsim.config import Faults
from orderly.platform.settings import Settings
from orderly.shared_kernel.errors import Conflict, InvalidInput
from orderly.shared_kernel.money import Money
from tests.integration.payments.harness import Harness, harness


@pytest.fixture
async def payments(settings: Settings, engine: AsyncEngine, database_url: str) -> AsyncIterator[Harness]:
    # Webhooks off: these tests look at the synchronous path alone.
    async with harness(
        settings, engine, database_url, webhooks=False, faults=Faults(timeout_delay_s=0.6)
    ) as h:
        yield h


async def authorize(h: Harness, reference: str | None = None, amount: str = "25.00") -> uuid.UUID:
    result = await h.facade.authorize(
        payment_reference=reference or f"order-{uuid.uuid4().hex[:8]}",
        order_id=uuid.uuid4(),
        amount=Decimal(amount),
        currency="EUR",
    )
    return result.payment_id


async def run_sweep(h: Harness) -> None:
    await sweep(
        uow_factory=h.module.unit_of_work,
        provider=h.module.provider,
        stale_after=timedelta(0),
        release_grace=timedelta(0),
    )


class TestAuthorizeAndCapture:
    async def test_authorize_then_capture_charges_once_and_announces_each_step(
        self, payments: Harness
    ) -> None:
        result = await payments.facade.authorize(
            payment_reference="order-1", order_id=uuid.uuid4(), amount=Decimal("25.5"), currency="EUR"
        )
        assert (result.status, result.amount) == ("authorized", Decimal("25.50"))

        captured = await payments.facade.capture(payment_reference="order-1")
        again = await payments.facade.capture(payment_reference="order-1")

        assert captured.status == again.status == "captured"
        assert captured.captured_amount == Decimal("25.50")
        intent = await payments.intent(result.payment_id)
        assert intent is not None
        assert (intent["status"], intent["amount_captured"], len(intent["captures"])) == ("captured", 2550, 1)
        assert await payments.outbox_types() == [PaymentAuthorized.event_type, PaymentCaptured.event_type]

    async def test_authorizing_the_same_reference_twice_makes_one_intent(self, payments: Harness) -> None:
        order_id = uuid.uuid4()
        first, second = await asyncio.gather(
            *(
                payments.facade.authorize(
                    payment_reference="order-2", order_id=order_id, amount=Decimal("9.99"), currency="EUR"
                )
                for _ in range(2)
            )
        )
        assert first.payment_id == second.payment_id
        assert (await payments.sim_stats())["intents"] == 1
        assert await payments.outbox_types() == [PaymentAuthorized.event_type]

    async def test_reference_reused_for_another_amount_is_refused_and_charges_nothing(
        self, payments: Harness
    ) -> None:
        order_id = uuid.uuid4()
        await payments.facade.authorize(
            payment_reference="order-3", order_id=order_id, amount=Decimal("10"), currency="EUR"
        )
        with pytest.raises(Conflict):
            await payments.facade.authorize(
                payment_reference="order-3", order_id=order_id, amount=Decimal("11"), currency="EUR"
            )
        assert (await payments.sim_stats())["requests"]["authorize"] == 1

    async def test_declined_authorization_fails_with_the_reason_and_nothing_held(
        self, payments: Harness
    ) -> None:
        await payments.set_faults(decline_rate=1.0)
        result = await payments.facade.authorize(
            payment_reference="order-4", order_id=uuid.uuid4(), amount=Decimal("10"), currency="EUR"
        )
        assert (result.status, result.failure_reason) == ("failed", "declined")
        assert result.decline_code
        assert await payments.outbox_types() == [PaymentAuthorizationFailed.event_type]
        with pytest.raises(Conflict):
            await payments.facade.capture(payment_reference="order-4")

    async def test_capture_500_after_the_charge_is_one_capture(self, payments: Harness) -> None:
        await authorize(payments, "order-5")
        await payments.set_faults(charge_then_error_rate=1.0)
        result = await payments.facade.capture(payment_reference="order-5")
        assert result.status == "captured"
        assert (await payments.sim_stats())["captures"] == 1

    async def test_void_releases_the_authorization(self, payments: Harness) -> None:
        payment_id = await authorize(payments, "order-6")
        result = await payments.facade.void(payment_reference="order-6")
        assert result.status == "voided"
        intent = await payments.intent(payment_id)
        assert intent is not None
        assert intent["status"] == "voided"
        assert await payments.outbox_types() == [PaymentAuthorized.event_type, PaymentVoided.event_type]


class TestNoAnswerFromTheProvider:
    async def test_authorization_without_any_answer_fails_and_nothing_is_held(
        self, payments: Harness
    ) -> None:
        await payments.set_faults(error_rate=1.0)
        result = await payments.facade.authorize(
            payment_reference="order-7", order_id=uuid.uuid4(), amount=Decimal("10"), currency="EUR"
        )
        assert (result.status, result.failure_reason) == ("failed", "error")
        await payments.set_faults(error_rate=0.0)
        await run_sweep(payments)
        assert await payments.intent(result.payment_id) is None
        payment = await payments.facade.get(payment_reference="order-7")
        assert payment is not None
        assert payment.status == "failed"

    async def test_authorization_made_after_orderly_gave_up_is_voided_by_the_sweep(
        self, settings: Settings, engine: AsyncEngine, database_url: str
    ) -> None:
        # One attempt only: the provider authorizes, but answers too late.
        async with harness(
            settings,
            engine,
            database_url,
            webhooks=False,
            faults=Faults(timeout_rate=1.0, timeout_delay_s=0.5),
            payment_provider_max_attempts=1,
        ) as h:
            result = await h.facade.authorize(
                payment_reference="order-8", order_id=uuid.uuid4(), amount=Decimal("10"), currency="EUR"
            )
            assert (result.status, result.failure_reason) == ("failed", "timeout")
            held = await h.intent(result.payment_id)
            assert held is not None
            assert held["status"] == "authorized"

            # The provider answers in time again; the sweep releases the hold.
            await h.set_faults(timeout_rate=0.0)
            await run_sweep(h)

            released = await h.intent(result.payment_id)
            assert released is not None
            assert released["status"] == "voided"
            payment = await h.facade.get(payment_reference="order-8")
            assert payment is not None
            assert payment.status == "failed"
            # The failure was announced once; the release is housekeeping.
            assert await h.outbox_types() == [PaymentAuthorizationFailed.event_type]

    async def test_capture_without_an_answer_is_unavailable_and_safe_to_repeat(
        self, payments: Harness
    ) -> None:
        await authorize(payments, "order-9")
        await payments.set_faults(error_rate=1.0)
        with pytest.raises(PaymentProviderUnavailable):
            await payments.facade.capture(payment_reference="order-9")
        await payments.set_faults(error_rate=0.0)
        result = await payments.facade.capture(payment_reference="order-9")
        assert result.status == "captured"
        assert (await payments.sim_stats())["captures"] == 1

    async def test_payment_left_pending_by_a_crash_is_resumed_by_the_sweep(self, payments: Harness) -> None:
        # The provider authorized, then the process died before recording it.
        await payments.set_faults(error_rate=1.0)
        result = await payments.facade.authorize(
            payment_reference="order-10", order_id=uuid.uuid4(), amount=Decimal("10"), currency="EUR"
        )
        assert result.status == "failed"
        orphan = await authorize_pending_only(payments, "order-11")
        await payments.set_faults(error_rate=0.0)
        await run_sweep(payments)
        resumed = await payments.facade.get(payment_reference="order-11")
        assert resumed is not None
        assert resumed.payment_id == orphan
        assert resumed.status == "authorized"
        assert (await payments.sim_stats())["by_status"] == {"authorized": 1}


async def authorize_pending_only(h: Harness, reference: str) -> uuid.UUID:
    """Record the intention without reaching the provider: what a crash between the phases leaves."""
    payment = Payment.start(reference=reference, order_id=uuid.uuid4(), amount=Money(Decimal("10"), "EUR"))
    async with h.module.unit_of_work() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    return payment.id


class TestRefunds:
    async def test_partial_then_full_refund_through_the_api(self, payments: Harness) -> None:
        payment_id = await authorize(payments, "order-12", amount="30.00")
        await payments.facade.capture(payment_reference="order-12")

        first = await payments.api.post(
            f"/v1/payments/{payment_id}/refunds",
            json={"amount": "10.00"},
            headers={"Idempotency-Key": "rf-1"},
        )
        replay = await payments.api.post(
            f"/v1/payments/{payment_id}/refunds",
            json={"amount": "10.00"},
            headers={"Idempotency-Key": "rf-1"},
        )
        rest = await payments.api.post(
            f"/v1/payments/{payment_id}/refunds", json={"amount": "20"}, headers={"Idempotency-Key": "rf-2"}
        )

        assert first.status_code == replay.status_code == rest.status_code == 201, (first.text, rest.text)
        assert first.json()["id"] == replay.json()["id"]
        assert first.json()["status"] == "succeeded"
        view = (await payments.api.get(f"/v1/payments/{payment_id}")).json()
        assert (view["status"], view["refunded_amount"]) == ("refunded", "30.00")
        assert [r["reference"] for r in view["refunds"]] == ["rf-1", "rf-2"]
        intent = await payments.intent(payment_id)
        assert intent is not None
        assert (intent["amount_refunded"], len(intent["refunds"])) == (3000, 2)
        assert (await payments.outbox_types()).count(PaymentRefunded.event_type) == 2

    async def test_refund_beyond_what_is_left_is_refused_and_sends_nothing(self, payments: Harness) -> None:
        payment_id = await authorize(payments, "order-13", amount="30.00")
        await payments.facade.capture(payment_reference="order-13")
        response = await payments.api.post(
            f"/v1/payments/{payment_id}/refunds",
            json={"amount": "30.01"},
            headers={"Idempotency-Key": "rf-x"},
        )
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "refund" not in (await payments.sim_stats())["requests"]

    async def test_refund_needs_an_idempotency_key(self, payments: Harness) -> None:
        payment_id = await authorize(payments, "order-14")
        response = await payments.api.post(f"/v1/payments/{payment_id}/refunds", json={"amount": "1.00"})
        assert response.status_code == 422
        assert "Idempotency-Key" in response.text

    async def test_refund_while_the_provider_is_down_is_503_then_completes_on_retry(
        self, payments: Harness
    ) -> None:
        payment_id = await authorize(payments, "order-15")
        await payments.facade.capture(payment_reference="order-15")
        await payments.set_faults(error_rate=1.0)
        down = await payments.api.post(
            f"/v1/payments/{payment_id}/refunds", json={"amount": "5.00"}, headers={"Idempotency-Key": "rf-5"}
        )
        assert down.status_code == 503, down.text
        assert down.json()["type"] == "urn:orderly:problem:payment-provider-unavailable"
        await payments.set_faults(error_rate=0.0)
        retried = await payments.api.post(
            f"/v1/payments/{payment_id}/refunds", json={"amount": "5.00"}, headers={"Idempotency-Key": "rf-5"}
        )
        assert retried.status_code == 201
        assert retried.json()["status"] == "succeeded"
        assert (await payments.sim_stats())["refunds"] == 1

    async def test_unknown_payment_is_404(self, payments: Harness) -> None:
        response = await payments.api.get(f"/v1/payments/{uuid.uuid4()}")
        assert response.status_code == 404
        assert response.json()["type"] == "urn:orderly:problem:not-found"

    async def test_invalid_refund_amount_is_422(self, payments: Harness) -> None:
        payment_id = await authorize(payments, "order-16")
        await payments.facade.capture(payment_reference="order-16")
        for amount in ["-1", "1.234", "abc", "0"]:
            response = await payments.api.post(
                f"/v1/payments/{payment_id}/refunds",
                json={"amount": amount},
                headers={"Idempotency-Key": amount},
            )
            assert response.status_code == 422, (amount, response.text)
        with pytest.raises(InvalidInput):
            await payments.facade.refund(
                payment_reference="order-16", refund_reference="r", amount=Decimal("0")
            )
