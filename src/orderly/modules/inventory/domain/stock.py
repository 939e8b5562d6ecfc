"""Stock of one SKU across warehouses, and the movements that change it.

A ``SkuStock`` is loaded while its SKU is locked, so it sees the latest
committed levels and no one else changes them until the transaction ends.
Every change goes through ``_apply``, which checks the invariants
(on hand >= 0, reserved >= 0, reserved <= on hand) and records one movement:
the levels always equal the sum of the movements that led to them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from orderly.modules.inventory.contracts import StockLevelChanged
from orderly.modules.inventory.domain.allocation import Allocation, Plan, Source, plan_allocation
from orderly.modules.inventory.domain.errors import InsufficientStock, StockLimitExceeded
from orderly.shared_kernel.domain import AggregateRoot, DomainEvent
from orderly.shared_kernel.errors import InvalidInput
from orderly.shared_kernel.ids import new_id

# Keeps every level inside a PostgreSQL integer with room to spare, so a huge
# quantity is a clear refusal instead of an overflow in the database.
MAX_ON_HAND = 1_000_000_000
MAX_ADJUSTMENT = 1_000_000


class MovementKind(StrEnum):
    ADJUSTMENT = "adjustment"
    RESERVATION = "reservation"
    RELEASE = "release"
    EXPIRY = "expiry"
    DEDUCTION = "deduction"


class AdjustmentReason(StrEnum):
    """Why staff changed the stock on hand; the reason fixes the direction."""

    RECEIVED = "received"
    RETURNED = "returned"
    FOUND = "found"
    DAMAGED = "damaged"
    LOST = "lost"
    CORRECTION = "correction"

    @property
    def sign(self) -> int:
        """+1 if the reason only adds stock, -1 if it only removes, 0 if either."""
        if self in (AdjustmentReason.RECEIVED, AdjustmentReason.RETURNED, AdjustmentReason.FOUND):
            return 1
        if self in (AdjustmentReason.DAMAGED, AdjustmentReason.LOST):
            return -1
        return 0


class StockInvariantViolated(RuntimeError):
    """A change would break a stock invariant: a bug, never a client's mistake."""


@dataclass(frozen=True, slots=True)
class WarehouseRef:
    """What stock needs to know about a warehouse."""

    code: str
    priority: int
    active: bool


@dataclass(frozen=True, slots=True)
class StockLevel:
    warehouse: str
    priority: int
    active: bool
    on_hand: int = 0
    reserved: int = 0

    @property
    def unreserved(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True, slots=True)
class Totals:
    on_hand: int
    reserved: int
    available: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Movement:
    """One change of one level. Movements are only ever appended."""

    id: uuid.UUID
    sku: str
    warehouse: str
    kind: MovementKind
    on_hand_delta: int
    reserved_delta: int
    on_hand_after: int
    reserved_after: int
    occurred_at: datetime
    reason: AdjustmentReason | None = None
    reference: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class StockChanges:
    created: tuple[StockLevel, ...]
    """Levels that did not exist when loaded (inserted before they are updated)."""
    levels: tuple[StockLevel, ...]
    """Every changed level, in its new state."""
    movements: tuple[Movement, ...]


def totals_of(levels: Iterable[StockLevel]) -> Totals:
    """Totals across warehouses; only active warehouses' stock is available to reserve."""
    on_hand = reserved = available = 0
    for level in levels:
        on_hand += level.on_hand
        reserved += level.reserved
        if level.active:
            available += level.unreserved
    return Totals(on_hand=on_hand, reserved=reserved, available=available)


