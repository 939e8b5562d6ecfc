"""Use cases on fakes: validation before I/O, idempotency per reference, the retry policy."""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

import pytest

from orderly.modules.inventory.application.commands import (
    AdjustStock,
    ConfirmReservation,
    CreateWarehouse,
    ExpireDueReservations,
    ReleaseReservation,
    ReserveStock,
)
from orderly.modules.inventory.application.handlers import (
    adjust_stock,
    confirm_reservation,
    create_warehouse,
    expire_due_reservations,
    release_reservation,
    reserve_stock,
)
from orderly.modules.inventory.application.retry import RetryPolicy
from orderly.modules.inventory.contracts import (
    StockConfirmed,
    StockLevelChanged,
    StockReleased,
    StockReservationRejected,
    StockReserved,
)
from orderly.modules.inventory.domain.errors import (
    DuplicateWarehouse,
    InsufficientStock,
    InventoryBusy,
    ReferenceReused,
    ReservationNotActive,
    ReservationNotFound,
    StockLimitExceeded,
    UnknownSku,
    UnknownWarehouse,
)
from orderly.modules.inventory.domain.reservation import Line, ReservationStatus
from orderly.modules.inventory.domain.stock import MAX_ON_HAND, AdjustmentReason, StockLevel
from orderly.shared_kernel.errors import InvalidInput
from tests.unit.inventory.fakes import FakeTransientError, InMemoryInventory, is_fake_transient

E = TypeVar("E")


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def retry(sleeps: Sleeps) -> RetryPolicy:
    return RetryPolicy(is_transient=is_fake_transient, attempts=4, sleep=sleeps)


@pytest.fixture
async def store(retry: RetryPolicy) -> InMemoryInventory:
    store = InMemoryInventory(skus={"MUG", "CUP"})
    store.add_warehouse("AMS", priority=0)
    store.add_warehouse("BER", priority=1)
    for sku, warehouse, units in (("MUG", "AMS", 3), ("MUG", "BER", 5), ("CUP", "AMS", 2)):
        await adjust_stock(
            AdjustStock(sku=sku, warehouse=warehouse, delta=units, reason=AdjustmentReason.RECEIVED),
            uow_factory=store.uow,
            retry=retry,
        )
    store.outbox.clear()
    return store


def reserve(reference: str, *lines: tuple[str, int], ttl_s: int = 60) -> ReserveStock:
    return ReserveStock(
        reference=reference,
        lines=tuple(Line(sku=s, quantity=q) for s, q in lines),
        ttl=timedelta(seconds=ttl_s),
    )


def events_of(store: InMemoryInventory, kind: type[E]) -> list[E]:
    return [e for e in store.outbox if isinstance(e, kind)]


