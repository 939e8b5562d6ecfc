"""Property-based: any sequence of adjust/reserve/confirm/release/expire and warehouse
(de)activation keeps stock consistent.

The machine plays the domain model the way the application does under its
locks (one operation at a time on the current state), and after every step
checks that on hand and reserved stay >= 0 with reserved <= on hand, that the
movements add up to the levels, that reserved stock is exactly what active
reservations hold, that the last StockLevelChanged of each SKU states its
totals (also after a warehouse was switched off or on), and that a reservation
draws only from warehouses active at the time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from orderly.modules.inventory.contracts import StockLevelChanged
from orderly.modules.inventory.domain.reservation import Line, Reservation, ReservationStatus
from orderly.modules.inventory.domain.stock import (
    AdjustmentReason,
    Movement,
    MovementKind,
    SkuStock,
    WarehouseRef,
    totals_of,
)
from orderly.shared_kernel.errors import DomainError

SKUS = ("MUG", "CUP", "BOWL")
WAREHOUSES = (
    WarehouseRef(code="AMS", priority=0, active=True),
    WarehouseRef(code="BER", priority=1, active=True),
    WarehouseRef(code="CLOSED", priority=0, active=False),
)


class StockMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = datetime(2026, 11, 27, tzinfo=UTC)
        self.stocks = {sku: SkuStock(sku=sku, levels=(), as_of=self.now) for sku in SKUS}
        self.warehouses = {w.code: w for w in WAREHOUSES}
        self.reservations: dict[str, Reservation] = {}
        self.movements: list[Movement] = []
        self.last_event: dict[str, StockLevelChanged] = {}
        self.counter = 0

    def _settle(self) -> None:
        """What committing does: keep the movements and the events, then move the clock on."""
        for stock in self.stocks.values():
            self.movements.extend(stock.take_changes().movements)
            for event in stock.collect_events():
                assert isinstance(event, StockLevelChanged)
                self.last_event[event.sku] = event
        for reservation in self.reservations.values():
            reservation.collect_events()
        self.now += timedelta(seconds=1)
        for stock in self.stocks.values():
            stock.as_of = self.now

    @rule(
        sku=st.sampled_from(SKUS),
        code=st.sampled_from([w.code for w in WAREHOUSES]),
        delta=st.integers(min_value=-30, max_value=60).filter(bool),
        reason=st.sampled_from(AdjustmentReason),
    )
    def adjust(self, sku: str, code: str, delta: int, reason: AdjustmentReason) -> None:
        stock = self.stocks[sku]
        before = stock.levels
        try:
            stock.adjust(warehouse=self.warehouses[code], delta=delta, reason=reason)
        except DomainError:
            assert stock.levels == before, "a refused adjustment changes nothing"
        self._settle()

    @rule(
        picks=st.lists(
            st.tuples(st.sampled_from(SKUS), st.integers(min_value=1, max_value=25)),
            min_size=1,
            max_size=3,
            unique_by=lambda pick: pick[0],
        ),
        ttl=st.integers(min_value=1, max_value=20),
    )
    def reserve(self, picks: list[tuple[str, int]], ttl: int) -> None:
        self.counter += 1
        lines = [Line(sku=sku, quantity=quantity) for sku, quantity in picks]
        available = {sku: self.stocks[sku].totals().available for sku, _ in picks}
        reservation = Reservation.place(
            reference=f"order-{self.counter}",
            lines=lines,
            ttl=timedelta(seconds=ttl),
            stocks=self.stocks,
            now=self.now,
        )
        self.reservations[reservation.reference] = reservation
        assert all(self.warehouses[a.warehouse].active for a in reservation.allocations)
        coverable = all(line.quantity <= available[line.sku] for line in lines)
        assert (reservation.status is ReservationStatus.ACTIVE) == coverable, "all or nothing"
        if not coverable:
            assert reservation.allocations == ()
            assert all(s.available < s.requested for s in reservation.shortfalls)
        self._settle()

    @rule(code=st.sampled_from([w.code for w in WAREHOUSES]), active=st.booleans())
    def switch_warehouse(self, code: str, active: bool) -> None:
        """What changing a warehouse does: every SKU with a level there is told, under its lock."""
        self.warehouses[code] = replace(self.warehouses[code], active=active)
        for stock in self.stocks.values():
            stock.warehouse_changed(self.warehouses[code])
        self._settle()

    def _pick(self, data: st.DataObject) -> Reservation:
        return data.draw(st.sampled_from(sorted(self.reservations.values(), key=lambda r: r.reference)))

    @precondition(lambda self: bool(self.reservations))
    @rule(data=st.data())
    def confirm(self, data: st.DataObject) -> None:
        reservation = self._pick(data)
        in_time = not reservation.is_due(self.now)
        was_active_in_time = reservation.status is ReservationStatus.ACTIVE and in_time
        try:
            reservation.confirm(self.stocks, now=self.now)
        except DomainError:
            assert not was_active_in_time
        else:
            assert reservation.status is ReservationStatus.CONFIRMED
        self._settle()

    @precondition(lambda self: bool(self.reservations))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        reservation = self._pick(data)
        try:
            reservation.release(self.stocks, now=self.now)
        except DomainError:
            assert reservation.status is ReservationStatus.CONFIRMED
        self._settle()

    @rule(seconds=st.integers(min_value=0, max_value=30))
    def expire(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        for reservation in self.reservations.values():
            due = reservation.is_due(self.now)
            assert reservation.expire(self.stocks, now=self.now) == due
        self._settle()

    @invariant()
    def levels_stay_within_bounds(self) -> None:
        for stock in self.stocks.values():
            for level in stock.levels:
                assert level.on_hand >= 0
                assert level.reserved >= 0
                assert level.reserved <= level.on_hand

    @invariant()
    def movements_add_up_to_the_levels(self) -> None:
        running: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for movement in self.movements:
            key = (movement.sku, movement.warehouse)
            running[key][0] += movement.on_hand_delta
            running[key][1] += movement.reserved_delta
            assert [movement.on_hand_after, movement.reserved_after] == running[key]
        for stock in self.stocks.values():
            for level in stock.levels:
                assert running[(stock.sku, level.warehouse)] == [level.on_hand, level.reserved]

    @invariant()
    def stock_on_hand_is_what_came_in_minus_what_was_confirmed(self) -> None:
        for sku, stock in self.stocks.items():
            adjusted = sum(
                m.on_hand_delta for m in self.movements if m.sku == sku and m.kind is MovementKind.ADJUSTMENT
            )
            confirmed = sum(
                a.quantity
                for r in self.reservations.values()
                if r.status is ReservationStatus.CONFIRMED
                for a in r.allocations
                if a.sku == sku
            )
            assert totals_of(stock.levels).on_hand == adjusted - confirmed

    @invariant()
    def reserved_stock_is_what_active_reservations_hold(self) -> None:
        held: dict[tuple[str, str], int] = defaultdict(int)
        for reservation in self.reservations.values():
            if reservation.status is ReservationStatus.ACTIVE:
                for allocation in reservation.allocations:
                    held[(allocation.sku, allocation.warehouse)] += allocation.quantity
        for stock in self.stocks.values():
            for level in stock.levels:
                assert level.reserved == held[(stock.sku, level.warehouse)]

    @invariant()
    def the_last_published_totals_are_the_current_totals(self) -> None:
        for sku, event in self.last_event.items():
            totals = self.stocks[sku].totals()
            assert (event.on_hand, event.reserved, event.available) == (
                totals.on_hand,
                totals.reserved,
                totals.available,
            )
            assert event.available == event.on_hand - event.reserved - sum(
                lv.unreserved for lv in self.stocks[sku].levels if not lv.active
            )


StockMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestStockInvariantsUnderAnySequence = StockMachine.TestCase
