"""The payment aggregate: what Orderly knows of one payment intent at the provider.

Two kinds of input change a payment:

* Orderly's own intentions (``begin_capture``, ``begin_void``,
  ``request_refund``), checked *before* the provider is called, which refuse
  what the state machine does not allow;
* facts reported by the provider (``reconcile`` with a ``ProviderView``),
  which arrive twice, from the synchronous answer and from a webhook, in any
  order, possibly repeated. Facts move the payment forward along a monotonic
  order; a fact already implied by the current state changes nothing, so
  whichever copy comes second is a no-op and emits no event.

States::

    pending --> authorized --> captured --> partially_refunded --> refunded
       |             |                \\---------------------------^
       v             v
     failed        voided

``failed`` always means "no money held": when Orderly gave up on an
authorization without a clear answer (error, timeout) and the provider turns
out to have authorized it after all, the payment stays failed and is flagged
``release_pending`` until the authorization is voided at the provider.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from orderly.modules.payments.contracts import (
    PaymentAuthorizationFailed,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentEvent,
    PaymentRefunded,
    PaymentVoided,
)
from orderly.shared_kernel.domain import AggregateRoot, utcnow
from orderly.shared_kernel.errors import Conflict, InvalidInput
from orderly.shared_kernel.ids import new_id
from orderly.shared_kernel.money import Money

MAX_REFERENCE_LENGTH = 255


class PaymentStatus(StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    FAILED = "failed"
    VOIDED = "voided"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


TERMINAL = frozenset({PaymentStatus.FAILED, PaymentStatus.VOIDED, PaymentStatus.REFUNDED})
MONEY_CAPTURED = frozenset({PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED})


class FailureReason(StrEnum):
    DECLINED = "declined"
    ERROR = "error"
    TIMEOUT = "timeout"


class RefundStatus(StrEnum):
    REQUESTED = "requested"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ProviderStatus(StrEnum):
    """The provider's own states, as it reports them."""

    AUTHORIZED = "authorized"
    DECLINED = "declined"
    VOIDED = "voided"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class IllegalTransition(Conflict):
    """The payment's state does not allow this."""

    code = "payment-illegal-transition"


@dataclass(frozen=True, kw_only=True)
class ProviderRefundView:
    provider_refund_id: str
    amount: Money
    # The refund's id in Orderly (sent to the provider as its reference);
    # None for a refund made at the provider directly.
    reference: str | None


@dataclass(frozen=True, kw_only=True)
class ProviderView:
    """The provider's account of one intent, from an answer or a webhook."""

    provider_intent_id: str
    status: ProviderStatus
    amount_captured: Money
    refunds: tuple[ProviderRefundView, ...] = ()
    decline_code: str | None = None


@dataclass(kw_only=True)
class Refund:
    id: uuid.UUID
    reference: str
    amount: Money
    status: RefundStatus
    provider_refund_id: str | None
    created_at: datetime
    updated_at: datetime


