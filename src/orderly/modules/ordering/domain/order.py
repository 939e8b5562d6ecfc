"""The order aggregate: its state machine, the checkout saga it carries, its refunds and history.

Status transitions (anything else raises ``IllegalOrderTransition``)::

    pending ----------> awaiting_payment ------> confirmed --> partially_fulfilled --> fulfilled --> delivered
      |  \\                |   \\                   |   \\             |                   |            |
      |   rejected         |    payment_failed     |    cancelled    '-------------------'------------'
      |   cancelled        |    cancelled          |                 |
      '-> expired          '--> expired            '-----------------+--> partially_refunded --> refunded

``cancelled``, ``payment_failed``, ``rejected``, ``expired`` and
``refunded`` are terminal. Fulfilment progress is also kept on its own
(``fulfilment``), monotonic, so a partial refund does not hide it.

Every method that reacts to a saga outcome or an integration event is
idempotent and tolerant of late or repeated input: a fact the order already
reflects changes nothing. A late *success* on an order that already gave up
(stock reserved or payment authorized after a cancel or expiry) starts the
compensation again, so nothing stays held.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from orderly.modules.ordering.contracts import (
    OrderCancelled,
    OrderConfirmed,
    OrderLineSnapshot,
    OrderPlaced,
    OrderRefunded,
    OrderStatusChanged,
)
from orderly.modules.ordering.domain.address import ShippingAddress
from orderly.modules.ordering.domain.errors import (
    IllegalOrderTransition,
    OrderBeingConfirmed,
    RefundNotPossible,
)
from orderly.modules.ordering.domain.pricing import Totals
from orderly.modules.ordering.domain.saga import (
    PERSISTENT_STEPS,
    REVERSIBLE_STEPS,
    SagaPolicy,
    SagaState,
    SagaStep,
    SagaStepDue,
)
from orderly.shared_kernel.domain import AggregateRoot
from orderly.shared_kernel.errors import Conflict
from orderly.shared_kernel.money import Money

Actor = Literal["customer", "staff", "system"]


class OrderStatus(StrEnum):
    PENDING = "pending"
    AWAITING_PAYMENT = "awaiting_payment"
    CONFIRMED = "confirmed"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    FULFILLED = "fulfilled"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    PAYMENT_FAILED = "payment_failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.AWAITING_PAYMENT, S.REJECTED, S.CANCELLED, S.EXPIRED}),
    S.AWAITING_PAYMENT: frozenset({S.CONFIRMED, S.PAYMENT_FAILED, S.CANCELLED, S.EXPIRED}),
    S.CONFIRMED: frozenset(
        {S.PARTIALLY_FULFILLED, S.FULFILLED, S.DELIVERED, S.CANCELLED, S.PARTIALLY_REFUNDED, S.REFUNDED}
    ),
    S.PARTIALLY_FULFILLED: frozenset({S.FULFILLED, S.DELIVERED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.FULFILLED: frozenset({S.DELIVERED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.DELIVERED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.PAYMENT_FAILED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REFUNDED: frozenset(),
}
TERMINAL = frozenset(status for status, targets in TRANSITIONS.items() if not targets)
# Ended before any money was taken: compensation (release, void) applies.
UNPAID_ENDINGS = frozenset({S.CANCELLED, S.PAYMENT_FAILED, S.REJECTED, S.EXPIRED})
# Money captured, goods owed or sent: refunds apply.
PAID = frozenset({S.CONFIRMED, S.PARTIALLY_FULFILLED, S.FULFILLED, S.DELIVERED, S.PARTIALLY_REFUNDED})


class Fulfilment(StrEnum):
    NONE = "none"
    PARTIAL = "partially_fulfilled"
    FULFILLED = "fulfilled"
    DELIVERED = "delivered"


_FULFILMENT_RANK = {
    Fulfilment.NONE: 0,
    Fulfilment.PARTIAL: 1,
    Fulfilment.FULFILLED: 2,
    Fulfilment.DELIVERED: 3,
}
_FULFILMENT_STATUS = {
    Fulfilment.PARTIAL: S.PARTIALLY_FULFILLED,
    Fulfilment.FULFILLED: S.FULFILLED,
    Fulfilment.DELIVERED: S.DELIVERED,
}


class RefundState(StrEnum):
    REQUESTED = "requested"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Held(StrEnum):
    """What compensation found at the other module for one resource."""

    CLEAR = "clear"  # released, voided, failed: nothing held now or later
    ABSENT = "absent"  # nothing there yet: a call still in flight may create it
    PENDING = "pending"  # held, or in progress: try again later


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    product_id: uuid.UUID
    quantity: int
    unit_price: Money
    line_total: Money

    def snapshot(self) -> OrderLineSnapshot:
        return OrderLineSnapshot(
            sku=self.sku,
            product_id=str(self.product_id),
            quantity=self.quantity,
            unit_price=str(self.unit_price.quantized()),
            line_total=str(self.line_total.quantized()),
        )


@dataclass(slots=True)
class OrderRefund:
    id: uuid.UUID
    amount: Money
    reason: str
    status: RefundState
    requested_at: datetime
    settled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of the order's history (the ``order_events`` table)."""

    kind: str
    status: OrderStatus
    data: dict[str, Any]
    occurred_at: datetime


