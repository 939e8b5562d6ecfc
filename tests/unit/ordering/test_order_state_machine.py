"""The order aggregate: its state machine, the saga it carries, refunds and fulfilment.

The property test throws every kind of input at an order in any order, many
times over (saga outcomes, payment events arriving late or twice, people
cancelling and refunding, the sweep, fulfilment), and checks after each that
the order only ever moved along the transition table, never left a terminal
status, and that its saga and money stay consistent.
"""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderly.modules.ordering.contracts import (
    OrderCancelled,
    OrderConfirmed,
    OrderRefunded,
    OrderStatusChanged,
)
from orderly.modules.ordering.domain.errors import (
    IllegalOrderTransition,
    OrderBeingConfirmed,
    RefundNotPossible,
)
from orderly.modules.ordering.domain.order import (
    PAID,
    TERMINAL,
    TRANSITIONS,
    UNPAID_ENDINGS,
    Fulfilment,
    Held,
    Order,
    OrderStatus,
    RefundState,
)
from orderly.modules.ordering.domain.saga import SagaStep, SagaStepDue
from orderly.shared_kernel.errors import DomainError
from tests.unit.ordering.factories import (
    POLICY,
    T0,
    authorized,
    confirmed,
    draft,
    eur,
    placed,
    reserved,
    stock_taken,
)

S = OrderStatus


def step_of(order: Order) -> SagaStep:
    """The current step, read through a call so the type checker does not narrow it."""
    return order.saga.step


def status_of(order: Order) -> OrderStatus:
    return order.status


def steps_of(order: Order) -> list[tuple[str, int]]:
    return [(e.step, e.attempt) for e in order.collect_events() if isinstance(e, SagaStepDue)]


class TestHappyPath:
    def test_a_new_order_is_pending_and_asks_for_its_stock(self) -> None:
        order = Order.place(draft(), now=T0, policy=POLICY)
        assert order.status is S.PENDING
        assert order.saga.step is SagaStep.RESERVE_STOCK
        assert order.saga.deadline == T0 + POLICY.step_timeout
        assert order.expires_at == T0 + POLICY.unpaid_ttl
        assert steps_of(order) == [("reserve_stock", 1)]

    def test_each_outcome_moves_the_saga_one_step_and_announces_the_next(self) -> None:
        order = placed()
        order.stock_reserved(now=T0, policy=POLICY)
        assert (order.status, order.saga.step) == (S.AWAITING_PAYMENT, SagaStep.AUTHORIZE_PAYMENT)
        order.payment_authorized(now=T0, policy=POLICY)
        assert step_of(order) is SagaStep.CONFIRM_STOCK
        order.stock_confirmed_at_inventory(now=T0, policy=POLICY)
        assert step_of(order) is SagaStep.CAPTURE_PAYMENT
        order.payment_captured(amount=order.total, now=T0, policy=POLICY)
        assert (order.status, order.saga.step, order.saga.deadline) == (S.CONFIRMED, SagaStep.DONE, None)
        events = order.collect_events()
        assert [(e.step, e.attempt) for e in events if isinstance(e, SagaStepDue)] == [
            ("authorize_payment", 1),
            ("confirm_stock", 1),
            ("capture_payment", 1),
        ]
        confirmed_event = next(e for e in events if isinstance(e, OrderConfirmed))
        assert [line.sku for line in confirmed_event.lines] == ["MUG-1"]
        assert order.just_confirmed

    def test_a_repeated_outcome_changes_nothing(self) -> None:
        order = authorized()
        before = order.version
        order.stock_reserved(now=T0, policy=POLICY)
        order.payment_authorized(now=T0, policy=POLICY)
        assert order.version == before
        assert order.saga.step is SagaStep.CONFIRM_STOCK


