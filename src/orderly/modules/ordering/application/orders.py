"""What happens to an order after checkout: people (cancel, refund), other modules' events, time.

Each use case is one transaction that locks the order (``FOR UPDATE``), so a
saga step, an event and a person acting on the same order are serialised.
"""

from __future__ import annotations

import hmac
import uuid
from decimal import Decimal

import structlog

from orderly.modules.ordering.application.checkout import hash_guest_token
from orderly.modules.ordering.application.commands import Caller, CancelOrder, RefundOrder
from orderly.modules.ordering.application.ports import OrderingDeps, OrderingUnitOfWork
from orderly.modules.ordering.domain.errors import OrderNotFound
from orderly.modules.ordering.domain.order import Fulfilment, Order
from orderly.shared_kernel.money import Money

log = structlog.get_logger(module="ordering")


def can_see(order: Order, caller: Caller) -> bool:
    """Staff see every order; a customer their own; a guest the one their token opens."""
    if caller.staff:
        return True
    if caller.customer_id is not None:
        return order.customer_id == caller.customer_id
    if caller.guest_token is not None and order.guest_token_hash is not None:
        return hmac.compare_digest(order.guest_token_hash, hash_guest_token(caller.guest_token))
    return False


async def visible_order(uow: OrderingUnitOfWork, order_id: uuid.UUID, caller: Caller) -> Order:
    order = await uow.orders.get(order_id)
    # Someone else's order is answered like a missing one, so ids cannot be probed.
    if order is None or not can_see(order, caller):
        raise OrderNotFound(order_id)
    return order


async def get_order(order_id: uuid.UUID, caller: Caller, *, deps: OrderingDeps) -> Order:
    async with deps.uow_factory() as uow:
        return await visible_order(uow, order_id, caller)


async def cancel_order(command: CancelOrder, *, deps: OrderingDeps) -> Order:
    async with deps.uow_factory() as uow:
        order = await uow.orders.get(command.order_id, for_update=True)
        if order is None or not can_see(order, command.caller):
            raise OrderNotFound(command.order_id)
        order.cancel(
            by="staff" if command.caller.staff else "customer",
            reason=command.reason,
            now=deps.clock(),
            policy=deps.policy,
        )
        await uow.orders.save(order)
        await uow.commit()
    log.info("order cancelled", order_id=str(order.id), status=order.status.value)
    return order


async def refund_order(command: RefundOrder, *, deps: OrderingDeps) -> Order:
    """Staff refund part or all of what was captured; the saga's refund step moves the money."""
    async with deps.uow_factory() as uow:
        order = await uow.orders.get(command.order_id, for_update=True)
        if order is None:
            raise OrderNotFound(command.order_id)
        order.request_refund(
            refund_id=command.refund_id,
            amount=Money.of(command.amount, order.currency),
            reason=command.reason,
            now=deps.clock(),
            policy=deps.policy,
        )
        await uow.orders.save(order)
        await uow.commit()
    return order


async def sweep_overdue(*, deps: OrderingDeps, batch_size: int) -> int:
    """One batch: every order whose saga step is past its deadline is retried,
    expired or given up (``Order.step_timed_out``). Returns how many were handled."""
    now = deps.clock()
    async with deps.uow_factory() as uow:
        overdue = await uow.orders.claim_overdue(now=now, limit=batch_size)
        for order in overdue:
            order.step_timed_out(now=now, policy=deps.policy)
            await uow.orders.save(order)
        await uow.commit()
    if overdue:
        log.info("overdue sagas handled", count=len(overdue))
    return len(overdue)


# -- other modules' events (run inside an inbox-guarded unit of work) -------------------------


async def on_payment_authorized(*, order_id: uuid.UUID, uow: OrderingUnitOfWork, deps: OrderingDeps) -> None:
    order = await _locked(uow, order_id)
    if order is not None:
        order.payment_authorized(now=deps.clock(), policy=deps.policy)
        await uow.orders.save(order)


async def on_payment_failed(
    *, order_id: uuid.UUID, reason: str, uow: OrderingUnitOfWork, deps: OrderingDeps
) -> None:
    order = await _locked(uow, order_id)
    if order is not None:
        order.payment_failed(reason=reason, now=deps.clock(), policy=deps.policy)
        await uow.orders.save(order)


async def on_payment_captured(
    *, order_id: uuid.UUID, amount: Decimal, currency: str, uow: OrderingUnitOfWork, deps: OrderingDeps
) -> Order | None:
    order = await _locked(uow, order_id)
    if order is not None:
        order.payment_captured(amount=Money(amount, currency), now=deps.clock(), policy=deps.policy)
        await uow.orders.save(order)
    return order


async def on_payment_refunded(
    *,
    order_id: uuid.UUID,
    payments_refund_id: str,
    refund_reference: str,
    amount: Money,
    uow: OrderingUnitOfWork,
    deps: OrderingDeps,
) -> None:
    """Money went back: settle the refund ordering asked for, or record one it did not."""
    order = await _locked(uow, order_id)
    if order is None:
        return
    ours = _refund_id(refund_reference)
    if ours is not None and order.refund(ours) is not None:
        order.refund_settled(refund_id=ours, succeeded=True, now=deps.clock(), policy=deps.policy)
    else:
        recorded = order.refund_made_elsewhere(
            payments_refund_id=payments_refund_id, amount=amount, reference=refund_reference, now=deps.clock()
        )
        if recorded is not None:
            log.info("refund made through payments", order_id=str(order_id), amount=str(amount.amount))
    await uow.orders.save(order)


def _refund_id(reference: str) -> uuid.UUID | None:
    """Ordering names its refunds by uuid; anything else was named elsewhere."""
    try:
        return uuid.UUID(reference)
    except ValueError:
        return None


async def on_shipment_created(
    *, order_id: uuid.UUID, shipment_id: str, uow: OrderingUnitOfWork, deps: OrderingDeps
) -> None:
    order = await _locked(uow, order_id)
    if order is not None:
        order.shipment_created(shipment_id=shipment_id, now=deps.clock())
        await uow.orders.save(order)


async def on_fulfilment_progress(
    *, order_id: uuid.UUID, shipment_id: str, stage: Fulfilment, uow: OrderingUnitOfWork, deps: OrderingDeps
) -> None:
    order = await _locked(uow, order_id)
    if order is not None:
        order.fulfilment_progressed(stage=stage, shipment_id=shipment_id, now=deps.clock())
        await uow.orders.save(order)


async def _locked(uow: OrderingUnitOfWork, order_id: uuid.UUID) -> Order | None:
    order = await uow.orders.get(order_id, for_update=True)
    if order is None:
        # Payments made by other callers (or tests) carry order ids ordering never issued.
        log.info("event for an order ordering does not know", order_id=str(order_id))
    return order