@dataclass(slots=True)
class Compensation:
    """What the last compensation found; CLEAR sides need no further undoing."""

    stock: Held = Held.ABSENT
    payment: Held = Held.ABSENT


@dataclass(slots=True)
class CheckoutDraft:
    """Everything checkout decided before the order exists."""

    order_id: uuid.UUID
    checkout_reference: str
    customer_id: uuid.UUID | None
    email: str
    cart_id: str
    cart_version: int
    address: ShippingAddress
    lines: tuple[OrderLine, ...]
    totals: Totals
    guest_token_hash: str | None = None


class Order(AggregateRoot):
    def __init__(
        self,
        *,
        id: uuid.UUID,
        checkout_reference: str,
        customer_id: uuid.UUID | None,
        email: str,
        cart_id: str,
        cart_version: int,
        address: ShippingAddress,
        lines: tuple[OrderLine, ...],
        subtotal: Money,
        shipping: Money,
        tax_rate: Decimal,
        tax: Money,
        total: Money,
        status: OrderStatus,
        status_reason: str | None,
        saga: SagaState,
        compensation: Compensation,
        stock_confirmed: bool,
        captured: Money,
        refunds: list[OrderRefund],
        fulfilment: Fulfilment,
        fulfilment_started: bool,
        guest_token_hash: str | None,
        placed_at: datetime,
        updated_at: datetime,
        expires_at: datetime,
        version: int,
    ) -> None:
        super().__init__()
        self.id = id
        self.checkout_reference = checkout_reference
        self.customer_id = customer_id
        self.email = email
        self.cart_id = cart_id
        self.cart_version = cart_version
        self.address = address
        self.lines = lines
        self.subtotal = subtotal
        self.shipping = shipping
        self.tax_rate = tax_rate
        self.tax = tax
        self.total = total
        self.status = status
        self.status_reason = status_reason
        self.saga = saga
        self.compensation = compensation
        self.stock_confirmed = stock_confirmed
        self.captured = captured
        self.refunds = refunds
        self.fulfilment = fulfilment
        self.fulfilment_started = fulfilment_started
        self.guest_token_hash = guest_token_hash
        self.placed_at = placed_at
        self.updated_at = updated_at
        self.expires_at = expires_at
        self.version = version
        self.history: list[HistoryEntry] = []
        # Set when this change confirmed the order (the cart may be emptied after commit).
        self.just_confirmed = False

    # -- creation ---------------------------------------------------------------------

    @classmethod
    def place(cls, draft: CheckoutDraft, *, now: datetime, policy: SagaPolicy) -> Order:
        totals = draft.totals
        zero = Money(Decimal(0), totals.currency)
        order = cls(
            id=draft.order_id,
            checkout_reference=draft.checkout_reference,
            customer_id=draft.customer_id,
            email=draft.email,
            cart_id=draft.cart_id,
            cart_version=draft.cart_version,
            address=draft.address,
            lines=draft.lines,
            subtotal=totals.subtotal,
            shipping=totals.shipping,
            tax_rate=totals.tax_rate,
            tax=totals.tax,
            total=totals.total,
            status=S.PENDING,
            status_reason=None,
            saga=SagaState(
                SagaStep.RESERVE_STOCK, 1, min(policy.deadline(now=now, attempt=1), now + policy.unpaid_ttl)
            ),
            compensation=Compensation(),
            stock_confirmed=False,
            captured=zero,
            refunds=[],
            fulfilment=Fulfilment.NONE,
            fulfilment_started=False,
            guest_token_hash=draft.guest_token_hash,
            placed_at=now,
            updated_at=now,
            expires_at=now + policy.unpaid_ttl,
            version=1,
        )
        order.record(
            OrderPlaced(
                aggregate_id=str(order.id),
                order_id=str(order.id),
                customer_id=str(order.customer_id) if order.customer_id else None,
                email=order.email,
                currency=order.currency,
                total=str(order.total.quantized()),
                lines=tuple(line.snapshot() for line in order.lines),
            )
        )
        order._note("placed", now, total=str(order.total.quantized()), currency=order.currency)
        order._announce_step(now)
        return order

    # -- derived ----------------------------------------------------------------------

    @property
    def currency(self) -> str:
        return self.total.currency

    @property
    def reference(self) -> str:
        """What inventory and payments know this order by (reservation and payment reference)."""
        return str(self.id)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def refunded(self) -> Money:
        return self._sum(r.amount for r in self.refunds if r.status is RefundState.SUCCEEDED)

    @property
    def refundable(self) -> Money:
        """Captured money not yet refunded, counting refunds in flight as taken."""
        taken = self._sum(r.amount for r in self.refunds if r.status is not RefundState.FAILED)
        # Below zero only for a moment: a refund made through payments overtook one
        # requested here, which payments will then refuse.
        return max(self.captured - taken, Money(Decimal(0), self.currency), key=lambda m: m.amount)

    def refund(self, refund_id: uuid.UUID) -> OrderRefund | None:
        return next((r for r in self.refunds if r.id == refund_id), None)

    def expects(self, step: SagaStep, attempt: int) -> bool:
        """Whether a step message is the current one; any other is stale (its step was
        settled, or the sweep already started a newer attempt) and is dropped."""
        return self.saga.step is step and attempt == self.saga.attempt

    # -- saga outcomes ------------------------------------------------------------------

    def stock_reserved(self, *, now: datetime, policy: SagaPolicy) -> None:
        if self.saga.step is SagaStep.RESERVE_STOCK and self.status is S.PENDING:
            self._move(S.AWAITING_PAYMENT, now)
            self._go(SagaStep.AUTHORIZE_PAYMENT, now, policy)
        elif self._gave_up_unpaid() and self.compensation.stock is not Held.CLEAR:
            self._note("late_reservation", now)
            self._go(SagaStep.COMPENSATE, now, policy)

    def stock_rejected(self, *, shortfalls: str, now: datetime, policy: SagaPolicy) -> None:
        if self.saga.step is SagaStep.RESERVE_STOCK and self.status is S.PENDING:
            self._move(S.REJECTED, now, reason=f"out_of_stock: {shortfalls}")
            # A rejected reservation holds nothing and no payment was asked for.
            self.compensation = Compensation(stock=Held.CLEAR, payment=Held.CLEAR)
            self._go(SagaStep.DONE, now, policy)

    def payment_authorized(self, *, now: datetime, policy: SagaPolicy) -> None:
        if self.saga.step is SagaStep.AUTHORIZE_PAYMENT and self.status is S.AWAITING_PAYMENT:
            self._note("payment_authorized", now)
            self._go(SagaStep.CONFIRM_STOCK, now, policy)
        elif self._gave_up_unpaid() and self.compensation.payment is not Held.CLEAR:
            self._note("late_authorization", now)
            self._go(SagaStep.COMPENSATE, now, policy)

    def payment_failed(self, *, reason: str, now: datetime, policy: SagaPolicy) -> None:
        if self.saga.step is SagaStep.AUTHORIZE_PAYMENT and self.status is S.AWAITING_PAYMENT:
            # "failed" at payments always means nothing is held there.
            self.compensation.payment = Held.CLEAR
            self._move(S.PAYMENT_FAILED, now, reason=reason)
            self._go(SagaStep.COMPENSATE, now, policy)

    def stock_confirmed_at_inventory(self, *, now: datetime, policy: SagaPolicy) -> None:
        if self.saga.step is SagaStep.CONFIRM_STOCK:
            self.stock_confirmed = True
            self._go(SagaStep.CAPTURE_PAYMENT, now, policy)

    def stock_lost(self, *, reservation_status: str, now: datetime, policy: SagaPolicy) -> None:
        """The reservation ran out (or was released) before the order could take the stock."""
        if self.saga.step is SagaStep.CONFIRM_STOCK and not self.stock_confirmed:
            self.compensation.stock = Held.CLEAR
            self._move(S.EXPIRED, now, reason=f"reservation_{reservation_status}")
            self._go(SagaStep.COMPENSATE, now, policy)

    def payment_captured(self, *, amount: Money, now: datetime, policy: SagaPolicy) -> None:
        if self.saga.step is SagaStep.CAPTURE_PAYMENT and self.status is S.AWAITING_PAYMENT:
            self.captured = amount
            self._move(S.CONFIRMED, now)
            self.just_confirmed = True
            self.record(
                OrderConfirmed(
                    aggregate_id=str(self.id),
                    order_id=str(self.id),
                    customer_id=str(self.customer_id) if self.customer_id else None,
                    email=self.email,
                    currency=self.currency,
                    total=str(self.total.quantized()),
                    lines=tuple(line.snapshot() for line in self.lines),
                    shipping_address=self.address.to_dict(),
                )
            )
            self._go(SagaStep.DONE, now, policy)

    def capture_refused(self, *, reason: str, now: datetime, policy: SagaPolicy) -> None:
        """The payment can no longer be captured (its authorization is gone).

        The stock was already deducted, so the order is cancelled with a
        restock request; there is no money to give back.
        """
        if self.saga.step is SagaStep.CAPTURE_PAYMENT and self.status is S.AWAITING_PAYMENT:
            self._move(S.CANCELLED, now, reason=f"capture_failed: {reason}")
            self._announce_cancel(reason=f"capture_failed: {reason}", by="system")
            self.compensation = Compensation(stock=Held.CLEAR, payment=Held.CLEAR)
            self._go(SagaStep.DONE, now, policy)

    def compensated(self, *, stock: Held, payment: Held, now: datetime, policy: SagaPolicy) -> None:
        if self.saga.step is not SagaStep.COMPENSATE:
            return
        self.compensation = Compensation(
            stock=Held.CLEAR if self.compensation.stock is Held.CLEAR else stock,
            payment=Held.CLEAR if self.compensation.payment is Held.CLEAR else payment,
        )
        self._note("compensation", now, stock=stock.value, payment=payment.value)
        if Held.PENDING not in (self.compensation.stock, self.compensation.payment):
            self._go(SagaStep.DONE, now, policy)

    # -- time ---------------------------------------------------------------------------

    def is_overdue(self, now: datetime) -> bool:
        return self.saga.deadline is not None and self.saga.deadline <= now

    def expire_if_unpaid(self, *, now: datetime, policy: SagaPolicy) -> bool:
        if (
            self.status in (S.PENDING, S.AWAITING_PAYMENT)
            and self.saga.step in REVERSIBLE_STEPS
            and now >= self.expires_at
        ):
            self._move(S.EXPIRED, now, reason="unpaid")
            self._go(SagaStep.COMPENSATE, now, policy)
            return True
        return False

    def step_timed_out(self, *, now: datetime, policy: SagaPolicy) -> None:
        """The sweep found the step's deadline passed: run it again, or give up on it."""
        if not self.is_overdue(now) or self.expire_if_unpaid(now=now, policy=policy):
            return
        step = self.saga.step
        if step in PERSISTENT_STEPS or self.saga.attempt < policy.max_attempts:
            attempt = self.saga.attempt + 1
            self.saga = SagaState(step, attempt, self._deadline(step, attempt, now, policy))
            self.updated_at = now
            self.version += 1
            self._announce_step(now)
            return
        if step is SagaStep.RESERVE_STOCK:
            self._move(S.EXPIRED, now, reason="timeout: stock reservation")
        else:
            self._move(S.PAYMENT_FAILED, now, reason="timeout: payment authorization")
        self._go(SagaStep.COMPENSATE, now, policy)

    # -- people -------------------------------------------------------------------------

    def cancel(self, *, by: Actor, reason: str, now: datetime, policy: SagaPolicy) -> None:
        """Cancel before fulfilment. Idempotent: cancelling a cancelled order changes nothing."""
        if self.status is S.CANCELLED:
            return
        if self.status in (S.PENDING, S.AWAITING_PAYMENT):
            if self.saga.step not in REVERSIBLE_STEPS:
                raise OrderBeingConfirmed()
            self._move(S.CANCELLED, now, reason=reason)
            self._announce_cancel(reason=reason, by=by)
            self._go(SagaStep.COMPENSATE, now, policy)
            return
        if self.status is S.CONFIRMED and not self.fulfilment_started:
            self._move(S.CANCELLED, now, reason=reason)
            self._announce_cancel(reason=reason, by=by)
            if self.refundable.amount > 0:
                self._add_refund(
                    refund_id=cancel_refund_id(self.id), amount=self.refundable, reason=reason, now=now
                )
                self._start_refunds(now, policy)
            return
        raise IllegalOrderTransition(
            f"a {self.status.value} order cannot be cancelled"
            + ("; refund it instead" if self.status in PAID else ""),
            status=self.status.value,
        )

    def request_refund(
        self, *, refund_id: uuid.UUID, amount: Money, reason: str, now: datetime, policy: SagaPolicy
    ) -> OrderRefund:
        existing = self.refund(refund_id)
        if existing is not None:
            if existing.amount != amount:
                raise Conflict("this refund id was already used for another amount", refund_id=str(refund_id))
            return existing
        if self.status not in PAID:
            raise IllegalOrderTransition(
                f"a {self.status.value} order has no payment to refund", status=self.status.value
            )
        if amount.currency != self.currency:
            raise RefundNotPossible(f"refunds of this order are in {self.currency}")
        if amount.amount <= 0:
            raise RefundNotPossible("a refund is for a positive amount")
        if amount.amount > self.refundable.amount:
            raise RefundNotPossible(
                f"at most {self.refundable.quantized()} {self.currency} can still be refunded",
                refundable=str(self.refundable.quantized()),
            )
        refund = self._add_refund(refund_id=refund_id, amount=amount, reason=reason, now=now)
        self._start_refunds(now, policy)
        return refund

    def refund_settled(
        self, *, refund_id: uuid.UUID, succeeded: bool, now: datetime, policy: SagaPolicy
    ) -> None:
        refund = self.refund(refund_id)
        if refund is None or refund.status is not RefundState.REQUESTED:
            return
        refund.status = RefundState.SUCCEEDED if succeeded else RefundState.FAILED
        refund.settled_at = now
        self._note(
            "refund_" + refund.status.value, now, refund_id=str(refund.id), amount=str(refund.amount.amount)
        )
        if succeeded:
            self._money_returned(refund, now)
        if self.saga.step is SagaStep.REFUND and not self.pending_refunds():
            self._go(SagaStep.DONE, now, policy)

    def refund_made_elsewhere(
        self, *, payments_refund_id: str, amount: Money, reference: str, now: datetime
    ) -> OrderRefund | None:
        """A refund of this order's payment that ordering did not ask for: staff used
        the payments API (or the provider's dashboard). The money already went back,
        so it is recorded as succeeded and the order's state follows, exactly as for
        a refund requested here. Recorded once, whatever the redeliveries."""
        refund_id = elsewhere_refund_id(payments_refund_id)
        if self.refund(refund_id) is not None or amount.currency != self.currency or amount.amount <= 0:
            return None
        if self.refunded.amount + amount.amount > self.captured.amount:
            # Payments never refunds more than it captured; an event saying so is wrong.
            return None
        refund = OrderRefund(
            id=refund_id,
            amount=Money(amount.quantized(), amount.currency),
            reason=f"refunded through payments ({reference})"[:500],
            status=RefundState.SUCCEEDED,
            requested_at=now,
            settled_at=now,
        )
        self.refunds.append(refund)
        self._note(
            "refund_succeeded",
            now,
            refund_id=str(refund.id),
            amount=str(refund.amount.amount),
            source="payments",
            payments_refund_id=payments_refund_id,
        )
        self._money_returned(refund, now)
        return refund

    def refund_step_ran(self, *, attempted: set[uuid.UUID], now: datetime, policy: SagaPolicy) -> None:
        """After a refund step: done when nothing is pending; at once again for refunds
        requested while it ran; otherwise the sweep retries the rest at the deadline."""
        if self.saga.step is not SagaStep.REFUND:
            return
        pending = self.pending_refunds()
        if not pending:
            self._go(SagaStep.DONE, now, policy)
        elif any(r.id not in attempted for r in pending):
            self._go(SagaStep.REFUND, now, policy)

    def pending_refunds(self) -> list[OrderRefund]:
        return [r for r in self.refunds if r.status is RefundState.REQUESTED]

    # -- fulfilment ---------------------------------------------------------------------

    def shipment_created(self, *, shipment_id: str, now: datetime) -> None:
        if not self.fulfilment_started:
            self.fulfilment_started = True
            self._note("fulfilment_started", now, shipment_id=shipment_id)

    def fulfilment_progressed(self, *, stage: Fulfilment, shipment_id: str, now: datetime) -> None:
        """Shipments moved on. Monotonic: an older stage arriving late changes nothing."""
        if _FULFILMENT_RANK[stage] <= _FULFILMENT_RANK[self.fulfilment]:
            return
        self.fulfilment = stage
        self.fulfilment_started = True
        self._note("fulfilment", now, stage=stage.value, shipment_id=shipment_id)
        target = _FULFILMENT_STATUS[stage]
        if self.status in (S.CONFIRMED, S.PARTIALLY_FULFILLED, S.FULFILLED) and target is not self.status:
            self._move(target, now)

    def issue_guest_token(self, token_hash: str) -> None:
        self.guest_token_hash = token_hash
        self.version += 1

    # -- internals ----------------------------------------------------------------------

    def _start_refunds(self, now: datetime, policy: SagaPolicy) -> None:
        # A refund step already running picks new refunds up when it ends.
        if self.saga.finished:
            self._go(SagaStep.REFUND, now, policy)

    def _gave_up_unpaid(self) -> bool:
        return (
            self.status in UNPAID_ENDINGS
            and not self.stock_confirmed
            and self.saga.step
            in (
                SagaStep.COMPENSATE,
                SagaStep.DONE,
            )
        )

    def _money_returned(self, refund: OrderRefund, now: datetime) -> None:
        fully = self.refunded.amount >= self.captured.amount
        if self.status in PAID:
            self._move(S.REFUNDED if fully else S.PARTIALLY_REFUNDED, now, reason=refund.reason)
        self.record(
            OrderRefunded(
                aggregate_id=str(self.id),
                order_id=str(self.id),
                refund_id=str(refund.id),
                amount=str(refund.amount.quantized()),
                currency=self.currency,
                total_refunded=str(self.refunded.quantized()),
                fully_refunded=fully,
            )
        )

    def _add_refund(self, *, refund_id: uuid.UUID, amount: Money, reason: str, now: datetime) -> OrderRefund:
        refund = OrderRefund(
            id=refund_id,
            amount=Money(amount.quantized(), amount.currency),
            reason=reason,
            status=RefundState.REQUESTED,
            requested_at=now,
        )
        self.refunds.append(refund)
        self._note("refund_requested", now, refund_id=str(refund_id), amount=str(refund.amount.amount))
        return refund

    def _move(self, to: OrderStatus, now: datetime, *, reason: str | None = None) -> None:
        if to not in TRANSITIONS[self.status]:
            raise IllegalOrderTransition(
                f"an order cannot go from {self.status.value} to {to.value}", status=self.status.value
            )
        previous, self.status = self.status, to
        self.status_reason = reason
        self.updated_at = now
        self.version += 1
        self.record(
            OrderStatusChanged(
                aggregate_id=str(self.id),
                order_id=str(self.id),
                from_status=previous.value,
                to_status=to.value,
                reason=reason,
            )
        )
        self._note("status_changed", now, **{"from": previous.value, "to": to.value, "reason": reason})

    def _go(self, step: SagaStep, now: datetime, policy: SagaPolicy) -> None:
        self.saga = SagaState(step, 1, self._deadline(step, 1, now, policy))
        self.updated_at = now
        self.version += 1
        self._announce_step(now)

    def _deadline(self, step: SagaStep, attempt: int, now: datetime, policy: SagaPolicy) -> datetime | None:
        if step is SagaStep.DONE:
            return None
        deadline = policy.deadline(now=now, attempt=attempt)
        # The sweep finds overdue sagas by deadline alone, so an unpaid order's
        # deadline never lies past the moment it expires.
        if step in REVERSIBLE_STEPS:
            deadline = min(deadline, max(self.expires_at, now))
        return deadline

    def _announce_step(self, now: datetime) -> None:
        self._note("saga_step", now, step=self.saga.step.value, attempt=self.saga.attempt)
        if not self.saga.finished:
            self.record(
                SagaStepDue(
                    aggregate_id=str(self.id),
                    order_id=str(self.id),
                    step=self.saga.step.value,
                    attempt=self.saga.attempt,
                )
            )

    def _announce_cancel(self, *, reason: str, by: Actor) -> None:
        self.record(
            OrderCancelled(
                aggregate_id=str(self.id),
                order_id=str(self.id),
                reason=reason,
                cancelled_by=by,
                restock=tuple(line.snapshot() for line in self.lines) if self.stock_confirmed else (),
            )
        )

    def _note(self, kind: str, now: datetime, **data: Any) -> None:
        self.history.append(HistoryEntry(kind=kind, status=self.status, data=data, occurred_at=now))

    def _sum(self, amounts: Any) -> Money:
        total = Money(Decimal(0), self.currency)
        for amount in amounts:
            total = total + amount
        return total


_CANCEL_REFUND_NAMESPACE = uuid.UUID("0b5f3c1e-8d7a-4a56-9a1c-2f3e4d5c6b7a")


def cancel_refund_id(order_id: uuid.UUID) -> uuid.UUID:
    """The refund a cancellation makes: one per order, the same on any retry."""
    return uuid.uuid5(_CANCEL_REFUND_NAMESPACE, f"cancel:{order_id}")


_ELSEWHERE_REFUND_NAMESPACE = uuid.UUID("6d1e0f4a-3b9c-4e2d-8f7a-5c6b1a2d3e4f")


def elsewhere_refund_id(payments_refund_id: str) -> uuid.UUID:
    """The order's record of a refund made through payments: one per payments refund."""
    return uuid.uuid5(_ELSEWHERE_REFUND_NAMESPACE, f"payments:{payments_refund_id}")