class TestCompensation:
    def test_out_of_stock_rejects_the_order_with_nothing_to_undo(self) -> None:
        order = placed()
        order.stock_rejected(shortfalls="MUG-1 (0 of 2)", now=T0, policy=POLICY)
        assert order.status is S.REJECTED
        assert order.status_reason == "out_of_stock: MUG-1 (0 of 2)"
        assert order.saga.finished

    def test_a_declined_payment_fails_the_order_and_releases_the_stock(self) -> None:
        order = reserved()
        order.payment_failed(reason="card_declined", now=T0, policy=POLICY)
        assert order.status is S.PAYMENT_FAILED
        assert order.saga.step is SagaStep.COMPENSATE
        assert order.compensation.payment is Held.CLEAR

    def test_compensation_ends_only_when_nothing_is_pending(self) -> None:
        order = reserved()
        order.payment_failed(reason="declined", now=T0, policy=POLICY)
        order.compensated(stock=Held.PENDING, payment=Held.ABSENT, now=T0, policy=POLICY)
        assert order.saga.step is SagaStep.COMPENSATE
        order.compensated(stock=Held.CLEAR, payment=Held.ABSENT, now=T0, policy=POLICY)
        assert order.saga.finished

    def test_an_authorization_that_lands_after_a_cancel_is_compensated_again(self) -> None:
        order = reserved()
        order.cancel(by="customer", reason="changed my mind", now=T0, policy=POLICY)
        order.compensated(stock=Held.CLEAR, payment=Held.ABSENT, now=T0, policy=POLICY)
        assert order.saga.finished
        order.collect_events()
        order.payment_authorized(now=T0, policy=POLICY)
        assert order.status is S.CANCELLED
        assert steps_of(order) == [("compensate", 1)]

    def test_a_late_authorization_is_ignored_once_the_payment_is_known_void(self) -> None:
        order = reserved()
        order.cancel(by="staff", reason="fraud", now=T0, policy=POLICY)
        order.compensated(stock=Held.CLEAR, payment=Held.CLEAR, now=T0, policy=POLICY)
        order.collect_events()
        order.payment_authorized(now=T0, policy=POLICY)
        assert order.saga.finished
        assert steps_of(order) == []

    def test_a_lost_reservation_expires_the_order_and_voids_the_payment(self) -> None:
        order = authorized()
        order.stock_lost(reservation_status="expired", now=T0, policy=POLICY)
        assert order.status is S.EXPIRED
        assert order.status_reason == "reservation_expired"
        assert order.saga.step is SagaStep.COMPENSATE
        assert order.compensation.stock is Held.CLEAR

    def test_a_refused_capture_cancels_the_order_and_asks_for_a_restock(self) -> None:
        order = stock_taken()
        order.collect_events()
        order.capture_refused(reason="voided", now=T0, policy=POLICY)
        assert order.status is S.CANCELLED
        cancelled = next(e for e in order.collect_events() if isinstance(e, OrderCancelled))
        assert [line.sku for line in cancelled.restock] == ["MUG-1"]


