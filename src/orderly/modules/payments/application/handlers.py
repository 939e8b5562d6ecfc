"""Payment use cases.

A call to the provider never happens inside a database transaction. Each use
case is a short series of atomic phases (after Brandur Leach's idempotency
keys): record the intention and commit; call the provider with an
idempotency key derived from the payment id and the operation, so that any
repetition of the phase (a retry, a second caller, the sweep after a crash)
reaches the provider as the same request; then record the answer and commit.
Recording goes through ``Payment.reconcile``, which is idempotent, so it does
not matter whether the synchronous answer or the webhook lands first.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog

from orderly.modules.payments.api import PaymentProviderUnavailable
from orderly.modules.payments.application.commands import AuthorizePayment, RefundPayment
from orderly.modules.payments.application.ports import (
    PaymentProvider,
    PaymentsUnitOfWork,
    ProviderRejected,
    ProviderUnavailable,
)
from orderly.modules.payments.domain.model import (
    MONEY_CAPTURED,
    FailureReason,
    IllegalTransition,
    Payment,
    PaymentStatus,
    ProviderStatus,
    ProviderView,
    Refund,
    RefundStatus,
)
from orderly.shared_kernel.domain import utcnow
from orderly.shared_kernel.errors import Conflict, InvalidInput, NotFound
from orderly.shared_kernel.money import Money

log = structlog.get_logger(module="payments")

UowFactory = Callable[[], PaymentsUnitOfWork]

WEBHOOK_CONSUMER = "payments.provider-webhooks"


def operation_key(payment_id: uuid.UUID, operation: str) -> str:
    """The idempotency key of one logical operation: the same for every attempt."""
    return f"orderly:{payment_id}:{operation}"


# -- authorize ----------------------------------------------------------------------


async def authorize_payment(
    command: AuthorizePayment, *, uow_factory: UowFactory, provider: PaymentProvider
) -> Payment:
    amount = Money.of(command.amount, command.currency)
    async with uow_factory() as uow:
        payment = await uow.payments.get_by_reference(command.payment_reference)
        if payment is None:
            candidate = Payment.start(
                reference=command.payment_reference,
                order_id=command.order_id,
                amount=amount,
                customer_id=command.customer_id,
            )
            if await uow.payments.add(candidate):
                payment = candidate
            else:  # a concurrent call with the same reference inserted first
                payment = await uow.payments.get_by_reference(command.payment_reference)
                if payment is None:  # pragma: no cover - it just conflicted
                    raise Conflict("payment reference clash", payment_reference=command.payment_reference)
        payment.ensure_same_request(order_id=command.order_id, amount=amount)
        await uow.commit()
    if payment.status is not PaymentStatus.PENDING:
        return payment
    return await drive_authorization(payment.id, uow_factory=uow_factory, provider=provider)


async def drive_authorization(
    payment_id: uuid.UUID, *, uow_factory: UowFactory, provider: PaymentProvider
) -> Payment:
    """Ask the provider for a pending payment's authorization and record the answer.

    Also what the sweep runs for a payment left pending by a crash: the key is
    the same, so the provider answers the first attempt's outcome.
    """
    payment = await _load(payment_id, uow_factory)
    if payment.status is not PaymentStatus.PENDING:
        return payment
    view: ProviderView | None = None
    gave_up: FailureReason | None = None
    try:
        view = await provider.authorize(
            idempotency_key=operation_key(payment.id, "authorize"),
            reference=str(payment.id),
            amount=payment.amount,
            customer=str(payment.customer_id) if payment.customer_id else None,
            metadata={"order_id": str(payment.order_id), "payment_reference": payment.reference},
        )
    except ProviderUnavailable as exc:
        gave_up = FailureReason.TIMEOUT if exc.reason == "timeout" else FailureReason.ERROR
    except ProviderRejected as exc:
        log.error("authorization refused", payment_id=str(payment.id), code=exc.code, error=exc.message)
        view = exc.view
        if view is None:
            gave_up = FailureReason.ERROR

    async with uow_factory() as uow:
        payment = await _get(uow, payment_id)
        if view is not None:
            payment.reconcile(view)
        elif gave_up is not None:
            payment.gave_up_authorization(gave_up)
        await uow.payments.save(payment)
        await uow.commit()
    return payment


# -- capture and void ---------------------------------------------------------------


async def capture_payment(reference: str, *, uow_factory: UowFactory, provider: PaymentProvider) -> Payment:
    payment = await _load_by_reference(reference, uow_factory)
    if not payment.begin_capture():
        return payment
    assert payment.provider_intent_id is not None  # authorized implies it
    key = operation_key(payment.id, "capture")
    view = await _ask(provider.capture(idempotency_key=key, provider_intent_id=payment.provider_intent_id))
    return await _record(payment.id, view, uow_factory=uow_factory, expect=MONEY_CAPTURED)


async def void_payment(reference: str, *, uow_factory: UowFactory, provider: PaymentProvider) -> Payment:
    payment = await _load_by_reference(reference, uow_factory)
    if not payment.begin_void():
        return payment
    assert payment.provider_intent_id is not None
    key = operation_key(payment.id, "void")
    view = await _ask(provider.void(idempotency_key=key, provider_intent_id=payment.provider_intent_id))
    return await _record(payment.id, view, uow_factory=uow_factory, expect=frozenset({PaymentStatus.VOIDED}))


# -- refunds ------------------------------------------------------------------------


async def refund_payment(
    command: RefundPayment, *, uow_factory: UowFactory, provider: PaymentProvider
) -> tuple[Payment, Refund]:
    async with uow_factory() as uow:
        payment = await _get(uow, command.payment_id)
        refund = payment.request_refund(
            reference=command.refund_reference, amount=Money.of(command.amount, payment.amount.currency)
        )
        await uow.payments.save(payment)
        await uow.commit()
    if refund.status is not RefundStatus.REQUESTED:
        return payment, refund
    return await drive_refund(payment.id, refund.id, uow_factory=uow_factory, provider=provider)


async def drive_refund(
    payment_id: uuid.UUID, refund_id: uuid.UUID, *, uow_factory: UowFactory, provider: PaymentProvider
) -> tuple[Payment, Refund]:
    payment = await _load(payment_id, uow_factory)
    refund = payment.refund_by_id(refund_id)
    if refund is None:
        raise NotFound("no such refund", refund_id=str(refund_id))
    if refund.status is not RefundStatus.REQUESTED:
        return payment, refund
    assert payment.provider_intent_id is not None
    try:
        view = await provider.refund(
            idempotency_key=operation_key(payment.id, f"refund:{refund.id}"),
            provider_intent_id=payment.provider_intent_id,
            amount=refund.amount,
            reference=str(refund.id),
        )
    except ProviderUnavailable as exc:
        raise _unavailable(exc) from None
    except ProviderRejected as exc:
        async with uow_factory() as uow:
            payment = await _get(uow, payment_id)
            if exc.view is not None:
                payment.reconcile(exc.view)
            payment.refund_failed(refund_id)
            await uow.payments.save(payment)
            await uow.commit()
        raise InvalidInput(f"the provider refused the refund: {exc.message}", code=exc.code) from None
    payment = await _record(payment_id, view, uow_factory=uow_factory)
    refund = payment.refund_by_id(refund_id)
    assert refund is not None
    return payment, refund


# -- what the provider tells us on its own -------------------------------------------


async def apply_provider_event(
    *, event_id: uuid.UUID, payment_id: uuid.UUID, view: ProviderView, uow: PaymentsUnitOfWork
) -> bool:
    """Apply one webhook; False if this delivery was seen before (nothing changes).

    The inbox mark and the change share one transaction, so a redelivery, even
    a concurrent one, applies nothing twice.
    """
    async with uow:
        if await uow.already_processed(WEBHOOK_CONSUMER, event_id):
            return False
        payment = await uow.payments.get(payment_id)
        if payment is None:
            log.warning("webhook for an unknown payment", payment_id=str(payment_id), event_id=str(event_id))
        else:
            payment.reconcile(view)
            await uow.payments.save(payment)
        uow.mark_processed(WEBHOOK_CONSUMER, event_id)
        await uow.commit()
    return True


# -- the sweep: finish what crashes and outages left half done -------------------------


@dataclass(frozen=True)
class SweepReport:
    authorizations_resumed: int = 0
    releases_done: int = 0
    refunds_resumed: int = 0
    failures: int = 0


async def sweep(
    *,
    uow_factory: UowFactory,
    provider: PaymentProvider,
    stale_after: timedelta,
    release_grace: timedelta,
    limit: int = 100,
) -> SweepReport:
    """One pass: resume stale authorizations and refunds, release abandoned holds."""
    now = utcnow()
    async with uow_factory() as uow:
        pending = await uow.payments.stale_pending(before=now - stale_after, limit=limit)
        releases = await uow.payments.releases_due(before=now - release_grace, limit=limit)
        refunds = await uow.payments.stale_refunds(before=now - stale_after, limit=limit)
    failures = released = 0
    for payment_id in pending:
        failures += not await _survive(
            drive_authorization(payment_id, uow_factory=uow_factory, provider=provider)
        )
    for payment_id in releases:
        if await _survive(release_authorization(payment_id, uow_factory=uow_factory, provider=provider)):
            released += 1
        else:
            failures += 1
    for payment_id, refund_id in refunds:
        failures += not await _survive(
            drive_refund(payment_id, refund_id, uow_factory=uow_factory, provider=provider)
        )
    return SweepReport(
        authorizations_resumed=len(pending),
        releases_done=released,
        refunds_resumed=len(refunds),
        failures=failures,
    )


async def release_authorization(
    payment_id: uuid.UUID, *, uow_factory: UowFactory, provider: PaymentProvider
) -> Payment:
    """Make sure a payment Orderly gave up on holds no money at the provider."""
    payment = await _load(payment_id, uow_factory)
    if not payment.release_pending:
        return payment
    view = await _find(provider, str(payment.id))
    if view is not None and view.status is ProviderStatus.AUTHORIZED:
        view = await _ask(
            provider.void(
                idempotency_key=operation_key(payment.id, "void"), provider_intent_id=view.provider_intent_id
            )
        )
    async with uow_factory() as uow:
        payment = await _get(uow, payment_id)
        if view is None:
            payment.nothing_held_at_provider()
        else:
            payment.reconcile(view)
        await uow.payments.save(payment)
        await uow.commit()
    return payment


# -- helpers ----------------------------------------------------------------------------


async def _survive(work: Awaitable[object]) -> bool:
    """Run one sweep step; a failure postpones it to the next pass."""
    try:
        await work
    except (PaymentProviderUnavailable, Conflict, InvalidInput, NotFound) as exc:
        log.warning("sweep step postponed", error=str(exc))
        return False
    return True


def _unavailable(exc: ProviderUnavailable) -> PaymentProviderUnavailable:
    return PaymentProviderUnavailable(
        "the payment provider did not answer; try again later", reason=exc.reason
    )


async def _ask(call: Awaitable[ProviderView]) -> ProviderView:
    """The provider's view after a mutating call; a refusal that says what the
    intent looks like is still an answer to record."""
    try:
        return await call
    except ProviderUnavailable as exc:
        raise _unavailable(exc) from None
    except ProviderRejected as exc:
        if exc.view is None:
            raise Conflict(f"the payment provider refused: {exc.message}", code=exc.code) from None
        return exc.view


async def _find(provider: PaymentProvider, reference: str) -> ProviderView | None:
    try:
        return await provider.find(reference=reference)
    except ProviderUnavailable as exc:
        raise _unavailable(exc) from None


async def _record(
    payment_id: uuid.UUID,
    view: ProviderView,
    *,
    uow_factory: UowFactory,
    expect: frozenset[PaymentStatus] | None = None,
) -> Payment:
    async with uow_factory() as uow:
        payment = await _get(uow, payment_id)
        payment.reconcile(view)
        await uow.payments.save(payment)
        await uow.commit()
    if expect is not None and payment.status not in expect:
        raise IllegalTransition(
            f"the provider reports the payment {view.status.value}", status=payment.status.value
        )
    return payment


async def _get(uow: PaymentsUnitOfWork, payment_id: uuid.UUID) -> Payment:
    payment = await uow.payments.get(payment_id)
    if payment is None:
        raise NotFound("no payment with this id", payment_id=str(payment_id))
    return payment


async def _load(payment_id: uuid.UUID, uow_factory: UowFactory) -> Payment:
    async with uow_factory() as uow:
        return await _get(uow, payment_id)


async def _load_by_reference(reference: str, uow_factory: UowFactory) -> Payment:
    async with uow_factory() as uow:
        payment = await uow.payments.get_by_reference(reference)
    if payment is None:
        raise NotFound("no payment with this reference", payment_reference=reference)
    return payment
