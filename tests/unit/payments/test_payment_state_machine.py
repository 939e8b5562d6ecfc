"""The payment aggregate's state machine: legal moves, refused moves, idempotent facts."""

from __future__ import annotations

import contextlib
import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderly.modules.payments.contracts import (
    PaymentAuthorizationFailed,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentRefunded,
    PaymentVoided,
)
from orderly.modules.payments.domain.model import (
    FailureReason,
    IllegalTransition,
    Payment,
    PaymentStatus,
    ProviderStatus,
    RefundStatus,
)
from orderly.shared_kernel.errors import Conflict, InvalidInput
from tests.unit.payments.factories import (
    authorized_payment,
    captured_payment,
    eur,
    new_payment,
    refund_view,
    view,
)


def status_of(payment: Payment) -> PaymentStatus:
    # A function call, so that mypy does not keep a narrowed status across moves.
    return payment.status


def release_pending(payment: Payment) -> bool:
    return payment.release_pending


def event_types(payment: Payment) -> list[str]:
    return [e.event_type for e in payment.collect_events()]


class TestStartingAPayment:
    def test_new_payment_is_pending_with_nothing_captured(self) -> None:
        payment = new_payment("12.5")
        assert status_of(payment) is PaymentStatus.PENDING
        assert payment.amount == eur("12.50")
        assert payment.captured == eur("0")
        assert payment.collect_events() == []

    @pytest.mark.parametrize("amount", ["0", "-1.00"])
    def test_payment_of_nothing_or_less_is_refused(self, amount: str) -> None:
        with pytest.raises(InvalidInput):
            new_payment(amount)

    @pytest.mark.parametrize("reference", ["", "x" * 256, "a\x00b"])
    def test_unusable_reference_is_refused(self, reference: str) -> None:
        with pytest.raises(InvalidInput):
            Payment.start(reference=reference, order_id=uuid.uuid4(), amount=eur("1.00"))

    def test_reference_reused_for_another_amount_is_a_conflict(self) -> None:
        payment = new_payment("10.00")
        with pytest.raises(Conflict):
            payment.ensure_same_request(order_id=payment.order_id, amount=eur("11.00"))
        with pytest.raises(Conflict):
            payment.ensure_same_request(order_id=uuid.uuid4(), amount=eur("10.00"))
        payment.ensure_same_request(order_id=payment.order_id, amount=eur("10.0"))


class TestAuthorization:
    def test_authorized_answer_authorizes_and_announces_once(self) -> None:
        payment = new_payment()
        payment.reconcile(view(ProviderStatus.AUTHORIZED))
        payment.reconcile(view(ProviderStatus.AUTHORIZED))
        assert status_of(payment) is PaymentStatus.AUTHORIZED
        assert payment.provider_intent_id == "pi_test"
        assert event_types(payment) == [PaymentAuthorized.event_type]

    def test_decline_fails_the_payment_with_the_reason(self) -> None:
        payment = new_payment()
        payment.reconcile(view(ProviderStatus.DECLINED, decline_code="insufficient_funds"))
        payment.reconcile(view(ProviderStatus.DECLINED, decline_code="insufficient_funds"))
        assert status_of(payment) is PaymentStatus.FAILED
        assert payment.failure_reason is FailureReason.DECLINED
        events = payment.collect_events()
        assert [e.event_type for e in events] == [PaymentAuthorizationFailed.event_type]
        assert isinstance(events[0], PaymentAuthorizationFailed)
        assert events[0].reason == "declined"
        assert events[0].decline_code == "insufficient_funds"
        assert not payment.release_pending

    def test_giving_up_without_an_answer_fails_and_flags_a_release_check(self) -> None:
        payment = new_payment()
        payment.gave_up_authorization(FailureReason.TIMEOUT)
        assert status_of(payment) is PaymentStatus.FAILED
        assert payment.failure_reason is FailureReason.TIMEOUT
        assert payment.release_pending
        assert event_types(payment) == [PaymentAuthorizationFailed.event_type]

    def test_late_authorization_after_giving_up_keeps_failed_and_asks_for_a_void(self) -> None:
        payment = new_payment()
        payment.gave_up_authorization(FailureReason.ERROR)
        payment.collect_events()
        payment.reconcile(view(ProviderStatus.AUTHORIZED))
        assert status_of(payment) is PaymentStatus.FAILED
        assert payment.release_pending
        assert payment.collect_events() == []
        payment.reconcile(view(ProviderStatus.VOIDED))
        assert status_of(payment) is PaymentStatus.FAILED
        assert release_pending(payment) is False
        assert payment.collect_events() == []

    def test_giving_up_after_the_webhook_authorized_changes_nothing(self) -> None:
        payment = authorized_payment()
        payment.gave_up_authorization(FailureReason.TIMEOUT)
        assert status_of(payment) is PaymentStatus.AUTHORIZED
        assert not payment.release_pending

    def test_provider_authorizing_a_declined_payment_is_illegal(self) -> None:
        payment = new_payment()
        payment.reconcile(view(ProviderStatus.DECLINED))
        with pytest.raises(IllegalTransition):
            payment.reconcile(view(ProviderStatus.AUTHORIZED))

    def test_another_intent_for_the_same_payment_is_illegal(self) -> None:
        payment = authorized_payment()
        with pytest.raises(IllegalTransition):
            payment.reconcile(view(ProviderStatus.AUTHORIZED, intent_id="pi_other"))