class Payment(AggregateRoot):
    def __init__(
        self,
        *,
        id: uuid.UUID,
        reference: str,
        order_id: uuid.UUID,
        customer_id: uuid.UUID | None,
        amount: Money,
        status: PaymentStatus,
        provider_intent_id: str | None,
        captured: Money,
        failure_reason: FailureReason | None,
        decline_code: str | None,
        release_pending: bool,
        refunds: list[Refund],
        version: int,
        created_at: datetime,
        updated_at: datetime,
    ) -> None:
        super().__init__()
        self.id = id
        self.reference = reference
        self.order_id = order_id
        self.customer_id = customer_id
        self.amount = amount
        self.status = status
        self.provider_intent_id = provider_intent_id
        self.captured = captured
        self.failure_reason = failure_reason
        self.decline_code = decline_code
        self.release_pending = release_pending
        self.refunds = refunds
        self.version = version
        self.created_at = created_at
        self.updated_at = updated_at
        self.changed = False

    # -- creation --------------------------------------------------------------

    @classmethod
    def start(
        cls, *, reference: str, order_id: uuid.UUID, amount: Money, customer_id: uuid.UUID | None = None
    ) -> Payment:
        if not reference or len(reference) > MAX_REFERENCE_LENGTH or "\x00" in reference:
            raise InvalidInput(
                f"a payment reference is 1-{MAX_REFERENCE_LENGTH} characters", field="payment_reference"
            )
        if amount.amount <= 0:
            raise InvalidInput("a payment is for a positive amount", field="amount")
        now = utcnow()
        return cls(
            id=new_id(),
            reference=reference,
            order_id=order_id,
            customer_id=customer_id,
            amount=Money(amount.quantized(), amount.currency),
            status=PaymentStatus.PENDING,
            provider_intent_id=None,
            captured=Money(Decimal(0), amount.currency),
            failure_reason=None,
            decline_code=None,
            release_pending=False,
            refunds=[],
            version=1,
            created_at=now,
            updated_at=now,
        )

    def ensure_same_request(self, *, order_id: uuid.UUID, amount: Money) -> None:
        """A reference names one payment; reusing it for another is a caller's bug."""
        if (
            order_id != self.order_id
            or amount.currency != self.amount.currency
            or (amount.amount != self.amount.amount)
        ):
            raise Conflict(
                "this payment reference is already used for another order or amount",
                payment_reference=self.reference,
            )

    # -- derived ----------------------------------------------------------------

    @property
    def refunded(self) -> Money:
        return self._sum(r.amount for r in self.refunds if r.status is RefundStatus.SUCCEEDED)

    @property
    def refundable(self) -> Money:
        """What can still be refunded, counting refunds in flight as taken."""
        taken = self._sum(r.amount for r in self.refunds if r.status is not RefundStatus.FAILED)
        return self.captured - taken

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    def refund_by_reference(self, reference: str) -> Refund | None:
        return next((r for r in self.refunds if r.reference == reference), None)

    def refund_by_id(self, refund_id: uuid.UUID) -> Refund | None:
        return next((r for r in self.refunds if r.id == refund_id), None)

    # -- Orderly's intentions ------------------------------------------------------

    def begin_capture(self) -> bool:
        """True if the provider must be asked to capture; False if already done."""
        if self.status is PaymentStatus.AUTHORIZED:
            return True
        if self.status in MONEY_CAPTURED:
            return False
        raise IllegalTransition(f"a {self.status.value} payment cannot be captured", status=self.status.value)

    def begin_void(self) -> bool:
        """True if the provider must be asked to void; False if nothing is held."""
        if self.status is PaymentStatus.AUTHORIZED:
            return True
        if self.status in (PaymentStatus.VOIDED, PaymentStatus.FAILED):
            return False
        if self.status is PaymentStatus.PENDING:
            raise IllegalTransition("the authorization is still in progress", status=self.status.value)
        raise IllegalTransition(
            "a captured payment cannot be voided; refund it instead", status=self.status.value
        )

    def request_refund(self, *, reference: str, amount: Money) -> Refund:
        """Reserve ``amount`` of the captured money for a refund named ``reference``.

        Asking again with the same reference and amount returns the same refund.
        """
        existing = self.refund_by_reference(reference)
        if existing is not None:
            if existing.amount != amount:
                raise Conflict(
                    "this refund reference is already used for another amount", reference=reference
                )
            return existing
        if self.status not in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
            raise IllegalTransition(
                f"a {self.status.value} payment cannot be refunded", status=self.status.value
            )
        if amount.currency != self.amount.currency:
            raise InvalidInput(f"refunds of this payment are in {self.amount.currency}", field="currency")
        if amount.amount <= 0:
            raise InvalidInput("a refund is for a positive amount", field="amount")
        if amount.amount > self.refundable.amount:
            raise InvalidInput(
                f"at most {self.refundable.quantized()} {self.amount.currency} can still be refunded",
                field="amount",
            )
        now = utcnow()
        refund = Refund(
            id=new_id(),
            reference=reference,
            amount=Money(amount.quantized(), amount.currency),
            status=RefundStatus.REQUESTED,
            provider_refund_id=None,
            created_at=now,
            updated_at=now,
        )
        self.refunds.append(refund)
        self._touch()
        return refund

    def refund_failed(self, refund_id: uuid.UUID) -> None:
        """The provider refused the refund for good: release the reserved amount."""
        refund = self.refund_by_id(refund_id)
        if refund is None or refund.status is not RefundStatus.REQUESTED:
            return
        refund.status = RefundStatus.FAILED
        refund.updated_at = utcnow()
        self._touch()

    # -- facts from the provider (idempotent, any order) ----------------------------

    def reconcile(self, view: ProviderView) -> None:
        """Bring the payment up to what the provider reports."""
        if view.status is ProviderStatus.DECLINED:
            self.authorization_failed(FailureReason.DECLINED, decline_code=view.decline_code)
            return
        self.authorized(view.provider_intent_id)
        if view.status is ProviderStatus.VOIDED:
            self.voided()
        elif view.status is not ProviderStatus.AUTHORIZED:
            self.captured_at_provider(view.amount_captured)
        for refund in view.refunds:
            self.refund_succeeded(refund)

    def authorized(self, provider_intent_id: str) -> None:
        self._remember_intent(provider_intent_id)
        if self.status is PaymentStatus.PENDING:
            self._move(PaymentStatus.AUTHORIZED)
            self._emit(PaymentAuthorized, self.amount)
        elif self.status is PaymentStatus.FAILED:
            if self.failure_reason is FailureReason.DECLINED:
                raise IllegalTransition("the provider reports a declined payment as authorized")
            # We gave up without an answer, yet the provider holds the money:
            # it must be voided there (the failure was already announced).
            if not self.release_pending:
                self.release_pending = True
                self._touch()

    def authorization_failed(self, reason: FailureReason, *, decline_code: str | None = None) -> None:
        if self.status is PaymentStatus.PENDING:
            self.failure_reason = reason
            self.decline_code = decline_code
            self._move(PaymentStatus.FAILED)
            self._emit(
                PaymentAuthorizationFailed, self.amount, reason=reason.value, decline_code=decline_code
            )
            return
        if reason is not FailureReason.DECLINED:
            return  # our own "no answer" conclusion; what we know already is better
        if self.status is PaymentStatus.FAILED:
            if self.release_pending:
                # Declined at the provider after all: nothing is held there.
                self.release_pending = False
                self._touch()
            return
        raise IllegalTransition(
            f"the provider reports a {self.status.value} payment as declined", status=self.status.value
        )

    def gave_up_authorization(self, reason: FailureReason) -> None:
        """Orderly stops waiting for an authorization that got no answer.

        The provider may have authorized anyway (the answer was lost), so the
        payment is also flagged for a check there: a hold found is voided.
        """
        if reason is FailureReason.DECLINED:
            raise ValueError("a decline is the provider's answer, not Orderly giving up")
        if self.status is not PaymentStatus.PENDING:
            return
        self.authorization_failed(reason)
        self.release_pending = True

    def captured_at_provider(self, amount: Money) -> None:
        if self.status is PaymentStatus.AUTHORIZED:
            if amount.amount <= 0 or amount.amount > self.amount.amount:
                raise IllegalTransition("the provider reports an impossible captured amount")
            self.captured = Money(amount.quantized(), amount.currency)
            self._move(PaymentStatus.CAPTURED)
            self._emit(PaymentCaptured, self.captured)
            return
        if self.status in MONEY_CAPTURED:
            return
        raise IllegalTransition(
            f"the provider reports a {self.status.value} payment as captured", status=self.status.value
        )

    def voided(self) -> None:
        if self.status is PaymentStatus.AUTHORIZED:
            self._move(PaymentStatus.VOIDED)
            self._emit(PaymentVoided, self.amount)
            return
        if self.status is PaymentStatus.FAILED:
            if self.release_pending:
                self.release_pending = False
                self._touch()
            return
        if self.status is PaymentStatus.VOIDED:
            return
        raise IllegalTransition(
            f"the provider reports a {self.status.value} payment as voided", status=self.status.value
        )

    def nothing_held_at_provider(self) -> None:
        """The provider has no authorization for this payment: nothing to release."""
        if self.release_pending:
            self.release_pending = False
            self._touch()

    def refund_succeeded(self, view: ProviderRefundView) -> None:
        if self.status not in MONEY_CAPTURED:
            raise IllegalTransition(
                f"the provider reports a refund of a {self.status.value} payment", status=self.status.value
            )
        if any(r.provider_refund_id == view.provider_refund_id for r in self.refunds):
            return
        refund = next(
            (r for r in self.refunds if view.reference is not None and str(r.id) == view.reference), None
        )
        now = utcnow()
        if refund is None:
            # Made at the provider directly (its dashboard): record it all the same.
            refund = Refund(
                id=new_id(),
                reference=f"provider:{view.provider_refund_id}",
                amount=view.amount,
                status=RefundStatus.REQUESTED,
                provider_refund_id=None,
                created_at=now,
                updated_at=now,
            )
            self.refunds.append(refund)
        refund.status = RefundStatus.SUCCEEDED
        refund.provider_refund_id = view.provider_refund_id
        refund.updated_at = now
        refunded = self.refunded
        if refunded.amount > self.captured.amount:
            raise IllegalTransition("the provider reports more refunded than captured")
        full = refunded.amount == self.captured.amount
        self._move(PaymentStatus.REFUNDED if full else PaymentStatus.PARTIALLY_REFUNDED)
        self._emit(
            PaymentRefunded,
            refund.amount,
            refund_id=str(refund.id),
            refund_reference=refund.reference,
            total_refunded=str(refunded.quantized()),
            fully_refunded=full,
        )

    # -- helpers ---------------------------------------------------------------------

    def _remember_intent(self, provider_intent_id: str) -> None:
        if self.provider_intent_id is None:
            self.provider_intent_id = provider_intent_id
            self._touch()
        elif self.provider_intent_id != provider_intent_id:
            raise IllegalTransition("the provider reports another intent for this payment")

    def _move(self, status: PaymentStatus) -> None:
        self.status = status
        self._touch()

    def _touch(self) -> None:
        self.updated_at = utcnow()
        self.changed = True

    def _emit(self, event_class: type[PaymentEvent], amount: Money, **extra: object) -> None:
        self.record(
            event_class(
                aggregate_id=str(self.id),
                payment_id=str(self.id),
                payment_reference=self.reference,
                order_id=str(self.order_id),
                amount=str(amount.quantized()),
                currency=amount.currency,
                **extra,  # type: ignore[arg-type]
            )
        )

    def _sum(self, amounts: Iterable[Money]) -> Money:
        total = Money(Decimal(0), self.amount.currency)
        for amount in amounts:
            total = total + amount
        return total
