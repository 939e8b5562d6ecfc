"""Running one step of the checkout saga.

A step is two phases, never one transaction around a call to another module:

1. read the order; if the message is not its current step (a duplicate, or
   an attempt the sweep has since replaced), stop. Otherwise call the other
   module (inventory or payments). Those calls are idempotent per reference
   (the order id), so running a step twice, or after a crash, is harmless;
2. in one transaction: claim the message in the inbox, lock the order,
   apply the outcome, commit. The order records the next step's message in
   the same transaction (outbox), so the saga moves on exactly once.

An outcome is applied even if the order moved on meanwhile (cancelled while
its payment was being authorized, say): the order decides what a late
success means, which is to compensate again.

Transient failures of the other module (inventory busy, payment provider
unavailable) leave the order as it is; the sweep runs the step again when
its deadline passes, with back-off.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from orderly.modules.inventory.api import (
    InventoryBusy,
    ReservationLine,
    ReservationNotActive,
    ReservationNotFound,
    UnknownSku,
)
from orderly.modules.ordering.application.ports import OrderingDeps
from orderly.modules.ordering.domain.order import Held, Order
from orderly.modules.ordering.domain.saga import SagaStep
from orderly.modules.payments.api import PaymentProviderUnavailable, PaymentResult
from orderly.shared_kernel.errors import Conflict, DomainError, InvalidInput, NotFound
from orderly.shared_kernel.money import Money

log = structlog.get_logger(module="ordering.saga")

SAGA_CONSUMER = "ordering.saga"

AUTHORIZED = frozenset({"authorized", "captured", "partially_refunded", "refunded"})
CAPTURED = frozenset({"captured", "partially_refunded", "refunded"})
NOTHING_HELD = frozenset({"failed", "voided"})
STOCK_BACK = frozenset({"released", "expired", "rejected"})


# -- outcomes: what a step learned, applied to the order in phase 2 ------------------------


class Outcome:
    def apply(self, order: Order, deps: OrderingDeps) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class TryLater(Outcome):
    """The other module could not answer now; the sweep retries at the deadline."""

    why: str

    def apply(self, order: Order, deps: OrderingDeps) -> None:
        return None


@dataclass(frozen=True)
class Reserved(Outcome):
    def apply(self, order: Order, deps: OrderingDeps) -> None:
        order.stock_reserved(now=deps.clock(), policy=deps.policy)


@dataclass(frozen=True)
class ReservationRejected(Outcome):
    shortfalls: str

    def apply(self, order: Order, deps: OrderingDeps) -> None:
        order.stock_rejected(shortfalls=self.shortfalls, now=deps.clock(), policy=deps.policy)


@dataclass(frozen=True)
class Authorized(Outcome):
    def apply(self, order: Order, deps: OrderingDeps) -> None:
        order.payment_authorized(now=deps.clock(), policy=deps.policy)


@dataclass(frozen=True)
class AuthorizationFailed(Outcome):
    reason: str

    def apply(self, order: Order, deps: OrderingDeps) -> None:
        order.payment_failed(reason=self.reason, now=deps.clock(), policy=deps.policy)


@dataclass(frozen=True)
class StockTaken(Outcome):
    def apply(self, order: Order, deps: OrderingDeps) -> None:
        order.stock_confirmed_at_inventory(now=deps.clock(), policy=deps.policy)


@dataclass(frozen=True)
class StockLost(Outcome):
    status: str

    def apply(self, order: Order, deps: OrderingDeps) -> None:
        order.stock_lost(reservation_status=self.status, now=deps.clock(), policy=deps.policy)


@dataclass(frozen=True)
class Captured(Outcome):
    amount: Money

    def apply(self, order: Order, deps: OrderingDeps) -> None:
        order.payment_captured(amount=self.amount, now=deps.clock(), policy=deps.policy)


@dataclass(frozen=True)
class CaptureRefused(Outcome):
    reason: str

    def apply(self, order: Order, deps: OrderingDeps) -> None:
        order.capture_refused(reason=self.reason, now=deps.clock(), policy=deps.policy)


@dataclass(frozen=True)
class Compensated(Outcome):
    stock: Held
    payment: Held

    def apply(self, order: Order, deps: OrderingDeps) -> None:
        order.compensated(stock=self.stock, payment=self.payment, now=deps.clock(), policy=deps.policy)


@dataclass(frozen=True)
class RefundsRan(Outcome):
    # refund id -> True (succeeded), False (failed for good); absent: still pending
    settled: dict[uuid.UUID, bool] = field(default_factory=dict)
    attempted: frozenset[uuid.UUID] = frozenset()

    def apply(self, order: Order, deps: OrderingDeps) -> None:
        now = deps.clock()
        for refund_id, succeeded in self.settled.items():
            order.refund_settled(refund_id=refund_id, succeeded=succeeded, now=now, policy=deps.policy)
        order.refund_step_ran(attempted=set(self.attempted), now=now, policy=deps.policy)


# -- executors: phase 1 of each step ------------------------------------------------------


async def reserve_stock(order: Order, deps: OrderingDeps) -> Outcome:
    lines = [ReservationLine(sku=line.sku, quantity=line.quantity) for line in order.lines]
    try:
        result = await deps.inventory.reserve(order.reference, lines, deps.policy.reservation_ttl)
    except InventoryBusy as exc:
        return TryLater(str(exc))
    except UnknownSku as exc:
        return ReservationRejected(f"{exc.sku} is not stocked")
    if result.status == "rejected":
        short = ", ".join(f"{s.sku} ({s.available} of {s.requested})" for s in result.shortfalls)
        return ReservationRejected(short or "rejected")
    if result.status in ("active", "confirmed"):
        return Reserved()
    # Released or expired already: held once, gone now. The order cannot use it.
    return ReservationRejected(f"reservation {result.status}")


async def authorize_payment(order: Order, deps: OrderingDeps) -> Outcome:
    result = await deps.payments.authorize(
        payment_reference=order.reference,
        order_id=order.id,
        amount=order.total.quantized(),
        currency=order.currency,
        customer_id=order.customer_id,
    )
    return _authorization_outcome(result)


def _authorization_outcome(result: PaymentResult) -> Outcome:
    if result.status in AUTHORIZED:
        return Authorized()
    if result.status in NOTHING_HELD:
        return AuthorizationFailed(result.decline_code or result.failure_reason or result.status)
    # Still pending (another caller is asking the provider): its event will tell.
    return TryLater(f"payment {result.status}")


async def confirm_stock(order: Order, deps: OrderingDeps) -> Outcome:
    try:
        await deps.inventory.confirm(order.reference)
    except InventoryBusy as exc:
        return TryLater(str(exc))
    except ReservationNotActive as exc:
        return StockLost(exc.status)
    except ReservationNotFound:
        return StockLost("missing")
    return StockTaken()


async def capture_payment(order: Order, deps: OrderingDeps) -> Outcome:
    try:
        result = await deps.payments.capture(payment_reference=order.reference)
    except PaymentProviderUnavailable as exc:
        return TryLater(str(exc))
    except (Conflict, NotFound) as exc:
        current = await deps.payments.get(payment_reference=order.reference)
        if current is not None and current.status in CAPTURED:
            return Captured(Money(current.captured_amount, current.currency))
        log.error("capture refused", order_id=str(order.id), error=str(exc))
        return CaptureRefused(current.status if current is not None else "no payment")
    if result.status in CAPTURED:
        return Captured(Money(result.captured_amount, result.currency))
    return TryLater(f"payment {result.status} after capture")


async def compensate(order: Order, deps: OrderingDeps) -> Outcome:
    return Compensated(stock=await _release_stock(order, deps), payment=await _void_payment(order, deps))


async def _release_stock(order: Order, deps: OrderingDeps) -> Held:
    if order.compensation.stock is Held.CLEAR:
        return Held.CLEAR
    try:
        result = await deps.inventory.release(order.reference)
    except ReservationNotFound:
        return Held.ABSENT
    except InventoryBusy:
        return Held.PENDING
    except ReservationNotActive as exc:
        # Only a confirmed reservation refuses a release; the saga never
        # compensates after confirming, so this is a bug worth a loud log.
        log.error("compensation found the stock already taken", order_id=str(order.id), status=exc.status)
        return Held.CLEAR
    return Held.CLEAR if result.status in STOCK_BACK else Held.PENDING


async def _void_payment(order: Order, deps: OrderingDeps) -> Held:
    if order.compensation.payment is Held.CLEAR:
        return Held.CLEAR
    try:
        result = await deps.payments.void(payment_reference=order.reference)
    except NotFound:
        return Held.ABSENT
    except PaymentProviderUnavailable:
        return Held.PENDING
    except Conflict:
        # Refused while the authorization is still in progress (or, by a bug, captured).
        current = await deps.payments.get(payment_reference=order.reference)
        if current is None:
            return Held.ABSENT
        if current.status in NOTHING_HELD:
            return Held.CLEAR
        if current.status in CAPTURED:
            log.error("compensation found the payment captured", order_id=str(order.id))
            return Held.CLEAR
        return Held.PENDING
    return Held.CLEAR if result.status in NOTHING_HELD else Held.PENDING


async def refund_payment(order: Order, deps: OrderingDeps) -> Outcome:
    settled: dict[uuid.UUID, bool] = {}
    attempted: set[uuid.UUID] = set()
    for refund in order.pending_refunds():
        attempted.add(refund.id)
        try:
            result = await deps.payments.refund(
                payment_reference=order.reference,
                refund_reference=str(refund.id),
                amount=refund.amount.quantized(),
            )
        except PaymentProviderUnavailable:
            continue
        except (InvalidInput, Conflict, NotFound) as exc:
            log.error("refund refused", order_id=str(order.id), refund_id=str(refund.id), error=str(exc))
            settled[refund.id] = False
            continue
        if result.status == "succeeded":
            settled[refund.id] = True
        elif result.status == "failed":
            settled[refund.id] = False
    return RefundsRan(settled=settled, attempted=frozenset(attempted))


Executor = Callable[[Order, OrderingDeps], Awaitable[Outcome]]

EXECUTORS: dict[SagaStep, Executor] = {
    SagaStep.RESERVE_STOCK: reserve_stock,
    SagaStep.AUTHORIZE_PAYMENT: authorize_payment,
    SagaStep.CONFIRM_STOCK: confirm_stock,
    SagaStep.CAPTURE_PAYMENT: capture_payment,
    SagaStep.COMPENSATE: compensate,
    SagaStep.REFUND: refund_payment,
}


# -- the step --------------------------------------------------------------------------------


async def run_step(
    *, order_id: uuid.UUID, step: SagaStep, attempt: int, message_id: uuid.UUID, deps: OrderingDeps
) -> Outcome | None:
    """Run one step message; returns the outcome applied (None when the message was stale)."""
    async with deps.uow_factory() as uow:
        if await uow.already_processed(SAGA_CONSUMER, message_id):
            return None
        order = await uow.orders.get(order_id)
    if order is None or not order.expects(step, attempt):
        return None
    try:
        outcome = await EXECUTORS[step](order, deps)
    except DomainError as exc:
        # A refusal nobody planned for (a bug, or a module's contract changed):
        # leave the step to the sweep's retries rather than lose the message in a loop.
        log.error("saga step refused", order_id=str(order_id), step=step.value, error=str(exc), code=exc.code)
        outcome = TryLater(exc.code)
    await deps.after_step_effects(step)
    applied = await apply_outcome(order_id=order_id, outcome=outcome, message_id=message_id, deps=deps)
    if applied is not None and applied.just_confirmed:
        await empty_cart(applied, deps)
    log.info("saga step ran", order_id=str(order_id), step=step.value, attempt=attempt, outcome=repr(outcome))
    return outcome


async def apply_outcome(
    *, order_id: uuid.UUID, outcome: Outcome, message_id: uuid.UUID, deps: OrderingDeps
) -> Order | None:
    async with deps.uow_factory() as uow:
        if not await uow.claim_message(SAGA_CONSUMER, message_id):
            return None
        order = await uow.orders.get(order_id, for_update=True)
        if order is None:
            return None
        outcome.apply(order, deps)
        await uow.orders.save(order)
        await uow.commit()
    return order


async def empty_cart(order: Order, deps: OrderingDeps) -> None:
    """Only a confirmed order empties its cart: a declined payment leaves it for another try."""
    carts = deps.cart()
    if carts is None:
        return
    try:
        await carts.mark_checked_out(order.cart_id, order_id=order.id, version=order.cart_version)
    except Exception:
        # The order stands either way; the cart just keeps its lines.
        log.warning("could not empty the cart of a confirmed order", order_id=str(order.id), exc_info=True)
