"""In-memory stand-ins for the payments module's ports (unit of work, provider)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Self

from orderly.modules.payments.application.ports import ProviderUnavailable, UnavailableReason
from orderly.modules.payments.domain.model import (
    Payment,
    PaymentStatus,
    ProviderStatus,
    ProviderView,
    RefundStatus,
)
from orderly.shared_kernel.domain import DomainEvent
from orderly.shared_kernel.money import Money


class FakeStore:
    """What the database would hold: payments, published events, processed messages."""

    def __init__(self) -> None:
        self.payments: dict[uuid.UUID, Payment] = {}
        self.events: list[DomainEvent] = []
        self.processed: set[tuple[str, uuid.UUID]] = set()


class FakePaymentRepository:
    def __init__(self, store: FakeStore, seen: list[Payment]) -> None:
        self._store = store
        self._seen = seen

    async def add(self, payment: Payment) -> bool:
        if any(p.reference == payment.reference for p in self._store.payments.values()):
            return False
        self._seen.append(payment)
        return True

    async def get(self, payment_id: uuid.UUID) -> Payment | None:
        stored = self._store.payments.get(payment_id)
        return self._track(copy.deepcopy(stored)) if stored else None

    async def get_by_reference(self, reference: str) -> Payment | None:
        found = next((p for p in self._store.payments.values() if p.reference == reference), None)
        return self._track(copy.deepcopy(found)) if found else None

    async def save(self, payment: Payment) -> None:
        self._track(payment)

    async def stale_pending(self, *, before: datetime, limit: int) -> list[uuid.UUID]:
        return [p.id for p in self._store.payments.values() if p.status is PaymentStatus.PENDING][:limit]

    async def releases_due(self, *, before: datetime, limit: int) -> list[uuid.UUID]:
        return [p.id for p in self._store.payments.values() if p.release_pending][:limit]

    async def stale_refunds(self, *, before: datetime, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
        return [
            (p.id, r.id)
            for p in self._store.payments.values()
            for r in p.refunds
            if r.status is RefundStatus.REQUESTED
        ][:limit]

    def _track(self, payment: Payment) -> Payment:
        if all(p is not payment for p in self._seen):
            self._seen.append(payment)
        return payment


class FakeUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self._seen: list[Payment] = []
        self._processed: list[tuple[str, uuid.UUID]] = []
        self.payments = FakePaymentRepository(store, self._seen)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._seen.clear()

    async def already_processed(self, consumer: str, message_id: uuid.UUID) -> bool:
        return (consumer, message_id) in self._store.processed

    def mark_processed(self, consumer: str, message_id: uuid.UUID) -> None:
        self._processed.append((consumer, message_id))

    async def commit(self) -> None:
        for payment in self._seen:
            self._store.events.extend(payment.collect_events())
            self._store.payments[payment.id] = copy.deepcopy(payment)
        self._store.processed.update(self._processed)
        self._processed.clear()


class FakeProvider:
    """A scripted provider: each call pops the next planned outcome for its operation."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []  # (operation, idempotency key)
        self.plans: dict[str, list[ProviderView | Exception]] = {}
        self.intents: dict[str, ProviderView] = {}

    def plan(self, operation: str, *outcomes: ProviderView | Exception) -> None:
        self.plans.setdefault(operation, []).extend(outcomes)

    def _next(self, operation: str, key: str, reference: str | None = None) -> ProviderView:
        self.calls.append((operation, key))
        outcome = self.plans[operation].pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        if reference is not None:
            self.intents[reference] = outcome
        return outcome

    async def authorize(
        self,
        *,
        idempotency_key: str,
        reference: str,
        amount: Money,
        customer: str | None,
        metadata: Mapping[str, str],
    ) -> ProviderView:
        return self._next("authorize", idempotency_key, reference)

    async def capture(self, *, idempotency_key: str, provider_intent_id: str) -> ProviderView:
        return self._next("capture", idempotency_key)

    async def void(self, *, idempotency_key: str, provider_intent_id: str) -> ProviderView:
        return self._next("void", idempotency_key)

    async def refund(
        self, *, idempotency_key: str, provider_intent_id: str, amount: Money, reference: str
    ) -> ProviderView:
        return self._next("refund", idempotency_key)

    async def find(self, *, reference: str) -> ProviderView | None:
        self.calls.append(("find", reference))
        return self.intents.get(reference)


def unavailable(reason: UnavailableReason = "timeout") -> ProviderUnavailable:
    return ProviderUnavailable(reason)


def intent(status: ProviderStatus, captured: str = "0") -> ProviderView:
    return ProviderView(
        provider_intent_id="pi_fake", status=status, amount_captured=Money(Decimal(captured), "EUR")
    )