class TestCaptureAndVoid:
    def test_capture_is_asked_only_of_an_authorized_payment(self) -> None:
        assert authorized_payment().begin_capture() is True
        assert captured_payment().begin_capture() is False
        for payment in (new_payment(), _failed(), _voided()):
            with pytest.raises(IllegalTransition):
                payment.begin_capture()

    def test_captured_fact_captures_once_whichever_copy_comes_first(self) -> None:
        payment = authorized_payment()
        payment.reconcile(view(ProviderStatus.CAPTURED, captured="20.00"))
        payment.reconcile(view(ProviderStatus.CAPTURED, captured="20.00"))
        payment.reconcile(view(ProviderStatus.AUTHORIZED))  # an older webhook, late
        assert status_of(payment) is PaymentStatus.CAPTURED
        assert payment.captured == eur("20.00")
        assert event_types(payment) == [PaymentCaptured.event_type]

    def test_captured_webhook_before_any_answer_authorizes_then_captures(self) -> None:
        payment = new_payment()
        payment.reconcile(view(ProviderStatus.CAPTURED, captured="20.00"))
        assert status_of(payment) is PaymentStatus.CAPTURED
        assert event_types(payment) == [PaymentAuthorized.event_type, PaymentCaptured.event_type]

    def test_void_is_asked_only_of_an_authorized_payment(self) -> None:
        assert authorized_payment().begin_void() is True
        assert _voided().begin_void() is False
        assert _failed().begin_void() is False
        with pytest.raises(IllegalTransition):
            new_payment().begin_void()
        with pytest.raises(IllegalTransition):
            captured_payment().begin_void()

    def test_voided_fact_voids_once(self) -> None:
        payment = authorized_payment()
        payment.reconcile(view(ProviderStatus.VOIDED))
        payment.reconcile(view(ProviderStatus.VOIDED))
        assert status_of(payment) is PaymentStatus.VOIDED
        assert event_types(payment) == [PaymentVoided.event_type]

    @pytest.mark.parametrize(
        "status",
        [ProviderStatus.CAPTURED, ProviderStatus.DECLINED],
    )
    def test_voided_payment_never_becomes_captured_or_declined(self, status: ProviderStatus) -> None:
        with pytest.raises(IllegalTransition):
            _voided().reconcile(view(status, captured="20.00"))

    def test_captured_payment_reported_voided_is_illegal(self) -> None:
        with pytest.raises(IllegalTransition):
            captured_payment().reconcile(view(ProviderStatus.VOIDED))

    def test_capture_beyond_the_authorized_amount_is_illegal(self) -> None:
        with pytest.raises(IllegalTransition):
            authorized_payment("20.00").reconcile(view(ProviderStatus.CAPTURED, captured="20.01"))


class TestRefunds:
    def test_partial_then_full_refund(self) -> None:
        payment = captured_payment("20.00")
        first = payment.request_refund(reference="r1", amount=eur("5.00"))
        assert payment.refundable == eur("15.00")
        payment.reconcile(
            view(
                ProviderStatus.PARTIALLY_REFUNDED,
                captured="20.00",
                refunds=(refund_view("re_1", "5", str(first.id)),),
            )
        )
        assert status_of(payment) is PaymentStatus.PARTIALLY_REFUNDED
        second = payment.request_refund(reference="r2", amount=eur("15.00"))
        payment.reconcile(
            view(
                ProviderStatus.REFUNDED,
                captured="20.00",
                refunds=(refund_view("re_1", "5", str(first.id)), refund_view("re_2", "15", str(second.id))),
            )
        )
        assert status_of(payment) is PaymentStatus.REFUNDED
        assert payment.refunded == eur("20.00")
        events = payment.collect_events()
        assert [e.event_type for e in events] == [PaymentRefunded.event_type] * 2
        last = events[-1]
        assert isinstance(last, PaymentRefunded)
        assert (last.amount, last.total_refunded, last.fully_refunded) == ("15.00", "20.00", True)

    def test_same_refund_reference_returns_the_same_refund(self) -> None:
        payment = captured_payment()
        first = payment.request_refund(reference="r1", amount=eur("5.00"))
        again = payment.request_refund(reference="r1", amount=eur("5.00"))
        assert again is first
        assert len(payment.refunds) == 1
        with pytest.raises(Conflict):
            payment.request_refund(reference="r1", amount=eur("6.00"))

    def test_refunding_more_than_is_left_is_refused_counting_refunds_in_flight(self) -> None:
        payment = captured_payment("20.00")
        payment.request_refund(reference="r1", amount=eur("15.00"))
        with pytest.raises(InvalidInput):
            payment.request_refund(reference="r2", amount=eur("5.01"))
        payment.request_refund(reference="r3", amount=eur("5.00"))

    def test_failed_refund_gives_its_amount_back(self) -> None:
        payment = captured_payment("20.00")
        refund = payment.request_refund(reference="r1", amount=eur("20.00"))
        payment.refund_failed(refund.id)
        assert refund.status is RefundStatus.FAILED
        assert payment.refundable == eur("20.00")

    @pytest.mark.parametrize("make", [new_payment, authorized_payment])
    def test_uncaptured_payment_cannot_be_refunded(self, make: object) -> None:
        payment = make()  # type: ignore[operator]
        with pytest.raises(IllegalTransition):
            payment.request_refund(reference="r1", amount=eur("1.00"))

    def test_refund_made_at_the_provider_directly_is_recorded(self) -> None:
        payment = captured_payment("20.00")
        payment.reconcile(
            view(
                ProviderStatus.PARTIALLY_REFUNDED, captured="20.00", refunds=(refund_view("re_x", "2", None),)
            )
        )
        assert payment.refunded == eur("2.00")
        assert payment.refunds[0].reference == "provider:re_x"
        assert event_types(payment) == [PaymentRefunded.event_type]


