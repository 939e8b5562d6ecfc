"""Reservations: stock held for a reference (an order) until confirmed, released or expired.

State machine::

    (new) -> active -> confirmed      stock deducted
                    -> released       stock back, on request
                    -> expired        stock back, by the sweep
    (new) -> rejected                 nothing held; the shortfalls are kept

A reservation is all or nothing: if one line cannot be covered, no line is
held. Every status is final except ``active``. The reference is unique, so a
retried request finds the first outcome, whether it reserved or was rejected.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from orderly.modules.inventory.contracts import (
    AllocatedLine,
    ReservedLine,
    ShortLine,
    StockConfirmed,
    StockReleased,
    StockReservationRejected,
    StockReserved,
)
from orderly.modules.inventory.domain.allocation import Allocation
from orderly.modules.inventory.domain.errors import ReservationNotActive
from orderly.modules.inventory.domain.stock import SkuStock
from orderly.shared_kernel.domain import AggregateRoot
from orderly.shared_kernel.errors import InvalidInput
from orderly.shared_kernel.ids import new_id

MAX_LINES = 100
MAX_LINE_QUANTITY = 100_000
MIN_TTL = timedelta(seconds=1)
MAX_TTL = timedelta(days=7)
REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    CONFIRMED = "confirmed"
    RELEASED = "released"
    EXPIRED = "expired"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True, order=True)
class Line:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Shortfall:
    sku: str
    requested: int
    available: int


def validate_request(*, reference: str, lines: Sequence[Line], ttl: timedelta) -> None:
    """Refuse a malformed request before anything is read or locked."""
    if not REFERENCE_PATTERN.match(reference):
        raise InvalidInput(
            "a reference is 1-100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
            field="reference",
        )
    if not lines:
        raise InvalidInput("a reservation needs at least one line", field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"a reservation has at most {MAX_LINES} lines", field="lines")
    seen: set[str] = set()
    for index, line in enumerate(lines):
        if line.sku in seen:
            raise InvalidInput(f"SKU '{line.sku}' appears on more than one line", field=f"lines.{index}.sku")
        seen.add(line.sku)
        if not 1 <= line.quantity <= MAX_LINE_QUANTITY:
            raise InvalidInput(
                f"a quantity is a whole number from 1 to {MAX_LINE_QUANTITY}", field=f"lines.{index}.quantity"
            )
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise InvalidInput(
            f"a reservation lasts {MIN_TTL.total_seconds():.0f} to {MAX_TTL.total_seconds():.0f} seconds",
            field="ttl_seconds",
        )


class Reservation(AggregateRoot):
    def __init__(
        self,
        *,
        id: uuid.UUID,
        reference: str,
        lines: Sequence[Line],
        status: ReservationStatus,
        allocations: Sequence[Allocation],
        shortfalls: Sequence[Shortfall],
        created_at: datetime,
        expires_at: datetime | None,
        closed_at: datetime | None,
        version: int,
    ) -> None:
        super().__init__()
        self.id = id
        self.reference = reference
        self.lines = tuple(lines)
        self.status = status
        # One canonical order, so a reservation reads the same fresh or reloaded.
        self.allocations = tuple(sorted(allocations, key=lambda a: (a.sku, a.warehouse)))
        self.shortfalls = tuple(shortfalls)
        self.created_at = created_at
        self.expires_at = expires_at
        self.closed_at = closed_at
        self.version = version

    @classmethod
    def place(
        cls,
        *,
        reference: str,
        lines: Sequence[Line],
        ttl: timedelta,
        stocks: Mapping[str, SkuStock],
        now: datetime,
    ) -> Reservation:
        """Hold every line, or none. ``stocks`` are the lines' SKUs, locked."""
        plans = [stocks[line.sku].plan(line.quantity) for line in lines]
        short = [Shortfall(p.sku, p.requested, p.available) for p in plans if not p.covered]
        reservation = cls(
            id=new_id(),
            reference=reference,
            lines=lines,
            status=ReservationStatus.REJECTED if short else ReservationStatus.ACTIVE,
            allocations=[a for p in plans for a in p.allocations] if not short else [],
            shortfalls=short,
            created_at=now,
            expires_at=None if short else now + ttl,
            closed_at=now if short else None,
            version=1,
        )
        if short:
            reservation.record(
                StockReservationRejected(
                    aggregate_id=reference,
                    occurred_at=now,
                    reference=reference,
                    lines=reservation._event_lines(),
                    shortfalls=tuple(
                        ShortLine(sku=s.sku, requested=s.requested, available=s.available) for s in short
                    ),
                )
            )
            return reservation
        for sku, allocations in reservation._allocations_by_sku().items():
            stocks[sku].hold(allocations, reference=reference)
        assert reservation.expires_at is not None
        reservation.record(
            StockReserved(
                aggregate_id=reference,
                occurred_at=now,
                reference=reference,
                lines=reservation._event_lines(),
                allocations=tuple(
                    AllocatedLine(sku=a.sku, warehouse=a.warehouse, quantity=a.quantity)
                    for a in reservation.allocations
                ),
                expires_at=reservation.expires_at,
            )
        )
        return reservation

    @property
    def skus(self) -> list[str]:
        """The SKUs whose stock this reservation holds, in lock order."""
        return sorted({a.sku for a in self.allocations})

    @property
    def is_reserved(self) -> bool:
        """True unless the reservation was rejected (it held stock at some point)."""
        return self.status is not ReservationStatus.REJECTED

    @property
    def holds_stock(self) -> bool:
        return self.status is ReservationStatus.ACTIVE

    def same_request(self, lines: Iterable[Line]) -> bool:
        """Whether a retry asks for exactly these lines (order does not matter)."""
        return sorted(self.lines) == sorted(lines)

    def is_due(self, now: datetime) -> bool:
        return (
            self.status is ReservationStatus.ACTIVE and self.expires_at is not None and now >= self.expires_at
        )

    def confirm(self, stocks: Mapping[str, SkuStock], *, now: datetime) -> bool:
        """Deduct the held stock. False if it already was (a retry); refused once released or expired."""
        if self.status is ReservationStatus.CONFIRMED:
            return False
        if self.status is not ReservationStatus.ACTIVE:
            raise ReservationNotActive(self.reference, status=self.status.value, action="confirmed")
        if self.is_due(now):
            raise ReservationNotActive(
                self.reference, status=ReservationStatus.EXPIRED.value, action="confirmed"
            )
        for sku, allocations in self._allocations_by_sku().items():
            stocks[sku].deduct(allocations, reference=self.reference)
        self._close(ReservationStatus.CONFIRMED, now)
        self.record(
            StockConfirmed(
                aggregate_id=self.reference,
                occurred_at=now,
                reference=self.reference,
                lines=self._event_lines(),
            )
        )
        return True

    def release(self, stocks: Mapping[str, SkuStock], *, now: datetime) -> bool:
        """Give the held stock back. False if nothing is held any more; refused once confirmed."""
        if self.status is ReservationStatus.CONFIRMED:
            raise ReservationNotActive(self.reference, status=self.status.value, action="released")
        if self.status is not ReservationStatus.ACTIVE:
            return False
        self._give_back(stocks, now=now, expired=False)
        return True

    def expire(self, stocks: Mapping[str, SkuStock], *, now: datetime) -> bool:
        """Give the held stock back because time ran out. False if not due."""
        if not self.is_due(now):
            return False
        self._give_back(stocks, now=now, expired=True)
        return True

    def _give_back(self, stocks: Mapping[str, SkuStock], *, now: datetime, expired: bool) -> None:
        for sku, allocations in self._allocations_by_sku().items():
            stocks[sku].release(allocations, reference=self.reference, expired=expired)
        self._close(ReservationStatus.EXPIRED if expired else ReservationStatus.RELEASED, now)
        self.record(
            StockReleased(
                aggregate_id=self.reference,
                occurred_at=now,
                reference=self.reference,
                reason="expired" if expired else "released",
                lines=self._event_lines(),
            )
        )

    def _close(self, status: ReservationStatus, now: datetime) -> None:
        self.status = status
        self.closed_at = now
        self.version += 1

    def _allocations_by_sku(self) -> dict[str, list[Allocation]]:
        grouped: dict[str, list[Allocation]] = defaultdict(list)
        for allocation in self.allocations:
            grouped[allocation.sku].append(allocation)
        return dict(grouped)

    def _event_lines(self) -> tuple[ReservedLine, ...]:
        return tuple(ReservedLine(sku=line.sku, quantity=line.quantity) for line in self.lines)