class TestTime:
    def test_an_overdue_step_runs_again_with_a_longer_deadline(self) -> None:
        order = placed()
        later = T0 + timedelta(seconds=31)
        order.step_timed_out(now=later, policy=POLICY)
        assert (order.saga.step, order.saga.attempt) == (SagaStep.RESERVE_STOCK, 2)
        assert order.saga.deadline == later + POLICY.step_timeout * 2
        assert steps_of(order) == [("reserve_stock", 2)]

    def test_a_step_that_is_not_yet_due_is_left_alone(self) -> None:
        order = placed()
        order.step_timed_out(now=T0 + timedelta(seconds=5), policy=POLICY)
        assert order.saga.attempt == 1

    def test_authorization_is_given_up_after_its_attempts(self) -> None:
        order = reserved()
        now = T0
        for _ in range(POLICY.max_attempts):
            assert order.saga.deadline is not None
            now = order.saga.deadline
            order.step_timed_out(now=now, policy=POLICY)
        assert order.status is S.PAYMENT_FAILED
        assert order.status_reason == "timeout: payment authorization"
        assert order.saga.step is SagaStep.COMPENSATE

    def test_capture_is_retried_without_limit(self) -> None:
        order = stock_taken()
        for _ in range(POLICY.max_attempts * 3):
            assert order.saga.deadline is not None
            order.step_timed_out(now=order.saga.deadline, policy=POLICY)
        assert order.saga.step is SagaStep.CAPTURE_PAYMENT
        assert order.status is S.AWAITING_PAYMENT
        assert order.saga.deadline is not None
        assert order.saga.deadline - order.updated_at == POLICY.step_timeout * POLICY.max_backoff_factor

    def test_an_unpaid_order_expires_and_gives_its_stock_back(self) -> None:
        order = reserved()
        assert order.expire_if_unpaid(now=order.expires_at, policy=POLICY)
        assert order.status is S.EXPIRED
        assert order.status_reason == "unpaid"
        assert order.saga.step is SagaStep.COMPENSATE

    def test_a_deadline_never_lies_past_the_expiry_of_an_unpaid_order(self) -> None:
        order = reserved()
        near_expiry = order.expires_at - timedelta(seconds=1)
        order.step_timed_out(now=order.saga.deadline or T0, policy=POLICY)
        order.step_timed_out(now=near_expiry, policy=POLICY)
        assert order.saga.deadline == order.expires_at

    def test_an_order_being_captured_does_not_expire(self) -> None:
        order = stock_taken()
        assert not order.expire_if_unpaid(now=order.expires_at + timedelta(hours=1), policy=POLICY)


class TestCancel:
    def test_a_customer_can_cancel_before_payment(self) -> None:
        order = reserved()
        order.cancel(by="customer", reason="oops", now=T0, policy=POLICY)
        assert order.status is S.CANCELLED
        assert order.saga.step is SagaStep.COMPENSATE

    def test_cancelling_while_payment_is_being_taken_is_refused_for_now(self) -> None:
        order = stock_taken()
        with pytest.raises(OrderBeingConfirmed):
            order.cancel(by="customer", reason="oops", now=T0, policy=POLICY)
        assert order.status is S.AWAITING_PAYMENT

    def test_cancelling_a_confirmed_order_refunds_it_in_full(self) -> None:
        order = confirmed()
        order.cancel(by="staff", reason="customer called", now=T0, policy=POLICY)
        assert order.status is S.CANCELLED
        assert [(r.amount, r.status) for r in order.refunds] == [(order.total, RefundState.REQUESTED)]
        assert order.saga.step is SagaStep.REFUND
        cancelled = next(e for e in order.collect_events() if isinstance(e, OrderCancelled))
        assert cancelled.restock, "confirmed stock is reported for restocking"

    def test_an_order_with_a_shipment_cannot_be_cancelled(self) -> None:
        order = confirmed()
        order.shipment_created(shipment_id="s-1", now=T0)
        with pytest.raises(IllegalOrderTransition):
            order.cancel(by="customer", reason="too late", now=T0, policy=POLICY)

    def test_cancelling_twice_changes_nothing_the_second_time(self) -> None:
        order = reserved()
        order.cancel(by="customer", reason="oops", now=T0, policy=POLICY)
        version = order.version
        order.cancel(by="customer", reason="oops", now=T0, policy=POLICY)
        assert order.version == version

    @pytest.mark.parametrize("ending", [S.REJECTED, S.PAYMENT_FAILED, S.EXPIRED])
    def test_an_order_that_already_ended_cannot_be_cancelled(self, ending: OrderStatus) -> None:
        order = placed()
        if ending is S.REJECTED:
            order.stock_rejected(shortfalls="none", now=T0, policy=POLICY)
        elif ending is S.PAYMENT_FAILED:
            order.stock_reserved(now=T0, policy=POLICY)
            order.payment_failed(reason="declined", now=T0, policy=POLICY)
        else:
            order.expire_if_unpaid(now=order.expires_at, policy=POLICY)
        with pytest.raises(IllegalOrderTransition):
            order.cancel(by="staff", reason="x", now=T0, policy=POLICY)


