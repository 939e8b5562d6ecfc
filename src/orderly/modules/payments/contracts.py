"""Integration events the payments module publishes (versioned; add fields, never change them).

Every event names the payment and the order it pays for, with the amount the
event is about (for a refund, the refunded amount) as a decimal string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from orderly.shared_kernel.domain import IntegrationEvent


@dataclass(frozen=True, kw_only=True)
class PaymentEvent(IntegrationEvent):
    aggregate_type: ClassVar[str] = "payment"

    payment_id: str
    payment_reference: str
    order_id: str
    amount: str
    currency: str


@dataclass(frozen=True, kw_only=True)
class PaymentAuthorized(PaymentEvent):
    """The provider holds ``amount`` on the customer's means of payment."""

    event_type: ClassVar[str] = "payments.payment_authorized.v1"


@dataclass(frozen=True, kw_only=True)
class PaymentAuthorizationFailed(PaymentEvent):
    """No money is held: declined by the provider, or no answer (error, timeout).

    After an error or a timeout Orderly also makes sure that an authorization
    the provider made anyway is voided, so ``failed`` always means "nothing held".
    """

    event_type: ClassVar[str] = "payments.payment_authorization_failed.v1"

    reason: str  # declined | error | timeout
    decline_code: str | None = None


@dataclass(frozen=True, kw_only=True)
class PaymentCaptured(PaymentEvent):
    """The money moved: ``amount`` was captured."""

    event_type: ClassVar[str] = "payments.payment_captured.v1"


@dataclass(frozen=True, kw_only=True)
class PaymentVoided(PaymentEvent):
    """The authorization was released without capturing anything."""

    event_type: ClassVar[str] = "payments.payment_voided.v1"


@dataclass(frozen=True, kw_only=True)
class PaymentRefunded(PaymentEvent):
    """``amount`` went back to the customer; ``total_refunded`` is the running total."""

    event_type: ClassVar[str] = "payments.payment_refunded.v1"

    refund_id: str
    refund_reference: str
    total_refunded: str
    fully_refunded: bool


PAYMENT_EVENT_TYPES: tuple[str, ...] = (
    PaymentAuthorized.event_type,
    PaymentAuthorizationFailed.event_type,
    PaymentCaptured.event_type,
    PaymentVoided.event_type,
    PaymentRefunded.event_type,
)
