"""Provider webhooks through Orderly's real app: signatures, deduplication, reconciliation."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.payments.contracts import PaymentAuthorized, PaymentCaptured
from orderly.modules.payments.domain.model import Payment
from orderly.paymentsim.config import Faults
from orderly.paymentsim.signing import signature_header
from orderly.platform.settings import Settings
from orderly.shared_kernel.money import Money
from tests.conftest import truncate_all
from tests.integration.payments.harness import WEBHOOK_PATH, Harness, harness
from tests.support.http import assert_problem


@pytest.fixture
async def quiet(settings: Settings, engine: AsyncEngine, database_url: str) -> AsyncIterator[Harness]:
    """No automatic webhooks: each test posts its own."""
    async with harness(settings, engine, database_url, webhooks=False) as h:
        yield h


def event(
    payment_id: uuid.UUID, status: str, *, event_id: str | None = None, captured: int = 0
) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "type": f"payment_intent.{status}",
        "created": time.time(),
        "data": {
            "object": {
                "id": "pi_webhook_test",
                "reference": str(payment_id),
                "amount": 1000,
                "currency": "EUR",
                "status": status,
                "amount_captured": captured,
                "amount_refunded": 0,
                "refunds": [],
                "decline_code": None,
            }
        },
    }


async def post_signed(
    h: Harness, body: bytes, *, timestamp: int | None = None, secret: str | None = None
) -> Any:
    secret = secret or h.settings.payment_webhook_secret.get_secret_value()
    return await h.webhooks.post(
        WEBHOOK_PATH,
        content=body,
        headers={
            "Content-Type": "application/json",
            "Orderly-Signature": signature_header(secret, body, timestamp=timestamp),
        },
    )


async def pending_payment(h: Harness) -> uuid.UUID:
    payment = Payment.start(
        reference=f"order-{uuid.uuid4().hex[:6]}", order_id=uuid.uuid4(), amount=Money(Decimal("10"), "EUR")
    )
    async with h.module.unit_of_work() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    return payment.id


class TestSignatures:
    async def test_tampered_body_is_401_and_changes_nothing(self, quiet: Harness) -> None:
        payment_id = await pending_payment(quiet)
        body = orjson.dumps(event(payment_id, "authorized"))
        header = signature_header(quiet.settings.payment_webhook_secret.get_secret_value(), body)
        tampered = body.replace(b'"amount":1000', b'"amount":1')
        response = await quiet.webhooks.post(
            WEBHOOK_PATH,
            content=tampered,
            headers={"Orderly-Signature": header, "Content-Type": "application/json"},
        )
        assert_problem(response, 401, "webhook-signature-invalid")
        assert await quiet.outbox_types() == []
        assert await quiet.inbox_count() == 0

    async def test_expired_signature_is_401(self, quiet: Harness) -> None:
        payment_id = await pending_payment(quiet)
        body = orjson.dumps(event(payment_id, "authorized"))
        response = await post_signed(quiet, body, timestamp=int(time.time()) - 301)
        assert_problem(response, 401, "webhook-signature-expired")
        assert await quiet.outbox_types() == []

    async def test_wrong_secret_is_401(self, quiet: Harness) -> None:
        payment_id = await pending_payment(quiet)
        response = await post_signed(
            quiet, orjson.dumps(event(payment_id, "authorized")), secret="not-the-secret"
        )
        assert_problem(response, 401, "webhook-signature-invalid")

    async def test_missing_signature_is_400(self, quiet: Harness) -> None:
        response = await quiet.webhooks.post(
            WEBHOOK_PATH, content=b"{}", headers={"Content-Type": "application/json"}
        )
        assert_problem(response, 400, "webhook-signature-missing")

    async def test_signed_garbage_is_400(self, quiet: Harness) -> None:
        response = await post_signed(quiet, b'{"id": "evt_1", "data": {}}')
        assert_problem(response, 400, "webhook-payload-invalid")


class TestDeduplication:
    async def test_webhook_delivered_twice_applies_once(self, quiet: Harness) -> None:
        payment_id = await pending_payment(quiet)
        body = orjson.dumps(event(payment_id, "authorized", event_id="evt_twice"))
        first = await post_signed(quiet, body)
        second = await post_signed(quiet, body)
        assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
        assert (second.status_code, second.json()) == (200, {"received": True, "duplicate": True})
        assert await quiet.outbox_types() == [PaymentAuthorized.event_type]
        assert await quiet.inbox_count() == 1

    async def test_concurrent_copies_of_one_delivery_apply_once(self, quiet: Harness) -> None:
        payment_id = await pending_payment(quiet)
        body = orjson.dumps(event(payment_id, "captured", event_id="evt_storm", captured=1000))
        answers = await asyncio.gather(*(post_signed(quiet, body) for _ in range(8)))
        assert {a.status_code for a in answers} == {200}
        assert [a.json()["duplicate"] for a in answers].count(False) == 1
        assert await quiet.outbox_types() == [PaymentAuthorized.event_type, PaymentCaptured.event_type]
        assert await quiet.inbox_count() == 1

    async def test_older_event_arriving_after_a_newer_one_changes_nothing(self, quiet: Harness) -> None:
        payment_id = await pending_payment(quiet)
        captured = await post_signed(quiet, orjson.dumps(event(payment_id, "captured", captured=1000)))
        authorized = await post_signed(quiet, orjson.dumps(event(payment_id, "authorized")))
        assert captured.json()["duplicate"] is False
        assert authorized.json()["duplicate"] is False  # a new event, but nothing left to change
        view = (await quiet.api.get(f"/v1/payments/{payment_id}")).json()
        assert (view["status"], view["captured_amount"]) == ("captured", "10.00")
        assert await quiet.outbox_types() == [PaymentAuthorized.event_type, PaymentCaptured.event_type]

    async def test_event_contradicting_the_payment_is_409(self, quiet: Harness) -> None:
        payment_id = await pending_payment(quiet)
        await post_signed(quiet, orjson.dumps(event(payment_id, "declined")))
        response = await post_signed(quiet, orjson.dumps(event(payment_id, "captured", captured=1000)))
        assert_problem(response, 409, "payment-illegal-transition")


class TestWhicheverArrivesFirst:
    """The same authorization and capture, with the webhook landing before or after the answer."""

    async def run_flow(self, h: Harness) -> tuple[dict[str, Any], list[str]]:
        result = await h.facade.authorize(
            payment_reference="order-wh", order_id=uuid.uuid4(), amount=Decimal("10"), currency="EUR"
        )
        await h.facade.capture(payment_reference="order-wh")
        await h.drain_webhooks()
        view = (await h.api.get(f"/v1/payments/{result.payment_id}")).json()
        return {
            k: view[k] for k in ("status", "amount", "captured_amount", "refunded_amount")
        }, await h.outbox_types()

    async def test_webhook_before_the_answer_and_after_it_end_in_the_same_state(
        self, settings: Settings, engine: AsyncEngine, database_url: str
    ) -> None:
        # Webhook first: the provider does the work and notifies at once, but
        # holds its answer (a slow "timeout" still inside Orderly's deadline).
        async with harness(
            settings,
            engine,
            database_url,
            faults=Faults(timeout_rate=1.0, timeout_delay_s=0.3),
            payment_provider_timeout_s=2.0,
        ) as h:
            webhook_first, events_first = await self.run_flow(h)
            assert await h.inbox_count() == 2  # both webhooks landed, before the answers
        await truncate_all(engine)
        # Answer first: webhooks held back until the answers were recorded.
        async with harness(settings, engine, database_url, webhook_delay_s=0.3) as h:
            answer_first, events_second = await self.run_flow(h)
            assert await h.inbox_count() == 2

        assert (
            webhook_first
            == answer_first
            == {
                "status": "captured",
                "amount": "10.00",
                "captured_amount": "10.00",
                "refunded_amount": "0.00",
            }
        )
        assert events_first == events_second == [PaymentAuthorized.event_type, PaymentCaptured.event_type]

    async def test_simulator_redelivery_is_deduplicated(
        self, settings: Settings, engine: AsyncEngine, database_url: str
    ) -> None:
        async with harness(settings, engine, database_url) as h:
            await h.facade.authorize(
                payment_reference="order-rd", order_id=uuid.uuid4(), amount=Decimal("10"), currency="EUR"
            )
            await h.drain_webhooks()
            event_id = next(iter(h.simulator.service.webhooks.events))
            assert (await h.sim.post(f"/v1/_sim/events/{event_id}/redeliver")).status_code == 202
            await h.drain_webhooks()
            assert h.simulator.service.webhooks.counts["delivered"] == 2
            assert await h.inbox_count() == 1
            assert await h.outbox_types() == [PaymentAuthorized.event_type]