class SkuStock(AggregateRoot):
    """The levels of one SKU in every warehouse that holds or held it."""

    def __init__(self, *, sku: str, levels: Iterable[StockLevel], as_of: datetime) -> None:
        super().__init__()
        self.sku = sku
        # The database time at which the SKU was locked: stamps the movements and
        # the StockLevelChanged event, and grows with each change of this SKU.
        self.as_of = as_of
        self._levels = {level.warehouse: level for level in levels}
        self._created: set[str] = set()
        self._touched: set[str] = set()
        self._unannounced = False
        self._movements: list[Movement] = []

    @property
    def levels(self) -> tuple[StockLevel, ...]:
        return tuple(self._levels[code] for code in sorted(self._levels))

    def level(self, warehouse: str) -> StockLevel | None:
        return self._levels.get(warehouse)

    def totals(self) -> Totals:
        return totals_of(self._levels.values())

    def sources(self) -> list[Source]:
        return [
            Source(warehouse=lv.warehouse, priority=lv.priority, available=lv.unreserved, active=lv.active)
            for lv in self._levels.values()
        ]

    def plan(self, quantity: int) -> Plan:
        return plan_allocation(self.sku, quantity, self.sources())

    def adjust(
        self, *, warehouse: WarehouseRef, delta: int, reason: AdjustmentReason, note: str | None = None
    ) -> Movement:
        """Change the stock on hand in one warehouse, for a reason staff give."""
        if delta == 0:
            raise InvalidInput("an adjustment changes the stock by at least one unit", field="delta")
        if abs(delta) > MAX_ADJUSTMENT:
            raise InvalidInput(f"an adjustment moves at most {MAX_ADJUSTMENT} units", field="delta")
        if reason.sign and (delta > 0) != (reason.sign > 0):
            direction = "adds" if reason.sign > 0 else "removes"
            raise InvalidInput(f"'{reason.value}' only {direction} stock", field="delta")
        level = self._levels.get(warehouse.code)
        if level is None:
            level = StockLevel(warehouse=warehouse.code, priority=warehouse.priority, active=warehouse.active)
        if delta < 0 and -delta > level.unreserved:
            raise InsufficientStock(
                sku=self.sku, warehouse=warehouse.code, unreserved=level.unreserved, requested=-delta
            )
        if level.on_hand + delta > MAX_ON_HAND:
            raise StockLimitExceeded(sku=self.sku, warehouse=warehouse.code, limit=MAX_ON_HAND)
        return self._apply(
            level, on_hand=delta, reserved=0, kind=MovementKind.ADJUSTMENT, reason=reason, note=note
        )

    def hold(self, allocations: Iterable[Allocation], *, reference: str) -> None:
        """Reserve planned allocations (planned from this very state, under the lock)."""
        for allocation in self._own(allocations):
            level = self._existing(allocation.warehouse)
            self._apply(
                level,
                on_hand=0,
                reserved=allocation.quantity,
                kind=MovementKind.RESERVATION,
                reference=reference,
            )

    def release(self, allocations: Iterable[Allocation], *, reference: str, expired: bool) -> None:
        """Give held stock back; it stays on hand."""
        kind = MovementKind.EXPIRY if expired else MovementKind.RELEASE
        for allocation in self._own(allocations):
            level = self._existing(allocation.warehouse)
            self._apply(level, on_hand=0, reserved=-allocation.quantity, kind=kind, reference=reference)

    def deduct(self, allocations: Iterable[Allocation], *, reference: str) -> None:
        """Held stock leaves inventory: on hand and reserved both go down."""
        for allocation in self._own(allocations):
            level = self._existing(allocation.warehouse)
            self._apply(
                level,
                on_hand=-allocation.quantity,
                reserved=-allocation.quantity,
                kind=MovementKind.DEDUCTION,
                reference=reference,
            )

    def warehouse_changed(self, warehouse: WarehouseRef) -> None:
        """The warehouse was (de)activated or re-ranked: this SKU's level there follows.

        No unit moves, so no movement is recorded; but whether the units on
        hand there count as available may have changed, so the totals are
        announced again whenever the SKU has stock in that warehouse.
        """
        level = self._levels.get(warehouse.code)
        if level is None:
            return
        self._levels[warehouse.code] = replace(level, priority=warehouse.priority, active=warehouse.active)
        if level.on_hand > 0 and level.active != warehouse.active:
            self._unannounced = True

    def take_changes(self) -> StockChanges:
        """What changed since loading (or since the last call), for the repository to write."""
        changes = StockChanges(
            created=tuple(self._levels[code] for code in sorted(self._created)),
            levels=tuple(self._levels[code] for code in sorted(self._touched)),
            movements=tuple(self._movements),
        )
        self._created, self._touched, self._movements = set(), set(), []
        return changes

    def collect_events(self) -> list[DomainEvent]:
        events = super().collect_events()
        if self._unannounced:
            self._unannounced = False
            totals = self.totals()
            events.append(
                StockLevelChanged(
                    aggregate_id=self.sku,
                    occurred_at=self.as_of,
                    sku=self.sku,
                    on_hand=totals.on_hand,
                    reserved=totals.reserved,
                    available=totals.available,
                )
            )
        return events

    def _own(self, allocations: Iterable[Allocation]) -> list[Allocation]:
        return [a for a in allocations if a.sku == self.sku]

    def _existing(self, warehouse: str) -> StockLevel:
        level = self._levels.get(warehouse)
        if level is None:
            raise StockInvariantViolated(f"'{self.sku}' has no stock level in '{warehouse}'")
        return level

    def _apply(
        self,
        level: StockLevel,
        *,
        on_hand: int,
        reserved: int,
        kind: MovementKind,
        reason: AdjustmentReason | None = None,
        reference: str | None = None,
        note: str | None = None,
    ) -> Movement:
        new = replace(level, on_hand=level.on_hand + on_hand, reserved=level.reserved + reserved)
        if new.on_hand < 0 or new.reserved < 0 or new.reserved > new.on_hand:
            raise StockInvariantViolated(
                f"{kind.value} of '{self.sku}' in '{level.warehouse}' would leave "
                f"on_hand={new.on_hand}, reserved={new.reserved}"
            )
        if level.warehouse not in self._levels:
            self._created.add(level.warehouse)
        self._levels[level.warehouse] = new
        self._touched.add(level.warehouse)
        self._unannounced = True
        movement = Movement(
            id=new_id(),
            sku=self.sku,
            warehouse=level.warehouse,
            kind=kind,
            on_hand_delta=on_hand,
            reserved_delta=reserved,
            on_hand_after=new.on_hand,
            reserved_after=new.reserved,
            occurred_at=self.as_of,
            reason=reason,
            reference=reference,
            note=note,
        )
        self._movements.append(movement)
        return movement
