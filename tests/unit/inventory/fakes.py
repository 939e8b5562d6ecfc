"""In-memory stand-ins for the inventory's ports (fakes-first handler tests).

They keep the behaviour the handlers rely on: what a unit of work loads is a
copy, writes are staged and applied only by ``commit`` (with the events of
every tracked aggregate moved to ``outbox``), and a block left without commit
changes nothing. ``fail_next`` makes the next lock attempts raise, standing in
for the database reporting a lost race.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from orderly.modules.inventory.application.ports import LockedStock, WarehouseLock
from orderly.modules.inventory.domain.model import StockItem
from orderly.modules.inventory.domain.reservation import Reservation
from orderly.modules.inventory.domain.stock import Movement, SkuStock, StockLevel
from orderly.modules.inventory.domain.warehouse import Warehouse
from orderly.shared_kernel.domain import AggregateRoot, DomainEvent


class FakeTransientError(Exception):
    """What the fake database raises for a lost race (the policy under test treats it as transient)."""


def is_fake_transient(exc: BaseException) -> bool:
    return isinstance(exc, FakeTransientError)


@dataclass
class InMemoryInventory:
    skus: set[str] = field(default_factory=set)
    warehouses: dict[str, Warehouse] = field(default_factory=dict)
    levels: dict[tuple[str, str], StockLevel] = field(default_factory=dict)
    movements: list[Movement] = field(default_factory=list)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    outbox: list[DomainEvent] = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    pending_failures: list[BaseException] = field(default_factory=list)
    units_opened: int = 0
    commits: int = 0

    def uow(self) -> FakeInventoryUnitOfWork:
        return FakeInventoryUnitOfWork(self)

    def fail_next(self, count: int) -> None:
        self.pending_failures.extend(FakeTransientError("could not serialize access") for _ in range(count))

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def add_warehouse(self, code: str, *, priority: int = 0, active: bool = True) -> None:
        self.warehouses[code] = Warehouse.create(code=code, name=code, priority=priority, active=active)


class _StockItems:
    def __init__(self, uow: FakeInventoryUnitOfWork) -> None:
        self._uow = uow

    async def add(self, item: StockItem) -> None:
        self._uow.track(item)
        self._uow.staged_skus.add(item.sku)

    async def existing(self, skus: list[str]) -> set[str]:
        return {s for s in skus if s in self._uow.store.skus}


class _Warehouses:
    def __init__(self, uow: FakeInventoryUnitOfWork) -> None:
        self._uow = uow

    async def add(self, warehouse: Warehouse) -> bool:
        if warehouse.code in self._uow.store.warehouses or warehouse.code in self._uow.staged_warehouses:
            return False
        self._uow.staged_warehouses[warehouse.code] = warehouse
        return True

    async def get(self, code: str, *, lock: WarehouseLock | None = None) -> Warehouse | None:
        stored = self._uow.store.warehouses.get(code)
        return copy.deepcopy(stored) if stored is not None else None

    async def save(self, warehouse: Warehouse) -> None:
        self._uow.staged_warehouses[warehouse.code] = warehouse


class _Stock:
    def __init__(self, uow: FakeInventoryUnitOfWork) -> None:
        self._uow = uow

    async def lock(self, skus: Sequence[str]) -> LockedStock:
        store = self._uow.store
        if store.pending_failures:
            raise store.pending_failures.pop(0)
        stocks: dict[str, SkuStock] = {}
        for sku in sorted(set(skus)):
            if sku not in store.skus:
                continue
            # As the database joins them: a level shows its warehouse's current rank and flag.
            levels = [
                replace(
                    level,
                    priority=store.warehouses[code].priority,
                    active=store.warehouses[code].active,
                )
                for (s, code), level in store.levels.items()
                if s == sku
            ]
            stocks[sku] = SkuStock(sku=sku, levels=levels, as_of=store.now)
            self._uow.track(stocks[sku])
        return LockedStock(as_of=store.now, stocks=stocks)

    async def skus_in(self, warehouse: str) -> list[str]:
        return sorted(sku for sku, code in self._uow.store.levels if code == warehouse)

    async def save(self, stocks: Iterable[SkuStock]) -> None:
        for stock in stocks:
            changes = stock.take_changes()
            for level in changes.levels:
                self._uow.staged_levels[(stock.sku, level.warehouse)] = level
            self._uow.staged_movements.extend(changes.movements)


class _Reservations:
    def __init__(self, uow: FakeInventoryUnitOfWork) -> None:
        self._uow = uow

    async def lock_reference(self, reference: str) -> None:
        return None

    async def get(self, reference: str, *, for_update: bool = False) -> Reservation | None:
        stored = self._uow.store.reservations.get(reference)
        if stored is None:
            return None
        loaded = copy.deepcopy(stored)
        self._uow.track(loaded)
        return loaded

    async def add(self, reservation: Reservation) -> bool:
        if reservation.reference in self._uow.store.reservations:
            return False
        self._uow.track(reservation)
        self._uow.staged_reservations[reservation.reference] = reservation
        return True

    async def save(self, reservations: Sequence[Reservation]) -> None:
        for reservation in reservations:
            self._uow.staged_reservations[reservation.reference] = reservation

    async def claim_due(self, *, limit: int, now: datetime | None) -> list[Reservation]:
        cutoff = now or self._uow.store.now
        due = [r for r in self._uow.store.reservations.values() if r.is_due(cutoff)]
        due.sort(key=lambda r: r.expires_at or cutoff)
        claimed = [copy.deepcopy(r) for r in due[:limit]]
        for reservation in claimed:
            self._uow.track(reservation)
        return claimed


class FakeInventoryUnitOfWork:
    def __init__(self, store: InMemoryInventory) -> None:
        self.store = store
        self._stock_items = _StockItems(self)
        self._warehouses = _Warehouses(self)
        self._stock = _Stock(self)
        self._reservations = _Reservations(self)
        self._reset()

    def _reset(self) -> None:
        self.tracked: list[AggregateRoot] = []
        self.staged_skus: set[str] = set()
        self.staged_warehouses: dict[str, Warehouse] = {}
        self.staged_levels: dict[tuple[str, str], StockLevel] = {}
        self.staged_movements: list[Movement] = []
        self.staged_reservations: dict[str, Reservation] = {}

    @property
    def stock_items(self) -> _StockItems:
        return self._stock_items

    @property
    def warehouses(self) -> _Warehouses:
        return self._warehouses

    @property
    def stock(self) -> _Stock:
        return self._stock

    @property
    def reservations(self) -> _Reservations:
        return self._reservations

    def track(self, aggregate: AggregateRoot) -> None:
        if not any(seen is aggregate for seen in self.tracked):
            self.tracked.append(aggregate)

    async def __aenter__(self) -> Self:
        self.store.units_opened += 1
        self._reset()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._reset()

    async def commit(self) -> None:
        store = self.store
        store.skus |= self.staged_skus
        store.warehouses.update(self.staged_warehouses)
        store.levels.update(self.staged_levels)
        store.movements.extend(self.staged_movements)
        # Events first, so the stored copies carry none still pending.
        for aggregate in self.tracked:
            store.outbox.extend(aggregate.collect_events())
        for reference, reservation in self.staged_reservations.items():
            store.reservations[reference] = copy.deepcopy(reservation)
        store.commits += 1
        self._reset()
