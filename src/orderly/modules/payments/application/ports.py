"""What the payment use cases need from the outside world."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Literal, Protocol, Self

from orderly.modules.payments.domain.model import Payment, ProviderView
from orderly.shared_kernel.money import Money

UnavailableReason = Literal["timeout", "error", "circuit_open"]


class ProviderUnavailable(Exception):
    """No definitive answer after every retry: the outcome is unknown.

    Safe to repeat later with the same idempotency key.
    """

    def __init__(self, reason: UnavailableReason, detail: str = "") -> None:
        super().__init__(f"payment provider unavailable ({reason}){': ' + detail if detail else ''}")
        self.reason: UnavailableReason = reason


class ProviderRejected(Exception):
    """A definitive refusal (4xx other than a decline). ``view`` is the intent
    as the provider reports it, when it says."""

    def __init__(self, code: str, message: str, *, view: ProviderView | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.view = view


class PaymentProvider(Protocol):
    """A payment provider, called with one idempotency key per logical operation."""

    async def authorize(
        self,
        *,
        idempotency_key: str,
        reference: str,
        amount: Money,
        customer: str | None,
        metadata: Mapping[str, str],
    ) -> ProviderView:
        """Authorize; a decline is an answer (status ``declined``), not an error."""
        ...

    async def capture(self, *, idempotency_key: str, provider_intent_id: str) -> ProviderView: ...

    async def void(self, *, idempotency_key: str, provider_intent_id: str) -> ProviderView: ...

    async def refund(
        self, *, idempotency_key: str, provider_intent_id: str, amount: Money, reference: str
    ) -> ProviderView: ...

    async def find(self, *, reference: str) -> ProviderView | None:
        """The intent made for ``reference``, if the provider has one (a safe read)."""
        ...


class PaymentRepository(Protocol):
    async def add(self, payment: Payment) -> bool:
        """Insert; False if a payment with the same reference already exists."""
        ...

    async def get(self, payment_id: uuid.UUID) -> Payment | None:
        """Load and lock the payment for the rest of the transaction."""
        ...

    async def get_by_reference(self, reference: str) -> Payment | None:
        """Load and lock the payment for the rest of the transaction."""
        ...

    async def save(self, payment: Payment) -> None: ...

    async def stale_pending(self, *, before: datetime, limit: int) -> list[uuid.UUID]: ...

    async def releases_due(self, *, before: datetime, limit: int) -> list[uuid.UUID]: ...

    async def stale_refunds(self, *, before: datetime, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(payment id, refund id) of refunds still ``requested``."""
        ...


class DuplicateDelivery(Exception):
    """A concurrent copy of the same webhook committed first."""


class PaymentsUnitOfWork(Protocol):
    @property
    def payments(self) -> PaymentRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def already_processed(self, consumer: str, message_id: uuid.UUID) -> bool: ...

    def mark_processed(self, consumer: str, message_id: uuid.UUID) -> None: ...

    async def commit(self) -> None:
        """Raises ``DuplicateDelivery`` if a concurrent copy of a message marked processed won."""
        ...
