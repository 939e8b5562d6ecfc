"""The simulator's state: intents, captures, refunds and idempotency records.

Everything lives in memory, in one event loop: each state change below runs
without an ``await`` in the middle, so it is atomic with respect to other
requests without any lock.

Amounts are integers in the currency's minor units (cents), as card
processors' APIs do; the client converts.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from orderly.paymentsim.config import Faults, SimulatorConfig

JsonDict = dict[str, Any]


class IntentStatus(StrEnum):
    AUTHORIZED = "authorized"
    DECLINED = "declined"
    VOIDED = "voided"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class Fault(StrEnum):
    NONE = "none"
    ERROR = "error"
    TIMEOUT = "timeout"
    CHARGE_THEN_ERROR = "charge_then_error"


DECLINE_CODES = ("insufficient_funds", "card_declined", "expired_card", "do_not_honor")


@dataclass
class Capture:
    id: str
    amount: int
    created: float


@dataclass
class Refund:
    id: str
    amount: int
    reference: str | None
    created: float


@dataclass
class Intent:
    id: str
    reference: str
    amount: int
    currency: str
    status: IntentStatus
    customer: str | None
    metadata: dict[str, str]
    created: float
    decline_code: str | None = None
    captures: list[Capture] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)

    @property
    def amount_captured(self) -> int:
        return sum(c.amount for c in self.captures)

    @property
    def amount_refunded(self) -> int:
        return sum(r.amount for r in self.refunds)

    def as_json(self) -> JsonDict:
        return {
            "id": self.id,
            "object": "payment_intent",
            "reference": self.reference,
            "amount": self.amount,
            "currency": self.currency,
            "status": self.status.value,
            "amount_captured": self.amount_captured,
            "amount_refunded": self.amount_refunded,
            "decline_code": self.decline_code,
            "customer": self.customer,
            "metadata": dict(self.metadata),
            "captures": [{"id": c.id, "amount": c.amount, "created": c.created} for c in self.captures],
            "refunds": [
                {"id": r.id, "amount": r.amount, "reference": r.reference, "created": r.created}
                for r in self.refunds
            ],
            "created": self.created,
        }


@dataclass(frozen=True)
class Outcome:
    """What a call answers: an HTTP status and a JSON body."""

    status: int
    body: JsonDict


def error(status: int, code: str, message: str, **extra: Any) -> Outcome:
    return Outcome(status, {"error": {"code": code, "message": message, **extra}})


@dataclass
class _IdempotencyRecord:
    fingerprint: str
    outcome: Outcome | None = None  # None while the first request is still running


EventSink = Callable[[JsonDict], None]


class Simulator:
    """The provider's brain; the HTTP layer (``app``) only translates."""

    def __init__(self, config: SimulatorConfig | None = None, *, on_event: EventSink | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.faults: Faults = self.config.faults
        self._rng = random.Random(self.config.seed)
        self._intents: dict[str, Intent] = {}
        self._by_reference: dict[str, str] = {}
        self._idempotency: dict[str, _IdempotencyRecord] = {}
        self._on_event = on_event
        self.requests: Counter[str] = Counter()
        self.faults_injected: Counter[str] = Counter()

    def set_event_sink(self, sink: EventSink | None) -> None:
        self._on_event = sink

    # -- the idempotent envelope around every mutating call -------------------

    async def execute(
        self, *, operation: str, idempotency_key: str, fingerprint: str, work: Callable[[], Outcome]
    ) -> Outcome:
        """Run ``work`` at most once per idempotency key, with faults injected.

        A retry with the same key gets the first outcome back (never a second
        charge); the same key with another request is refused (422); the same
        key while the first call is still running is a conflict (409) the
        client may retry. A fault that struck before any work leaves no record,
        so the retry really executes; a fault after the work keeps the record,
        so the retry learns what happened.
        """
        self.requests[operation] += 1
        record = self._idempotency.get(idempotency_key)
        if record is not None:
            if record.fingerprint != fingerprint:
                return error(422, "idempotency_key_reused", "this key was used with a different request")
            if record.outcome is None:
                return error(409, "idempotency_key_in_use", "a request with this key is still running")
            return self._replayed(record.outcome)
        record = self._idempotency[idempotency_key] = _IdempotencyRecord(fingerprint=fingerprint)
        try:
            await self._latency()
            fault = self._draw_fault()
            if fault is Fault.ERROR:
                del self._idempotency[idempotency_key]
                return error(500, "internal_error", "simulated failure before any work was done")
            outcome = work()
        except BaseException:
            self._idempotency.pop(idempotency_key, None)
            raise
        record.outcome = outcome
        if fault is Fault.TIMEOUT:
            await asyncio.sleep(self.faults.timeout_delay_s)
        elif fault is Fault.CHARGE_THEN_ERROR:
            return error(500, "internal_error", "simulated failure after the work was done")
        return outcome

    @staticmethod
    def _replayed(outcome: Outcome) -> Outcome:
        return Outcome(outcome.status, outcome.body)

    async def _latency(self) -> None:
        if self.faults.latency_ms > 0:
            await asyncio.sleep(self._rng.uniform(0, self.faults.latency_ms) / 1000)

    def _draw_fault(self) -> Fault:
        draw = self._rng.random()
        faults = self.faults
        for fault, rate in (
            (Fault.ERROR, faults.error_rate),
            (Fault.TIMEOUT, faults.timeout_rate),
            (Fault.CHARGE_THEN_ERROR, faults.charge_then_error_rate),
        ):
            if draw < rate:
                self.faults_injected[fault.value] += 1
                return fault
            draw -= rate
        return Fault.NONE

    # -- the work itself (synchronous: atomic in the event loop) ---------------

    def authorize(
        self, *, reference: str, amount: int, currency: str, customer: str | None, metadata: dict[str, str]
    ) -> Outcome:
        existing = self._by_reference.get(reference)
        if existing is not None:
            # Another key for the same reference: a client bug worth surfacing,
            # never a second hold on the card.
            return error(409, "reference_in_use", "an intent with this reference exists", intent=existing)
        intent = Intent(
            id=f"pi_{uuid.uuid4().hex}",
            reference=reference,
            amount=amount,
            currency=currency,
            status=IntentStatus.AUTHORIZED,
            customer=customer,
            metadata=metadata,
            created=time.time(),
        )
        if self._rng.random() < self.faults.decline_rate:
            intent.status = IntentStatus.DECLINED
            intent.decline_code = self._rng.choice(DECLINE_CODES)
        self._intents[intent.id] = intent
        self._by_reference[reference] = intent.id
        if intent.status is IntentStatus.DECLINED:
            self._emit("payment_intent.declined", intent)
            return Outcome(402, intent.as_json())
        self._emit("payment_intent.authorized", intent)
        return Outcome(201, intent.as_json())

    def capture(self, intent_id: str, *, amount: int | None) -> Outcome:
        intent = self._intents.get(intent_id)
        if intent is None:
            return error(404, "intent_not_found", "no such payment intent")
        if intent.status is not IntentStatus.AUTHORIZED:
            return error(
                409, "intent_unexpected_state", f"intent is {intent.status.value}", intent=intent.as_json()
            )
        to_capture = intent.amount if amount is None else amount
        if not 0 < to_capture <= intent.amount:
            return error(400, "amount_invalid", "capture between 1 and the authorized amount")
        intent.captures.append(Capture(id=f"ch_{uuid.uuid4().hex}", amount=to_capture, created=time.time()))
        intent.status = IntentStatus.CAPTURED
        self._emit("payment_intent.captured", intent)
        return Outcome(200, intent.as_json())

    def void(self, intent_id: str) -> Outcome:
        intent = self._intents.get(intent_id)
        if intent is None:
            return error(404, "intent_not_found", "no such payment intent")
        if intent.status is not IntentStatus.AUTHORIZED:
            return error(
                409, "intent_unexpected_state", f"intent is {intent.status.value}", intent=intent.as_json()
            )
        intent.status = IntentStatus.VOIDED
        self._emit("payment_intent.voided", intent)
        return Outcome(200, intent.as_json())

    def refund(self, intent_id: str, *, amount: int, reference: str | None) -> Outcome:
        intent = self._intents.get(intent_id)
        if intent is None:
            return error(404, "intent_not_found", "no such payment intent")
        if intent.status not in (IntentStatus.CAPTURED, IntentStatus.PARTIALLY_REFUNDED):
            return error(
                409, "intent_unexpected_state", f"intent is {intent.status.value}", intent=intent.as_json()
            )
        refundable = intent.amount_captured - intent.amount_refunded
        if not 0 < amount <= refundable:
            return error(400, "amount_invalid", f"refund between 1 and {refundable}", refundable=refundable)
        refund = Refund(id=f"re_{uuid.uuid4().hex}", amount=amount, reference=reference, created=time.time())
        intent.refunds.append(refund)
        intent.status = (
            IntentStatus.REFUNDED
            if intent.amount_refunded == intent.amount_captured
            else IntentStatus.PARTIALLY_REFUNDED
        )
        self._emit("payment_intent.refunded", intent, refund_id=refund.id)
        return Outcome(200, {**intent.as_json(), "refund": {"id": refund.id, "amount": amount}})

    # -- reads (never faulty: a client resolving an ambiguity must be able to) --

    def get(self, intent_id: str) -> Intent | None:
        return self._intents.get(intent_id)

    def find(self, *, reference: str | None = None) -> list[Intent]:
        if reference is not None:
            intent_id = self._by_reference.get(reference)
            return [self._intents[intent_id]] if intent_id else []
        return list(self._intents.values())

    def stats(self) -> JsonDict:
        by_status = Counter(intent.status.value for intent in self._intents.values())
        return {
            "intents": len(self._intents),
            "captures": sum(len(i.captures) for i in self._intents.values()),
            "refunds": sum(len(i.refunds) for i in self._intents.values()),
            "by_status": dict(by_status),
            "requests": dict(self.requests),
            "faults_injected": dict(self.faults_injected),
        }

    def _emit(self, event_type: str, intent: Intent, **extra: Any) -> None:
        if self._on_event is None:
            return
        self._on_event(
            {
                "id": f"evt_{uuid.uuid4().hex}",
                "type": event_type,
                "created": time.time(),
                "data": {"object": intent.as_json(), **extra},
            }
        )


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same" for an idempotency key."""
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()
