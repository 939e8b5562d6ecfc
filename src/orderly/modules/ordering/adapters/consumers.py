"""What ordering consumes: its own saga step messages, payments' results, fulfilment's progress."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal

from orderly.modules.fulfilment.contracts import ShipmentCreated, ShipmentDelivered, ShipmentShipped
from orderly.modules.ordering.application import orders as use_cases
from orderly.modules.ordering.application.ports import OrderingDeps, OrderingUnitOfWork
from orderly.modules.ordering.application.saga import empty_cart, run_step
from orderly.modules.ordering.domain.order import Fulfilment, Order
from orderly.modules.ordering.domain.saga import SagaStep, SagaStepDue
from orderly.modules.payments.contracts import (
    PaymentAuthorizationFailed,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentRefunded,
)
from orderly.platform import context
from orderly.platform.events import Message, from_message
from orderly.platform.messaging.port import Handler, PoisonMessage
from orderly.shared_kernel.money import Money

PAYMENT_RESULTS = "ordering.payment-results"
FULFILMENT_PROGRESS = "ordering.fulfilment-progress"

SAGA_EVENTS: tuple[str, ...] = (SagaStepDue.event_type,)
PAYMENT_EVENTS: tuple[str, ...] = (
    PaymentAuthorized.event_type,
    PaymentAuthorizationFailed.event_type,
    PaymentCaptured.event_type,
    PaymentRefunded.event_type,
)
FULFILMENT_EVENTS: tuple[str, ...] = (
    ShipmentCreated.event_type,
    ShipmentShipped.event_type,
    ShipmentDelivered.event_type,
)

Apply = Callable[[Message, OrderingUnitOfWork], Awaitable[Order | None]]


def saga_handler(deps: OrderingDeps) -> Handler:
    async def handle(message: Message) -> None:
        due = from_message(SagaStepDue, message)
        try:
            step = SagaStep(due.step)
            order_id = uuid.UUID(due.order_id)
        except ValueError:
            raise PoisonMessage(f"not a saga step of this version: {due.step!r}") from None
        token = context.causation_var.set(str(message.message_id))
        try:
            await run_step(
                order_id=order_id, step=step, attempt=due.attempt, message_id=message.message_id, deps=deps
            )
        finally:
            context.causation_var.reset(token)

    return handle


def inbox_guarded(consumer: str, deps: OrderingDeps, apply: Apply) -> Handler:
    """Apply each message at most once (inbox row claimed in the same transaction);
    once committed, a confirmed order's cart is emptied."""

    async def handle(message: Message) -> None:
        token = context.causation_var.set(str(message.message_id))
        try:
            async with deps.uow_factory() as uow:
                if not await uow.claim_message(consumer, message.message_id):
                    return
                order = await apply(message, uow)
                await uow.commit()
            if order is not None and order.just_confirmed:
                await empty_cart(order, deps)
        finally:
            context.causation_var.reset(token)

    return handle


def payment_results_handler(deps: OrderingDeps) -> Handler:
    async def apply(message: Message, uow: OrderingUnitOfWork) -> Order | None:
        if message.event_type == PaymentAuthorized.event_type:
            authorized = from_message(PaymentAuthorized, message)
            await use_cases.on_payment_authorized(order_id=_order_id(authorized.order_id), uow=uow, deps=deps)
        elif message.event_type == PaymentAuthorizationFailed.event_type:
            failed = from_message(PaymentAuthorizationFailed, message)
            await use_cases.on_payment_failed(
                order_id=_order_id(failed.order_id),
                reason=failed.decline_code or failed.reason,
                uow=uow,
                deps=deps,
            )
        elif message.event_type == PaymentCaptured.event_type:
            captured = from_message(PaymentCaptured, message)
            return await use_cases.on_payment_captured(
                order_id=_order_id(captured.order_id),
                amount=Decimal(captured.amount),
                currency=captured.currency,
                uow=uow,
                deps=deps,
            )
        elif message.event_type == PaymentRefunded.event_type:
            refunded = from_message(PaymentRefunded, message)
            await use_cases.on_payment_refunded(
                order_id=_order_id(refunded.order_id),
                payments_refund_id=refunded.refund_id,
                refund_reference=refunded.refund_reference,
                amount=Money(Decimal(refunded.amount), refunded.currency),
                uow=uow,
                deps=deps,
            )
        return None

    return inbox_guarded(PAYMENT_RESULTS, deps, apply)


def fulfilment_handler(deps: OrderingDeps) -> Handler:
    async def apply(message: Message, uow: OrderingUnitOfWork) -> Order | None:
        if message.event_type == ShipmentCreated.event_type:
            created = from_message(ShipmentCreated, message)
            await use_cases.on_shipment_created(
                order_id=_order_id(created.order_id), shipment_id=created.shipment_id, uow=uow, deps=deps
            )
        elif message.event_type == ShipmentShipped.event_type:
            shipped = from_message(ShipmentShipped, message)
            await use_cases.on_fulfilment_progress(
                order_id=_order_id(shipped.order_id),
                shipment_id=shipped.shipment_id,
                stage=Fulfilment.FULFILLED if shipped.order_fully_shipped else Fulfilment.PARTIAL,
                uow=uow,
                deps=deps,
            )
        elif message.event_type == ShipmentDelivered.event_type:
            delivered = from_message(ShipmentDelivered, message)
            if delivered.order_fully_delivered:
                await use_cases.on_fulfilment_progress(
                    order_id=_order_id(delivered.order_id),
                    shipment_id=delivered.shipment_id,
                    stage=Fulfilment.DELIVERED,
                    uow=uow,
                    deps=deps,
                )
        return None

    return inbox_guarded(FULFILMENT_PROGRESS, deps, apply)


def _order_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise PoisonMessage(f"not an order id: {value!r}") from None