def _failed() -> Payment:
    payment = new_payment()
    payment.reconcile(view(ProviderStatus.DECLINED))
    return payment


def _voided() -> Payment:
    payment = authorized_payment()
    payment.reconcile(view(ProviderStatus.VOIDED))
    return payment


# -- properties: any sequence of provider facts, in any order, repeated ------------------

_FACTS = {
    "authorized": lambda: view(ProviderStatus.AUTHORIZED),
    "declined": lambda: view(ProviderStatus.DECLINED),
    "voided": lambda: view(ProviderStatus.VOIDED),
    "captured": lambda: view(ProviderStatus.CAPTURED, captured="20.00"),
    "refund_a": lambda: view(
        ProviderStatus.PARTIALLY_REFUNDED, captured="20.00", refunds=(refund_view("re_a", "5", None),)
    ),
    "refund_b": lambda: view(
        ProviderStatus.REFUNDED,
        captured="20.00",
        refunds=(refund_view("re_a", "5", None), refund_view("re_b", "15", None)),
    ),
}

# Which states may follow which: anything else is a bug.
_ALLOWED = {
    PaymentStatus.PENDING: {PaymentStatus.AUTHORIZED, PaymentStatus.FAILED, PaymentStatus.CAPTURED},
    PaymentStatus.AUTHORIZED: {PaymentStatus.CAPTURED, PaymentStatus.VOIDED},
    PaymentStatus.CAPTURED: {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED},
    PaymentStatus.PARTIALLY_REFUNDED: {PaymentStatus.REFUNDED},
    PaymentStatus.FAILED: set(),
    PaymentStatus.VOIDED: set(),
    PaymentStatus.REFUNDED: set(),
}


class TestFactsInAnyOrder:
    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.sampled_from(sorted(_FACTS)), max_size=12))
    def test_any_sequence_only_moves_along_the_state_machine(self, facts: list[str]) -> None:
        payment = new_payment("20.00")
        announced: list[str] = []
        for fact in facts:
            before = payment.status
            with contextlib.suppress(IllegalTransition):
                payment.reconcile(_FACTS[fact]())
            after = payment.status
            assert _reachable(before, after), (before, after)
            assert Decimal(0) <= payment.refunded.amount <= payment.captured.amount <= payment.amount.amount
            announced += event_types(payment)
        # Each milestone is announced at most once, however often it is reported.
        for event_type in (
            PaymentAuthorized.event_type,
            PaymentAuthorizationFailed.event_type,
            PaymentCaptured.event_type,
            PaymentVoided.event_type,
        ):
            assert announced.count(event_type) <= 1
        assert announced.count(PaymentRefunded.event_type) <= 2

    @settings(max_examples=200, deadline=None)
    @given(st.permutations(["authorized", "captured", "refund_a", "refund_b"]))
    def test_same_facts_in_any_order_end_in_the_same_state(self, order: list[str]) -> None:
        payment = new_payment("20.00")
        for fact in [*order, *order]:
            payment.reconcile(_FACTS[fact]())
        assert status_of(payment) is PaymentStatus.REFUNDED
        assert payment.refunded == eur("20.00")
        announced = event_types(payment)
        assert announced.count(PaymentCaptured.event_type) == 1
        assert announced.count(PaymentRefunded.event_type) == 2


def _reachable(before: PaymentStatus, after: PaymentStatus) -> bool:
    """One reconcile may take several steps at once (e.g. pending -> captured -> refunded)."""
    frontier, seen = [before], {before}
    while frontier:
        state = frontier.pop()
        for nxt in _ALLOWED[state]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return after in seen