class TestRefunds:
    def test_a_partial_refund_then_the_rest_refunds_the_order(self) -> None:
        order = confirmed()
        first = order.request_refund(
            refund_id=uuid.uuid4(), amount=eur("10.00"), reason="dent", now=T0, policy=POLICY
        )
        assert order.saga.step is SagaStep.REFUND
        order.refund_settled(refund_id=first.id, succeeded=True, now=T0, policy=POLICY)
        assert status_of(order) is S.PARTIALLY_REFUNDED
        assert order.saga.finished
        rest = order.request_refund(
            refund_id=uuid.uuid4(), amount=order.refundable, reason="return", now=T0, policy=POLICY
        )
        order.refund_settled(refund_id=rest.id, succeeded=True, now=T0, policy=POLICY)
        assert order.status is S.REFUNDED
        assert order.refunded == order.captured

    def test_more_than_what_is_left_cannot_be_refunded(self) -> None:
        order = confirmed()
        order.request_refund(refund_id=uuid.uuid4(), amount=eur("30.00"), reason="a", now=T0, policy=POLICY)
        with pytest.raises(RefundNotPossible):
            order.request_refund(
                refund_id=uuid.uuid4(), amount=eur("10.00"), reason="b", now=T0, policy=POLICY
            )

    def test_the_same_refund_id_twice_is_one_refund(self) -> None:
        order = confirmed()
        refund_id = uuid.uuid4()
        order.request_refund(refund_id=refund_id, amount=eur("5.00"), reason="a", now=T0, policy=POLICY)
        order.request_refund(refund_id=refund_id, amount=eur("5.00"), reason="a", now=T0, policy=POLICY)
        assert len(order.refunds) == 1

    def test_a_refund_made_through_payments_is_recorded_once_and_moves_the_order(self) -> None:
        order = confirmed()
        order.collect_events()
        recorded = order.refund_made_elsewhere(
            payments_refund_id="r-1", amount=eur("10.00"), reference="desk-1", now=T0
        )
        assert recorded is not None
        assert recorded.status is RefundState.SUCCEEDED
        assert status_of(order) is S.PARTIALLY_REFUNDED
        assert order.refunded == eur("10.00")
        [refunded] = [e for e in order.collect_events() if isinstance(e, OrderRefunded)]
        assert (refunded.amount, refunded.fully_refunded) == ("10.00", False)
        # The same payments refund again (a redelivery) changes nothing.
        assert (
            order.refund_made_elsewhere(
                payments_refund_id="r-1", amount=eur("10.00"), reference="desk-1", now=T0
            )
            is None
        )
        assert len(order.refunds) == 1
        assert not [e for e in order.collect_events() if isinstance(e, OrderRefunded)]
        # What is left can be refunded from the order, and then the order is refunded.
        assert order.refundable == order.captured - eur("10.00")
        rest = order.request_refund(
            refund_id=uuid.uuid4(), amount=order.refundable, reason="return", now=T0, policy=POLICY
        )
        order.refund_settled(refund_id=rest.id, succeeded=True, now=T0, policy=POLICY)
        assert order.status is S.REFUNDED

    def test_a_refund_through_payments_of_everything_refunds_the_order(self) -> None:
        order = confirmed()
        order.refund_made_elsewhere(payments_refund_id="r-1", amount=order.total, reference="desk", now=T0)
        assert order.status is S.REFUNDED
        assert order.refundable.amount == 0

    def test_a_refund_through_payments_over_what_was_captured_is_not_recorded(self) -> None:
        order = confirmed()
        over = order.captured + eur("0.01")
        assert order.refund_made_elsewhere(payments_refund_id="r", amount=over, reference="x", now=T0) is None
        assert order.refunds == []
        assert status_of(order) is S.CONFIRMED

    def test_an_unpaid_order_cannot_be_refunded(self) -> None:
        with pytest.raises(IllegalOrderTransition):
            reserved().request_refund(
                refund_id=uuid.uuid4(), amount=eur("1.00"), reason="x", now=T0, policy=POLICY
            )

    def test_a_failed_refund_frees_its_amount_again(self) -> None:
        order = confirmed()
        refund = order.request_refund(
            refund_id=uuid.uuid4(), amount=order.total, reason="x", now=T0, policy=POLICY
        )
        order.refund_settled(refund_id=refund.id, succeeded=False, now=T0, policy=POLICY)
        assert order.refundable == order.total
        assert order.status is S.CONFIRMED


