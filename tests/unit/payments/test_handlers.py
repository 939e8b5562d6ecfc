"""Payment use cases on fakes: which provider calls they make, with which keys, and what they record."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from orderly.modules.payments.api import PaymentProviderUnavailable
from orderly.modules.payments.application.commands import AuthorizePayment
from orderly.modules.payments.application.handlers import (
    apply_provider_event,
    authorize_payment,
    capture_payment,
    operation_key,
    sweep,
)
from orderly.modules.payments.contracts import PaymentAuthorizationFailed, PaymentAuthorized, PaymentCaptured
from orderly.modules.payments.domain.model import PaymentStatus, ProviderStatus
from tests.unit.payments.fakes import FakeProvider, FakeStore, FakeUnitOfWork, intent, unavailable


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


def command(reference: str = "order-1") -> AuthorizePayment:
    return AuthorizePayment(
        payment_reference=reference, order_id=uuid.uuid4(), amount=Decimal("10"), currency="EUR"
    )


def event_types(store: FakeStore) -> list[str]:
    return [e.event_type for e in store.events]


class TestAuthorizePayment:
    async def test_authorized_answer_is_recorded_and_announced(
        self, store: FakeStore, provider: FakeProvider
    ) -> None:
        provider.plan("authorize", intent(ProviderStatus.AUTHORIZED))
        payment = await authorize_payment(
            command(), uow_factory=lambda: FakeUnitOfWork(store), provider=provider
        )
        assert payment.status is PaymentStatus.AUTHORIZED
        assert provider.calls == [("authorize", operation_key(payment.id, "authorize"))]
        assert event_types(store) == [PaymentAuthorized.event_type]

    async def test_second_call_for_an_authorized_payment_does_not_reach_the_provider(
        self, store: FakeStore, provider: FakeProvider
    ) -> None:
        provider.plan("authorize", intent(ProviderStatus.AUTHORIZED))
        cmd = command()
        first = await authorize_payment(cmd, uow_factory=lambda: FakeUnitOfWork(store), provider=provider)
        again = await authorize_payment(cmd, uow_factory=lambda: FakeUnitOfWork(store), provider=provider)
        assert again.id == first.id
        assert len(provider.calls) == 1

    async def test_no_answer_fails_the_payment_and_the_sweep_voids_a_hold_made_anyway(
        self, store: FakeStore, provider: FakeProvider
    ) -> None:
        provider.plan("authorize", unavailable("timeout"))
        payment = await authorize_payment(
            command(), uow_factory=lambda: FakeUnitOfWork(store), provider=provider
        )
        assert (payment.status, payment.release_pending) == (PaymentStatus.FAILED, True)
        assert event_types(store) == [PaymentAuthorizationFailed.event_type]

        # The provider did authorize (the answer was lost): the sweep finds and voids it.
        provider.intents[str(payment.id)] = intent(ProviderStatus.AUTHORIZED)
        provider.plan("void", intent(ProviderStatus.VOIDED))
        report = await sweep(
            uow_factory=lambda: FakeUnitOfWork(store),
            provider=provider,
            stale_after=timedelta(0),
            release_grace=timedelta(0),
        )
        assert report.releases_done == 1
        assert ("void", operation_key(payment.id, "void")) in provider.calls
        stored = store.payments[payment.id]
        assert (stored.status, stored.release_pending) == (PaymentStatus.FAILED, False)
        assert event_types(store) == [PaymentAuthorizationFailed.event_type]

    async def test_sweep_resumes_a_pending_payment_with_the_same_key(
        self, store: FakeStore, provider: FakeProvider
    ) -> None:
        provider.plan("authorize", RuntimeError("process died mid-call"))
        with pytest.raises(RuntimeError):
            await authorize_payment(command(), uow_factory=lambda: FakeUnitOfWork(store), provider=provider)
        (payment,) = store.payments.values()
        assert payment.status is PaymentStatus.PENDING

        provider.plan("authorize", intent(ProviderStatus.AUTHORIZED))
        await sweep(
            uow_factory=lambda: FakeUnitOfWork(store),
            provider=provider,
            stale_after=timedelta(0),
            release_grace=timedelta(0),
        )
        assert store.payments[payment.id].status is PaymentStatus.AUTHORIZED
        keys = [key for operation, key in provider.calls if operation == "authorize"]
        assert keys == [operation_key(payment.id, "authorize")] * 2


class TestCapturePayment:
    async def test_unavailable_provider_leaves_the_payment_authorized(
        self, store: FakeStore, provider: FakeProvider
    ) -> None:
        provider.plan("authorize", intent(ProviderStatus.AUTHORIZED))
        provider.plan("capture", unavailable("error"), intent(ProviderStatus.CAPTURED, "10"))
        await authorize_payment(command(), uow_factory=lambda: FakeUnitOfWork(store), provider=provider)
        with pytest.raises(PaymentProviderUnavailable):
            await capture_payment("order-1", uow_factory=lambda: FakeUnitOfWork(store), provider=provider)
        (payment,) = store.payments.values()
        assert payment.status is PaymentStatus.AUTHORIZED

        captured = await capture_payment(
            "order-1", uow_factory=lambda: FakeUnitOfWork(store), provider=provider
        )
        assert captured.status is PaymentStatus.CAPTURED
        capture_keys = {key for operation, key in provider.calls if operation == "capture"}
        assert capture_keys == {operation_key(payment.id, "capture")}
        assert event_types(store) == [PaymentAuthorized.event_type, PaymentCaptured.event_type]


class TestProviderEvents:
    async def test_same_event_twice_applies_once(self, store: FakeStore, provider: FakeProvider) -> None:
        provider.plan("authorize", unavailable("timeout"))
        payment = await authorize_payment(
            command(), uow_factory=lambda: FakeUnitOfWork(store), provider=provider
        )
        event_id = uuid.uuid4()
        view = intent(ProviderStatus.DECLINED)
        first = await apply_provider_event(
            event_id=event_id, payment_id=payment.id, view=view, uow=FakeUnitOfWork(store)
        )
        second = await apply_provider_event(
            event_id=event_id, payment_id=payment.id, view=view, uow=FakeUnitOfWork(store)
        )
        assert (first, second) == (True, False)
        # Declined after Orderly gave up: nothing is held, no release needed.
        assert store.payments[payment.id].release_pending is False
