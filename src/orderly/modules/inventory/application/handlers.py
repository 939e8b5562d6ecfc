"""Inventory use cases.

Each writing use case is one transaction at READ COMMITTED, run through the
retry policy, that takes its locks in one global order (docs/adr/0010):

1. the reservation: an advisory lock on a new reference, or the row of an
   existing reservation (``FOR UPDATE``, ``SKIP LOCKED`` in the sweep);
2. warehouse rows, where needed: ``FOR SHARE`` by whoever may create a stock
   level there (adjustments), ``FOR NO KEY UPDATE`` to change the warehouse;
3. the SKUs, sorted (``stock_items ... ORDER BY sku FOR UPDATE``);
4. then the levels are read and written, under those locks.

No transaction waits for an earlier step while holding a later one, so
they cannot deadlock one another.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from orderly.modules.inventory.application.commands import (
    AdjustStock,
    ChangeWarehouse,
    ConfirmReservation,
    CreateWarehouse,
    ExpireDueReservations,
    ReleaseReservation,
    ReserveStock,
)
from orderly.modules.inventory.application.ports import InventoryUnitOfWork, LockedStock
from orderly.modules.inventory.application.retry import RetryPolicy
from orderly.modules.inventory.domain.errors import (
    DuplicateWarehouse,
    ReferenceReused,
    ReservationNotFound,
    UnknownSku,
    UnknownWarehouse,
    WarehouseNotFound,
)
from orderly.modules.inventory.domain.model import StockItem
from orderly.modules.inventory.domain.reservation import Reservation, ReservationStatus, validate_request
from orderly.modules.inventory.domain.stock import AdjustmentReason, Movement, SkuStock, Totals
from orderly.modules.inventory.domain.warehouse import Warehouse

UowFactory = Callable[[], InventoryUnitOfWork]


async def register_skus(*, product_id: uuid.UUID, skus: Sequence[str], uow: InventoryUnitOfWork) -> int:
    """Start tracking the SKUs of a new product. Runs inside the caller's unit of
    work (a consumer's, with its inbox); SKUs already tracked are left alone."""
    known = await uow.stock_items.existing(list(skus))
    new = [sku for sku in skus if sku not in known]
    for sku in new:
        await uow.stock_items.add(StockItem.register(sku=sku, product_id=product_id))
    return len(new)


async def create_warehouse(command: CreateWarehouse, *, uow: InventoryUnitOfWork) -> Warehouse:
    warehouse = Warehouse.create(
        code=command.code, name=command.name, priority=command.priority, active=command.active
    )
    async with uow:
        if not await uow.warehouses.add(warehouse):
            raise DuplicateWarehouse(warehouse.code)
        await uow.commit()
    return warehouse


async def change_warehouse(
    command: ChangeWarehouse, *, uow_factory: UowFactory, retry: RetryPolicy
) -> Warehouse:
    """Rename, re-rank, or (de)activate a warehouse, if it is still at the version the caller saw.

    (De)activating changes which stock is available, so it also restates the
    totals of every SKU with stock there (``StockLevelChanged``, in this
    transaction). It must not race with a reservation: once the deactivation
    has committed, no reservation may allocate from the warehouse. Reservations
    read ``warehouses.active`` in the statement that loads their levels, after
    their SKU locks are granted. So this takes, after the warehouse row, the
    lock of every SKU with a level in the warehouse: a reservation holding one
    of them commits before the flag can change, and one that locks the SKU
    later waits for this commit and reads the new flag. A new level cannot
    slip past the list of SKUs: adjustments (the only writes that create
    levels) hold the warehouse ``FOR SHARE``, which this ``FOR NO KEY UPDATE``
    waits for, so their levels are committed before the list is read.

    The cost is on this rare staff operation, not on the hot path: reservations
    take no warehouse lock at all (docs/adr/0010).
    """

    async def attempt() -> Warehouse:
        async with uow_factory() as uow:
            warehouse = await uow.warehouses.get(command.code, lock="update")
            if warehouse is None:
                raise WarehouseNotFound(command.code)
            warehouse.ensure_version(command.expected_version)
            was_active = warehouse.active
            if not warehouse.change(name=command.name, priority=command.priority, active=command.active):
                return warehouse
            if warehouse.active != was_active:
                locked = await uow.stock.lock(await uow.stock.skus_in(warehouse.code))
                for stock in locked.stocks.values():
                    stock.warehouse_changed(warehouse.ref())
            await uow.warehouses.save(warehouse)
            await uow.commit()
            return warehouse

    return await retry.run(attempt, name="change_warehouse")


@dataclass(frozen=True)
class Adjusted:
    movement: Movement
    totals: Totals


async def adjust_stock(command: AdjustStock, *, uow_factory: UowFactory, retry: RetryPolicy) -> Adjusted:
    async def attempt() -> Adjusted:
        async with uow_factory() as uow:
            # FOR SHARE: the warehouse cannot be (de)activated until this commits,
            # so a level created here is one the (de)activation will see.
            warehouse = await uow.warehouses.get(command.warehouse, lock="share")
            if warehouse is None:
                raise UnknownWarehouse(command.warehouse)
            stock = _require(await uow.stock.lock([command.sku]), [command.sku], field="sku")[command.sku]
            movement = stock.adjust(
                warehouse=warehouse.ref(), delta=command.delta, reason=command.reason, note=command.note
            )
            await uow.stock.save([stock])
            await uow.commit()
            return Adjusted(movement=movement, totals=stock.totals())

    return await retry.run(attempt, name="adjust_stock")


async def reserve_stock(command: ReserveStock, *, uow_factory: UowFactory, retry: RetryPolicy) -> Reservation:
    """Reserve every line or none. The same reference again returns the first
    outcome (reserved or rejected) and changes nothing."""
    validate_request(reference=command.reference, lines=command.lines, ttl=command.ttl)
    skus = [line.sku for line in command.lines]

    async def attempt() -> Reservation:
        async with uow_factory() as uow:
            await uow.reservations.lock_reference(command.reference)
            locked = await uow.stock.lock(skus)
            stocks = _require(locked, skus, field="lines.{index}.sku")
            reservation = Reservation.place(
                reference=command.reference,
                lines=command.lines,
                ttl=command.ttl,
                stocks=stocks,
                now=locked.as_of,
            )
            if not await uow.reservations.add(reservation):
                # Leaving without commit drops the in-memory holds.
                return await _replay(uow, command)
            await uow.stock.save(stocks.values())
            await uow.commit()
            return reservation

    return await retry.run(attempt, name="reserve_stock")


async def confirm_reservation(
    command: ConfirmReservation, *, uow_factory: UowFactory, retry: RetryPolicy
) -> Reservation:
    """Turn held stock into a deduction. Idempotent; refused once released or expired."""

    async def attempt() -> Reservation:
        async with uow_factory() as uow:
            reservation = await _locked_reservation(uow, command.reference)
            locked = await _lock_held_stock(uow, reservation)
            if reservation.confirm(locked.stocks, now=locked.as_of):
                await uow.stock.save(locked.stocks.values())
                await uow.reservations.save([reservation])
                await uow.commit()
            return reservation

    return await retry.run(attempt, name="confirm_reservation")


async def release_reservation(
    command: ReleaseReservation, *, uow_factory: UowFactory, retry: RetryPolicy
) -> Reservation:
    """Give held stock back. Idempotent (also after expiry); refused once confirmed."""

    async def attempt() -> Reservation:
        async with uow_factory() as uow:
            reservation = await _locked_reservation(uow, command.reference)
            locked = await _lock_held_stock(uow, reservation)
            if reservation.release(locked.stocks, now=locked.as_of):
                await uow.stock.save(locked.stocks.values())
                await uow.reservations.save([reservation])
                await uow.commit()
            return reservation

    return await retry.run(attempt, name="release_reservation")


async def expire_due_reservations(
    command: ExpireDueReservations,
    *,
    uow_factory: UowFactory,
    retry: RetryPolicy,
    now: datetime | None = None,
) -> int:
    """Release one batch of reservations whose time ran out; returns how many.

    Several sweepers may run at once: each claims rows with SKIP LOCKED, so a
    reservation is expired by exactly one of them. ``now`` overrides the
    database clock (tests travel in time with it).
    """

    async def attempt() -> int:
        async with uow_factory() as uow:
            due = await uow.reservations.claim_due(limit=command.batch_size, now=now)
            if not due:
                return 0
            locked = await uow.stock.lock(sorted({sku for r in due for sku in r.skus}))
            moment = max(locked.as_of, now) if now is not None else locked.as_of
            expired = [r for r in due if r.expire(locked.stocks, now=moment)]
            await uow.stock.save(locked.stocks.values())
            await uow.reservations.save(expired)
            await uow.commit()
            return len(expired)

    return await retry.run(attempt, name="expire_due_reservations")


async def _replay(uow: InventoryUnitOfWork, command: ReserveStock) -> Reservation:
    existing = await uow.reservations.get(command.reference)
    if existing is None:  # pragma: no cover - the insert just found it
        raise ReservationNotFound(command.reference)
    if not existing.same_request(command.lines):
        raise ReferenceReused(command.reference)
    return existing


async def _locked_reservation(uow: InventoryUnitOfWork, reference: str) -> Reservation:
    reservation = await uow.reservations.get(reference, for_update=True)
    if reservation is None:
        raise ReservationNotFound(reference)
    return reservation


async def _lock_held_stock(uow: InventoryUnitOfWork, reservation: Reservation) -> LockedStock:
    # Only an active reservation changes stock; the others answer without the SKU locks.
    return await uow.stock.lock(reservation.skus if reservation.holds_stock else [])


def _require(locked: LockedStock, skus: Sequence[str], *, field: str) -> dict[str, SkuStock]:
    for index, sku in enumerate(skus):
        if sku not in locked.stocks:
            raise UnknownSku(sku, field=field.format(index=index))
    return locked.stocks


async def restock_cancelled_order(
    *, reference: str, lines: Sequence[tuple[str, int]], note: str, uow: InventoryUnitOfWork
) -> int:
    """Put back the stock a confirmed reservation deducted, for an order cancelled
    before it shipped. Runs inside the caller's unit of work (a consumer's, with
    its inbox, so a redelivery restocks once). Units go back to the warehouses
    they were taken from, never more than were taken; returns the units restocked.
    """
    reservation = await uow.reservations.get(reference, for_update=True)
    if reservation is None or reservation.status is not ReservationStatus.CONFIRMED:
        return 0
    wanted = {sku: quantity for sku, quantity in lines if quantity > 0}
    if not wanted:
        return 0
    # Warehouses before SKUs (the lock order), held as an adjustment holds them.
    warehouses: dict[str, Warehouse] = {}
    for code in sorted({a.warehouse for a in reservation.allocations if a.sku in wanted}):
        if (warehouse := await uow.warehouses.get(code, lock="share")) is not None:
            warehouses[code] = warehouse
    stocks = (await uow.stock.lock(sorted(wanted))).stocks
    restocked = 0
    for allocation in reservation.allocations:
        left = wanted.get(allocation.sku, 0)
        stock = stocks.get(allocation.sku)
        warehouse = warehouses.get(allocation.warehouse)
        if left <= 0 or stock is None or warehouse is None:
            continue
        quantity = min(left, allocation.quantity)
        stock.adjust(warehouse=warehouse.ref(), delta=quantity, reason=AdjustmentReason.RETURNED, note=note)
        wanted[allocation.sku] = left - quantity
        restocked += quantity
    await uow.stock.save(stocks.values())
    return restocked