class TestFulfilment:
    def test_shipments_move_the_order_to_fulfilled_then_delivered(self) -> None:
        order = confirmed()
        order.fulfilment_progressed(stage=Fulfilment.PARTIAL, shipment_id="a", now=T0)
        assert status_of(order) is S.PARTIALLY_FULFILLED
        order.fulfilment_progressed(stage=Fulfilment.FULFILLED, shipment_id="b", now=T0)
        order.fulfilment_progressed(stage=Fulfilment.DELIVERED, shipment_id="b", now=T0)
        assert order.status is S.DELIVERED

    def test_an_older_stage_arriving_late_changes_nothing(self) -> None:
        order = confirmed()
        order.fulfilment_progressed(stage=Fulfilment.FULFILLED, shipment_id="b", now=T0)
        order.fulfilment_progressed(stage=Fulfilment.PARTIAL, shipment_id="a", now=T0)
        assert order.status is S.FULFILLED

    def test_a_partially_refunded_order_keeps_its_status_and_tracks_fulfilment(self) -> None:
        order = confirmed()
        refund = order.request_refund(
            refund_id=uuid.uuid4(), amount=eur("1.00"), reason="x", now=T0, policy=POLICY
        )
        order.refund_settled(refund_id=refund.id, succeeded=True, now=T0, policy=POLICY)
        order.fulfilment_progressed(stage=Fulfilment.DELIVERED, shipment_id="a", now=T0)
        assert (order.status, order.fulfilment) == (S.PARTIALLY_REFUNDED, Fulfilment.DELIVERED)


class TestTransitionTable:
    def test_terminal_statuses_lead_nowhere(self) -> None:
        assert {S.CANCELLED, S.PAYMENT_FAILED, S.REJECTED, S.EXPIRED, S.REFUNDED} == TERMINAL

    @pytest.mark.parametrize("status", list(OrderStatus))
    def test_every_status_not_in_the_table_is_refused(self, status: OrderStatus) -> None:
        order = placed()
        order.status = status
        for target in set(OrderStatus) - TRANSITIONS[status]:
            with pytest.raises(IllegalOrderTransition):
                order._move(target, T0)
            assert order.status is status


# -- property: any sequence of inputs keeps the invariants -------------------------------------

OPERATIONS = (
    "stock_reserved",
    "stock_rejected",
    "payment_authorized",
    "payment_failed",
    "stock_confirmed",
    "stock_lost",
    "payment_captured",
    "capture_refused",
    "compensated",
    "expire",
    "step_timed_out",
    "cancel",
    "request_refund",
    "refund_settled",
    "refund_elsewhere",
    "refund_step_ran",
    "shipment_created",
    "fulfilment",
)
HELD = st.sampled_from(list(Held))


