"""The checkout saga's state, kept on the order it drives, and the message that runs a step.

Steps, in order (docs/ordering/README.md has the diagrams)::

    reserve_stock -> authorize_payment -> confirm_stock -> capture_payment -> done
          |                 |                  |
          '-----------------'------------------'---> compensate -> done
    (any time after done) refund -> done

Each step is started by a ``SagaStepDue`` message through the ordering
outbox; the module consumes it itself. ``attempt`` counts deliveries the
sweep had to start again because the step's ``deadline`` passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from orderly.shared_kernel.domain import IntegrationEvent


class SagaStep(StrEnum):
    RESERVE_STOCK = "reserve_stock"
    AUTHORIZE_PAYMENT = "authorize_payment"
    CONFIRM_STOCK = "confirm_stock"
    CAPTURE_PAYMENT = "capture_payment"
    COMPENSATE = "compensate"
    REFUND = "refund"
    DONE = "done"


# Before these steps finish, nothing irreversible has happened: the order can
# still be cancelled or expire, and compensation undoes everything.
REVERSIBLE_STEPS = frozenset({SagaStep.RESERVE_STOCK, SagaStep.AUTHORIZE_PAYMENT})
# Steps that must eventually succeed whatever the delay: they are retried
# without limit (with growing back-off) instead of being given up.
PERSISTENT_STEPS = frozenset(
    {SagaStep.CONFIRM_STOCK, SagaStep.CAPTURE_PAYMENT, SagaStep.COMPENSATE, SagaStep.REFUND}
)


@dataclass(frozen=True)
class SagaPolicy:
    """Timing of the saga (from settings)."""

    step_timeout: timedelta
    max_attempts: int
    unpaid_ttl: timedelta
    # Back-off caps at step_timeout x this factor.
    max_backoff_factor: int = 16

    def __post_init__(self) -> None:
        if self.step_timeout <= timedelta(0) or self.unpaid_ttl <= timedelta(0):
            raise ValueError("saga timeouts must be positive")
        if self.max_attempts < 1:
            raise ValueError("a step gets at least one attempt")

    def deadline(self, *, now: datetime, attempt: int) -> datetime:
        factor = min(2 ** (attempt - 1), self.max_backoff_factor)
        deadline: datetime = now + self.step_timeout * factor
        return deadline

    @property
    def reservation_ttl(self) -> timedelta:
        """Held stock outlives the unpaid window by a few step timeouts, so the
        saga (which expires the order) decides, and inventory's own expiry is
        only the safety net."""
        return self.unpaid_ttl + self.step_timeout * 4


@dataclass(frozen=True)
class SagaState:
    step: SagaStep
    attempt: int
    deadline: datetime | None

    @property
    def finished(self) -> bool:
        return self.step is SagaStep.DONE


@dataclass(frozen=True, kw_only=True)
class SagaStepDue(IntegrationEvent):
    """Command to run one step of an order's saga. Private to the ordering module:
    no other module consumes it, and its shape may change with the saga."""

    event_type: ClassVar[str] = "ordering.saga_step_due.v1"
    aggregate_type: ClassVar[str] = "order"

    order_id: str
    step: str
    attempt: int
