"""Changing a warehouse: the aggregate's rules, and the use case on fakes (what it publishes)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orderly.modules.inventory.application.commands import (
    AdjustStock,
    ChangeWarehouse,
    ConfirmReservation,
    ReleaseReservation,
    ReserveStock,
)
from orderly.modules.inventory.application.handlers import (
    adjust_stock,
    change_warehouse,
    confirm_reservation,
    release_reservation,
    reserve_stock,
)
from orderly.modules.inventory.application.retry import RetryPolicy
from orderly.modules.inventory.contracts import StockLevelChanged
from orderly.modules.inventory.domain.errors import StaleWarehouseVersion, WarehouseNotFound
from orderly.modules.inventory.domain.reservation import Line, ReservationStatus
from orderly.modules.inventory.domain.stock import AdjustmentReason, SkuStock, StockLevel, WarehouseRef
from orderly.modules.inventory.domain.warehouse import MAX_PRIORITY, Warehouse
from orderly.shared_kernel.errors import InvalidInput
from tests.unit.inventory.fakes import InMemoryInventory, is_fake_transient


@pytest.fixture
def retry() -> RetryPolicy:
    async def no_sleep(_: float) -> None:
        return None

    return RetryPolicy(is_transient=is_fake_transient, attempts=4, sleep=no_sleep)


@pytest.fixture
async def store(retry: RetryPolicy) -> InMemoryInventory:
    """MUG: 3 in AMS (priority 0), 5 in BER (priority 1); CUP: 2 in AMS only."""
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


def change(
    code: str = "AMS",
    *,
    expected: int | None = 1,
    name: str | None = None,
    priority: int | None = None,
    active: bool | None = None,
) -> ChangeWarehouse:
    return ChangeWarehouse(code=code, expected_version=expected, name=name, priority=priority, active=active)


def reserve(reference: str, sku: str, quantity: int) -> ReserveStock:
    return ReserveStock(
        reference=reference, lines=(Line(sku=sku, quantity=quantity),), ttl=timedelta(minutes=5)
    )


def published_totals(store: InMemoryInventory) -> dict[str, tuple[int, int, int]]:
    return {
        e.sku: (e.on_hand, e.reserved, e.available) for e in store.outbox if isinstance(e, StockLevelChanged)
    }


class TestTheWarehouseAggregate:
    def test_a_change_bumps_the_version_once_and_an_idle_one_not_at_all(self) -> None:
        warehouse = Warehouse.create(code="AMS", name="Amsterdam", priority=0)

        assert warehouse.change(name=" Amsterdam 2 ", priority=3, active=False)
        assert (warehouse.name, warehouse.priority, warehouse.active, warehouse.version) == (
            "Amsterdam 2",
            3,
            False,
            2,
        )
        assert not warehouse.change(name="Amsterdam 2", active=False)
        assert warehouse.version == 2

    @pytest.mark.parametrize(
        ("name", "priority", "field"),
        [
            ("   ", None, "name"),
            ("x" * 201, None, "name"),
            (None, -1, "priority"),
            ("Fine", MAX_PRIORITY + 1, "priority"),
        ],
    )
    def test_a_bad_value_is_refused_naming_its_field_and_changes_nothing(
        self, name: str | None, priority: int | None, field: str
    ) -> None:
        warehouse = Warehouse.create(code="AMS", name="Amsterdam", priority=0)
        with pytest.raises(InvalidInput) as refused:
            warehouse.change(name=name, priority=priority)
        assert refused.value.details["field"] == field
        assert (warehouse.name, warehouse.priority, warehouse.version) == ("Amsterdam", 0, 1)

    def test_a_stale_version_is_refused_with_the_current_one(self) -> None:
        warehouse = Warehouse.create(code="AMS", name="Amsterdam", priority=0)
        warehouse.change(priority=2)
        warehouse.ensure_version(2)
        warehouse.ensure_version(None)
        with pytest.raises(StaleWarehouseVersion) as stale:
            warehouse.ensure_version(1)
        assert stale.value.current == 2


class TestALevelFollowsItsWarehouse:
    def stock(self, *, on_hand: int, reserved: int = 0) -> SkuStock:
        level = StockLevel(warehouse="AMS", priority=0, active=True, on_hand=on_hand, reserved=reserved)
        other = StockLevel(warehouse="BER", priority=1, active=True, on_hand=4)
        return SkuStock(sku="MUG", levels=[level, other], as_of=InMemoryInventory().now)

    def test_deactivating_takes_its_stock_out_of_available_and_announces_it(self) -> None:
        stock = self.stock(on_hand=3, reserved=1)

        stock.warehouse_changed(WarehouseRef(code="AMS", priority=0, active=False))

        assert stock.totals().available == 4
        (event,) = stock.collect_events()
        assert isinstance(event, StockLevelChanged)
        assert (event.on_hand, event.reserved, event.available) == (7, 1, 4)
        assert stock.take_changes().movements == ()

    def test_nothing_is_announced_without_stock_there_or_without_a_flip(self) -> None:
        empty = self.stock(on_hand=0)
        empty.warehouse_changed(WarehouseRef(code="AMS", priority=0, active=False))
        reranked = self.stock(on_hand=3)
        reranked.warehouse_changed(WarehouseRef(code="AMS", priority=9, active=True))
        elsewhere = self.stock(on_hand=3)
        elsewhere.warehouse_changed(WarehouseRef(code="OSL", priority=0, active=False))

        assert [s.collect_events() for s in (empty, reranked, elsewhere)] == [[], [], []]
        level = reranked.level("AMS")
        assert level is not None
        assert level.priority == 9


class TestChangeWarehouse:
    async def test_a_deactivated_warehouse_is_skipped_and_its_skus_totals_restated(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        warehouse = await change_warehouse(change(active=False), uow_factory=store.uow, retry=retry)

        assert (warehouse.active, warehouse.version) == (False, 2)
        assert published_totals(store) == {"MUG": (8, 0, 5), "CUP": (2, 0, 0)}
        mug = await reserve_stock(reserve("o-1", "MUG", 2), uow_factory=store.uow, retry=retry)
        assert [(a.warehouse, a.quantity) for a in mug.allocations] == [("BER", 2)]
        cup = await reserve_stock(reserve("o-2", "CUP", 1), uow_factory=store.uow, retry=retry)
        assert cup.status is ReservationStatus.REJECTED
        assert [(s.requested, s.available) for s in cup.shortfalls] == [(1, 0)]

    async def test_reactivating_restates_the_totals_again(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        await change_warehouse(change(active=False), uow_factory=store.uow, retry=retry)
        store.outbox.clear()

        await change_warehouse(change(expected=2, active=True), uow_factory=store.uow, retry=retry)

        assert published_totals(store) == {"MUG": (8, 0, 8), "CUP": (2, 0, 2)}

    async def test_reservations_held_there_can_still_be_confirmed_or_released(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        await reserve_stock(reserve("o-1", "CUP", 1), uow_factory=store.uow, retry=retry)
        await reserve_stock(reserve("o-2", "CUP", 1), uow_factory=store.uow, retry=retry)
        await change_warehouse(change(active=False), uow_factory=store.uow, retry=retry)

        confirmed = await confirm_reservation(
            ConfirmReservation(reference="o-1"), uow_factory=store.uow, retry=retry
        )
        released = await release_reservation(
            ReleaseReservation(reference="o-2"), uow_factory=store.uow, retry=retry
        )

        assert (confirmed.status, released.status) == (
            ReservationStatus.CONFIRMED,
            ReservationStatus.RELEASED,
        )
        level = store.levels[("CUP", "AMS")]
        assert (level.on_hand, level.reserved) == (1, 0)
        assert published_totals(store)["CUP"] == (1, 0, 0)

    async def test_stock_can_still_be_adjusted_there_without_becoming_available(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        await change_warehouse(change(active=False), uow_factory=store.uow, retry=retry)

        adjusted = await adjust_stock(
            AdjustStock(sku="CUP", warehouse="AMS", delta=-1, reason=AdjustmentReason.LOST),
            uow_factory=store.uow,
            retry=retry,
        )

        assert (adjusted.totals.on_hand, adjusted.totals.available) == (1, 0)

    async def test_a_rename_or_a_new_rank_publishes_nothing(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        warehouse = await change_warehouse(
            change(name="Amsterdam", priority=7), uow_factory=store.uow, retry=retry
        )

        assert (warehouse.name, warehouse.priority, warehouse.version) == ("Amsterdam", 7, 2)
        assert store.outbox == []
        mug = await reserve_stock(reserve("o-1", "MUG", 1), uow_factory=store.uow, retry=retry)
        assert [a.warehouse for a in mug.allocations] == ["BER"]

    async def test_a_change_to_the_same_values_keeps_the_version(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        commits = store.commits
        warehouse = await change_warehouse(change(active=True), uow_factory=store.uow, retry=retry)
        assert warehouse.version == 1
        assert store.commits == commits

    async def test_a_stale_version_changes_nothing(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        await change_warehouse(change(priority=4), uow_factory=store.uow, retry=retry)

        with pytest.raises(StaleWarehouseVersion):
            await change_warehouse(change(expected=1, active=False), uow_factory=store.uow, retry=retry)

        assert store.warehouses["AMS"].active
        assert store.outbox == []

    async def test_an_unknown_warehouse_is_not_found(
        self, store: InMemoryInventory, retry: RetryPolicy
    ) -> None:
        with pytest.raises(WarehouseNotFound):
            await change_warehouse(change("NOWHERE", active=False), uow_factory=store.uow, retry=retry)