class TestReserve:
    async def test_lines_are_split_across_warehouses_by_priority(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        reservation = await reserve_stock(reserve("o-1", ("MUG", 6)), uow_factory=store.uow, retry=retry)
        assert reservation.status is ReservationStatus.ACTIVE
        assert [(a.warehouse, a.quantity) for a in reservation.allocations] == [("AMS", 3), ("BER", 3)]
        assert store.levels[("MUG", "AMS")].reserved == 3
        assert store.levels[("MUG", "BER")].reserved == 3
        (changed,) = events_of(store, StockLevelChanged)
        assert changed == StockLevelChanged(
            aggregate_id="MUG",
            event_id=changed.event_id,
            occurred_at=store.now,
            sku="MUG",
            on_hand=8,
            reserved=6,
            available=2,
        )

    async def test_one_short_line_rejects_the_whole_reservation(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        reservation = await reserve_stock(
            reserve("o-1", ("MUG", 1), ("CUP", 3)), uow_factory=store.uow, retry=retry
        )
        assert reservation.status is ReservationStatus.REJECTED
        assert [(s.sku, s.requested, s.available) for s in reservation.shortfalls] == [("CUP", 3, 2)]
        assert all(level.reserved == 0 for level in store.levels.values())
        assert len(events_of(store, StockReservationRejected)) == 1
        assert events_of(store, StockLevelChanged) == []

    async def test_same_reference_twice_reserves_once(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        first = await reserve_stock(reserve("o-1", ("MUG", 2)), uow_factory=store.uow, retry=retry)
        second = await reserve_stock(reserve("o-1", ("MUG", 2)), uow_factory=store.uow, retry=retry)
        assert second.id == first.id
        assert store.levels[("MUG", "AMS")].reserved == 2
        assert len(events_of(store, StockReserved)) == 1

    async def test_a_retried_rejection_is_rejected_again_even_after_restock(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        await reserve_stock(reserve("o-1", ("CUP", 5)), uow_factory=store.uow, retry=retry)
        await adjust_stock(
            AdjustStock(sku="CUP", warehouse="AMS", delta=10, reason=AdjustmentReason.RECEIVED),
            uow_factory=store.uow,
            retry=retry,
        )
        again = await reserve_stock(reserve("o-1", ("CUP", 5)), uow_factory=store.uow, retry=retry)
        assert again.status is ReservationStatus.REJECTED
        assert store.levels[("CUP", "AMS")].reserved == 0

    async def test_reference_reused_for_other_lines_is_a_conflict(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        await reserve_stock(reserve("o-1", ("MUG", 2)), uow_factory=store.uow, retry=retry)
        with pytest.raises(ReferenceReused):
            await reserve_stock(reserve("o-1", ("MUG", 3)), uow_factory=store.uow, retry=retry)
        assert store.levels[("MUG", "AMS")].reserved == 2

    async def test_unknown_sku_is_named_and_nothing_is_written(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        with pytest.raises(UnknownSku) as refused:
            await reserve_stock(reserve("o-1", ("MUG", 1), ("NOPE", 1)), uow_factory=store.uow, retry=retry)
        assert refused.value.sku == "NOPE"
        assert refused.value.details["field"] == "lines.1.sku"
        assert store.reservations == {}
        assert store.outbox == []

    @pytest.mark.parametrize(
        ("lines", "ttl_s", "field"),
        [
            ((("MUG", 0),), 60, "lines.0.quantity"),
            ((("MUG", -1),), 60, "lines.0.quantity"),
            ((("MUG", 10**9),), 60, "lines.0.quantity"),
            ((("MUG", 1), ("MUG", 2)), 60, "lines.1.sku"),
            ((), 60, "lines"),
            ((("MUG", 1),), 0, "ttl_seconds"),
            ((("MUG", 1),), 8 * 86400, "ttl_seconds"),
        ],
    )
    async def test_malformed_requests_are_refused_before_any_io(
        self,
        store: InMemoryInventory,
        retry: RetryPolicy,
        lines: tuple[tuple[str, int], ...],
        ttl_s: int,
        field: str,
    ) -> None:
        opened = store.units_opened
        with pytest.raises(InvalidInput) as refused:
            await reserve_stock(reserve("o-1", *lines, ttl_s=ttl_s), uow_factory=store.uow, retry=retry)
        assert refused.value.details["field"] == field
        assert store.units_opened == opened


class TestConfirmAndRelease:
    async def test_confirm_deducts_on_hand_and_reserved_once(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        await reserve_stock(reserve("o-1", ("MUG", 4)), uow_factory=store.uow, retry=retry)
        for _ in range(2):
            confirmed = await confirm_reservation(
                ConfirmReservation(reference="o-1"), uow_factory=store.uow, retry=retry
            )
            assert confirmed.status is ReservationStatus.CONFIRMED
        assert (store.levels[("MUG", "AMS")].on_hand, store.levels[("MUG", "AMS")].reserved) == (0, 0)
        assert (store.levels[("MUG", "BER")].on_hand, store.levels[("MUG", "BER")].reserved) == (4, 0)
        assert len(events_of(store, StockConfirmed)) == 1

    async def test_release_is_idempotent_and_confirm_after_it_is_refused(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        await reserve_stock(reserve("o-1", ("MUG", 4)), uow_factory=store.uow, retry=retry)
        for _ in range(2):
            await release_reservation(ReleaseReservation(reference="o-1"), uow_factory=store.uow, retry=retry)
        assert all(level.reserved == 0 for level in store.levels.values())
        assert len(events_of(store, StockReleased)) == 1
        with pytest.raises(ReservationNotActive):
            await confirm_reservation(ConfirmReservation(reference="o-1"), uow_factory=store.uow, retry=retry)

    async def test_release_after_confirm_is_refused(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        await reserve_stock(reserve("o-1", ("MUG", 1)), uow_factory=store.uow, retry=retry)
        await confirm_reservation(ConfirmReservation(reference="o-1"), uow_factory=store.uow, retry=retry)
        with pytest.raises(ReservationNotActive):
            await release_reservation(ReleaseReservation(reference="o-1"), uow_factory=store.uow, retry=retry)

    async def test_confirm_past_expiry_is_refused_even_before_the_sweep(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        await reserve_stock(reserve("o-1", ("MUG", 1), ttl_s=30), uow_factory=store.uow, retry=retry)
        store.advance(30)
        with pytest.raises(ReservationNotActive) as refused:
            await confirm_reservation(ConfirmReservation(reference="o-1"), uow_factory=store.uow, retry=retry)
        assert refused.value.status == "expired"
        assert store.levels[("MUG", "AMS")].on_hand == 3

    async def test_unknown_reference_is_not_found(self, store: InMemoryInventory, retry: RetryPolicy) -> None:
        with pytest.raises(ReservationNotFound):
            await confirm_reservation(
                ConfirmReservation(reference="nope"), uow_factory=store.uow, retry=retry
            )


class TestExpiry:
    async def test_due_reservations_are_released_and_others_kept(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        await reserve_stock(reserve("short", ("MUG", 2), ttl_s=10), uow_factory=store.uow, retry=retry)
        await reserve_stock(reserve("long", ("CUP", 1), ttl_s=100), uow_factory=store.uow, retry=retry)
        store.advance(10)
        expired = await expire_due_reservations(
            ExpireDueReservations(batch_size=10), uow_factory=store.uow, retry=retry
        )
        assert expired == 1
        assert store.reservations["short"].status is ReservationStatus.EXPIRED
        assert store.reservations["long"].status is ReservationStatus.ACTIVE
        assert store.levels[("MUG", "AMS")].reserved == 0
        (released,) = events_of(store, StockReleased)
        assert released.reason == "expired"


class TestAdjustAndWarehouses:
    async def test_stock_held_by_reservations_cannot_be_adjusted_away(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        await reserve_stock(reserve("o-1", ("CUP", 2)), uow_factory=store.uow, retry=retry)
        with pytest.raises(InsufficientStock):
            await adjust_stock(
                AdjustStock(sku="CUP", warehouse="AMS", delta=-1, reason=AdjustmentReason.DAMAGED),
                uow_factory=store.uow,
                retry=retry,
            )
        assert store.levels[("CUP", "AMS")].on_hand == 2

    async def test_unknown_warehouse_is_refused(self, store: InMemoryInventory, retry: RetryPolicy) -> None:
        with pytest.raises(UnknownWarehouse):
            await adjust_stock(
                AdjustStock(sku="CUP", warehouse="NOWHERE", delta=1, reason=AdjustmentReason.FOUND),
                uow_factory=store.uow,
                retry=retry,
            )

    async def test_a_reason_fixes_the_direction(self, store: InMemoryInventory, retry: RetryPolicy) -> None:
        with pytest.raises(InvalidInput):
            await adjust_stock(
                AdjustStock(sku="CUP", warehouse="AMS", delta=-1, reason=AdjustmentReason.RECEIVED),
                uow_factory=store.uow,
                retry=retry,
            )

    async def test_stock_beyond_the_per_level_limit_is_refused(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        store.levels[("CUP", "AMS")] = StockLevel(
            warehouse="AMS", priority=0, active=True, on_hand=MAX_ON_HAND - 1
        )
        with pytest.raises(StockLimitExceeded):
            await adjust_stock(
                AdjustStock(sku="CUP", warehouse="AMS", delta=2, reason=AdjustmentReason.RECEIVED),
                uow_factory=store.uow,
                retry=retry,
            )
        assert store.levels[("CUP", "AMS")].on_hand == MAX_ON_HAND - 1

    async def test_warehouse_codes_are_unique(self, store: InMemoryInventory) -> None:
        with pytest.raises(DuplicateWarehouse):
            await create_warehouse(CreateWarehouse(code="AMS", name="Again", priority=0), uow=store.uow())


class TestRetryPolicy:
    async def test_a_lost_race_is_retried_with_a_jittered_backoff(
        self, store: InMemoryInventory, retry: RetryPolicy, sleeps: Sleeps
    ) -> None:
        store.fail_next(2)
        reservation = await reserve_stock(reserve("o-1", ("MUG", 1)), uow_factory=store.uow, retry=retry)
        assert reservation.status is ReservationStatus.ACTIVE
        assert len(sleeps.delays) == 2
        assert all(0 <= d <= retry.base_delay_s * 2**attempt for attempt, d in enumerate(sleeps.delays, 1))
        assert len(events_of(store, StockReserved)) == 1

    async def test_persistent_races_end_as_inventory_busy_after_bounded_attempts(
        self, store: InMemoryInventory, retry: RetryPolicy, sleeps: Sleeps
    ) -> None:
        store.fail_next(10)
        opened = store.units_opened
        with pytest.raises(InventoryBusy) as busy:
            await reserve_stock(reserve("o-1", ("MUG", 1)), uow_factory=store.uow, retry=retry)
        assert isinstance(busy.value.__cause__, FakeTransientError)
        assert store.units_opened - opened == retry.attempts
        assert len(sleeps.delays) == retry.attempts - 1
        assert store.reservations == {}

    async def test_other_errors_are_not_retried(self, store: InMemoryInventory, retry: RetryPolicy) -> None:
        store.pending_failures.append(RuntimeError("disk on fire"))
        opened = store.units_opened
        with pytest.raises(RuntimeError):
            await reserve_stock(reserve("o-1", ("MUG", 1)), uow_factory=store.uow, retry=retry)
        assert store.units_opened - opened == 1