def apply(order: Order, op: str, data: st.DataObject) -> None:
    now = order.updated_at + timedelta(seconds=data.draw(st.integers(0, 4000), label="seconds"))
    if op == "stock_reserved":
        order.stock_reserved(now=now, policy=POLICY)
    elif op == "stock_rejected":
        order.stock_rejected(shortfalls="x", now=now, policy=POLICY)
    elif op == "payment_authorized":
        order.payment_authorized(now=now, policy=POLICY)
    elif op == "payment_failed":
        order.payment_failed(reason="declined", now=now, policy=POLICY)
    elif op == "stock_confirmed":
        order.stock_confirmed_at_inventory(now=now, policy=POLICY)
    elif op == "stock_lost":
        order.stock_lost(reservation_status="expired", now=now, policy=POLICY)
    elif op == "payment_captured":
        order.payment_captured(amount=order.total, now=now, policy=POLICY)
    elif op == "capture_refused":
        order.capture_refused(reason="voided", now=now, policy=POLICY)
    elif op == "compensated":
        order.compensated(stock=data.draw(HELD), payment=data.draw(HELD), now=now, policy=POLICY)
    elif op == "expire":
        order.expire_if_unpaid(now=now, policy=POLICY)
    elif op == "step_timed_out":
        order.step_timed_out(now=now, policy=POLICY)
    elif op == "cancel":
        order.cancel(by=data.draw(st.sampled_from(["customer", "staff"])), reason="r", now=now, policy=POLICY)
    elif op == "request_refund":
        cents = data.draw(st.integers(1, 6000))
        order.request_refund(
            refund_id=uuid.uuid4(),
            amount=eur(str(Decimal(cents).scaleb(-2))),
            reason="r",
            now=now,
            policy=POLICY,
        )
    elif op == "refund_settled" and order.refunds:
        refund = data.draw(st.sampled_from(order.refunds))
        order.refund_settled(refund_id=refund.id, succeeded=data.draw(st.booleans()), now=now, policy=POLICY)
    elif op == "refund_elsewhere" and order.refundable.amount > 0:
        # What payments would accept: no more than is neither refunded nor in flight.
        cents = data.draw(st.integers(1, int(order.refundable.amount * 100)))
        order.refund_made_elsewhere(
            payments_refund_id=str(uuid.uuid4()),
            amount=eur(str(Decimal(cents).scaleb(-2))),
            reference="desk",
            now=now,
        )
    elif op == "refund_step_ran":
        order.refund_step_ran(attempted={r.id for r in order.pending_refunds()}, now=now, policy=POLICY)
    elif op == "shipment_created":
        order.shipment_created(shipment_id="s", now=now)
    elif op == "fulfilment":
        order.fulfilment_progressed(
            stage=data.draw(st.sampled_from(list(Fulfilment))), shipment_id="s", now=now
        )


def snapshot(order: Order) -> dict[str, Any]:
    return {
        "status": order.status,
        "saga": order.saga,
        "version": order.version,
        "refunds": copy.deepcopy(order.refunds),
        "captured": order.captured,
        "fulfilment": order.fulfilment,
    }


class TestAnySequenceOfInputs:
    @settings(max_examples=300, deadline=None)
    @given(ops=st.lists(st.sampled_from(OPERATIONS), min_size=1, max_size=40), data=st.data())
    def test_the_order_keeps_its_invariants(self, ops: list[str], data: st.DataObject) -> None:
        order = placed()
        ended: OrderStatus | None = None
        last_step: tuple[str, int] | None = ("reserve_stock", 1)
        for op in ops:
            before = snapshot(order)
            try:
                apply(order, op, data)
            except DomainError:
                assert snapshot(order) == before, f"{op} raised but changed the order"
            for event in order.collect_events():
                if isinstance(event, OrderStatusChanged):
                    assert S(event.to_status) in TRANSITIONS[S(event.from_status)], event
                if isinstance(event, SagaStepDue):
                    last_step = (event.step, event.attempt)
            if ended is not None:
                assert order.status is ended, f"{op} moved a {ended.value} order"
            if order.status in TERMINAL:
                ended = order.status
            # The saga always has a message for the step it waits on, and a deadline.
            assert order.saga.finished == (order.saga.deadline is None)
            if not order.saga.finished:
                assert last_step == (order.saga.step.value, order.saga.attempt)
            # Money: all or nothing captured, only after the stock was taken; never over-refunded.
            assert order.captured.amount in (Decimal(0), order.total.amount)
            assert order.captured.amount == 0 or order.stock_confirmed
            assert order.refunded.amount <= order.captured.amount
            assert order.refundable.amount >= 0
            if order.status in PAID:
                assert order.captured == order.total
            if order.status in UNPAID_ENDINGS and order.saga.finished and not order.stock_confirmed:
                assert Held.PENDING not in (order.compensation.stock, order.compensation.payment)
