"""Loads and saves stock and warehouses, taking the SKU locks ADR 0010 describes; the unit of work."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import (
    Integer,
    String,
    any_,
    bindparam,
    column,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly.modules.inventory.adapters.reservations import SqlReservationRepository
from orderly.modules.inventory.adapters.tables import (
    stock_items,
    stock_levels,
    stock_movements,
    warehouses,
)
from orderly.modules.inventory.application.ports import LockedStock, WarehouseLock
from orderly.modules.inventory.domain.model import StockItem
from orderly.modules.inventory.domain.stock import Movement, SkuStock, StockInvariantViolated, StockLevel
from orderly.modules.inventory.domain.warehouse import Warehouse
from orderly.platform.uow import SqlUnitOfWork
from orderly.shared_kernel.errors import ConcurrencyConflict

# PostgreSQL reports a lost race with these SQLSTATEs; the whole transaction may be retried.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})


_SKUS = bindparam("skus", type_=ARRAY(String))


def is_transient_db_error(exc: BaseException) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    return getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES


class SqlStockItemRepository:
    def __init__(self, connection: AsyncConnection, uow: SqlUnitOfWork) -> None:
        self._connection = connection
        self._uow = uow

    async def add(self, item: StockItem) -> None:
        self._uow.track(item)
        await self._connection.execute(
            insert(stock_items).values(
                sku=item.sku,
                product_id=item.product_id,
                version=item.version,
                registered_at=item.registered_at,
            )
        )

    async def existing(self, skus: list[str]) -> set[str]:
        if not skus:
            return set()
        rows = await self._connection.scalars(select(stock_items.c.sku).where(stock_items.c.sku.in_(skus)))
        return set(rows)


class SqlWarehouseRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._loaded_versions: dict[str, int] = {}

    async def add(self, warehouse: Warehouse) -> bool:
        inserted = await self._connection.scalar(
            pg_insert(warehouses)
            .values(
                code=warehouse.code,
                name=warehouse.name,
                priority=warehouse.priority,
                active=warehouse.active,
                created_at=warehouse.created_at,
                version=warehouse.version,
            )
            .on_conflict_do_nothing(index_elements=[warehouses.c.code])
            .returning(warehouses.c.code)
        )
        return inserted is not None

    async def get(self, code: str, *, lock: WarehouseLock | None = None) -> Warehouse | None:
        query = select(warehouses).where(warehouses.c.code == code)
        if lock == "share":
            query = query.with_for_update(read=True)
        elif lock == "update":
            # NO KEY UPDATE, not UPDATE: the foreign key check of a stock level
            # inserted into this warehouse takes KEY SHARE on the row, and must not
            # wait for this lock while its transaction holds a SKU lock we want.
            query = query.with_for_update(key_share=True)
        row = (await self._connection.execute(query)).one_or_none()
        if row is None:
            return None
        self._loaded_versions[row.code] = row.version
        return Warehouse(
            code=row.code,
            name=row.name,
            priority=row.priority,
            active=row.active,
            created_at=row.created_at,
            version=row.version,
        )

    async def save(self, warehouse: Warehouse) -> None:
        loaded = self._loaded_versions[warehouse.code]
        updated = await self._connection.scalar(
            update(warehouses)
            .where(warehouses.c.code == warehouse.code, warehouses.c.version == loaded)
            .values(
                name=warehouse.name,
                priority=warehouse.priority,
                active=warehouse.active,
                version=warehouse.version,
            )
            .returning(warehouses.c.version)
        )
        if updated is None:
            # The row is held FOR NO KEY UPDATE since get(): only a writer that
            # skipped the lock gets here; refuse rather than overwrite it.
            raise ConcurrencyConflict(f"warehouse '{warehouse.code}' changed underneath its lock")
        self._loaded_versions[warehouse.code] = warehouse.version


class SqlStockRepository:
    def __init__(self, connection: AsyncConnection, uow: SqlUnitOfWork) -> None:
        self._connection = connection
        self._uow = uow

    async def lock(self, skus: Sequence[str]) -> LockedStock:
        wanted = sorted(set(skus))
        known: list[str] = []
        if wanted:
            # The SKU's registry row is its lock; sorted so that two transactions
            # wanting overlapping SKUs queue up instead of deadlocking.
            known = list(
                await self._connection.scalars(
                    select(stock_items.c.sku)
                    .where(stock_items.c.sku == any_(_SKUS))
                    .order_by(stock_items.c.sku)
                    .with_for_update(),
                    {"skus": wanted},
                )
            )
        # A separate statement, so its snapshot is taken after the locks are
        # granted: it sees every change committed by the previous lock holder.
        clock = select(func.statement_timestamp().label("as_of")).subquery("clock")
        levels = stock_levels.join(warehouses, warehouses.c.code == stock_levels.c.warehouse_code)
        rows = (
            await self._connection.execute(
                select(
                    clock.c.as_of,
                    stock_levels.c.sku,
                    stock_levels.c.warehouse_code,
                    stock_levels.c.on_hand,
                    stock_levels.c.reserved,
                    warehouses.c.priority,
                    warehouses.c.active,
                ).select_from(
                    clock.outerjoin(levels, stock_levels.c.sku == any_(_SKUS) if known else ~true())
                ),
                {"skus": known} if known else {},
            )
        ).all()
        as_of: datetime = rows[0].as_of
        by_sku: dict[str, list[StockLevel]] = defaultdict(list)
        for row in rows:
            if row.sku is not None:
                by_sku[row.sku].append(
                    StockLevel(
                        warehouse=row.warehouse_code,
                        priority=row.priority,
                        active=row.active,
                        on_hand=row.on_hand,
                        reserved=row.reserved,
                    )
                )
        stocks = {sku: SkuStock(sku=sku, levels=by_sku.get(sku, ()), as_of=as_of) for sku in known}
        for stock in stocks.values():
            self._uow.track(stock)
        return LockedStock(as_of=as_of, stocks=stocks)

    async def skus_in(self, warehouse: str) -> list[str]:
        return list(
            await self._connection.scalars(
                select(stock_levels.c.sku)
                .where(stock_levels.c.warehouse_code == warehouse)
                .order_by(stock_levels.c.sku)
            )
        )

    async def save(self, stocks: Iterable[SkuStock]) -> None:
        changes = [(stock, stock.take_changes()) for stock in stocks]
        created = [(stock, level) for stock, change in changes for level in change.created]
        if created:
            await self._connection.execute(
                insert(stock_levels),
                [
                    {
                        "sku": stock.sku,
                        "warehouse_code": level.warehouse,
                        "on_hand": 0,
                        "reserved": 0,
                        "updated_at": stock.as_of,
                    }
                    for stock, level in created
                ],
            )
        movements = [m for _, change in changes for m in change.movements]
        if not movements:
            return
        deltas: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for m in movements:
            deltas[(m.sku, m.warehouse)][0] += m.on_hand_delta
            deltas[(m.sku, m.warehouse)][1] += m.reserved_delta
        expected = {
            (stock.sku, level.warehouse): (level.on_hand, level.reserved)
            for stock, change in changes
            for level in change.levels
        }
        applied = await self._apply_deltas(deltas)
        if applied != expected:
            raise StockInvariantViolated(
                f"stock levels diverged from the locked state: {applied} != {expected}"
            )
        await self._connection.execute(insert(stock_movements), [_movement_row(m) for m in movements])

    async def _apply_deltas(
        self, deltas: dict[tuple[str, str], list[int]]
    ) -> dict[tuple[str, str], tuple[int, int]]:
        keys = sorted(deltas)
        change = (
            func.unnest(
                bindparam("c_sku", type_=ARRAY(String)),
                bindparam("c_warehouse", type_=ARRAY(String)),
                bindparam("c_on_hand", type_=ARRAY(Integer)),
                bindparam("c_reserved", type_=ARRAY(Integer)),
            )
            .table_valued(
                column("sku", String),
                column("warehouse_code", String),
                column("d_on_hand", Integer),
                column("d_reserved", Integer),
            )
            .render_derived(name="change")
        )
        level = stock_levels.c
        # Relative and conditional: even without the SKU lock this could never
        # produce a level the CHECK constraints would refuse.
        rows = await self._connection.execute(
            update(stock_levels)
            .values(
                on_hand=level.on_hand + change.c.d_on_hand,
                reserved=level.reserved + change.c.d_reserved,
                updated_at=func.now(),
            )
            .where(
                level.sku == change.c.sku,
                level.warehouse_code == change.c.warehouse_code,
                level.reserved + change.c.d_reserved >= 0,
                level.on_hand + change.c.d_on_hand >= level.reserved + change.c.d_reserved,
            )
            .returning(level.sku, level.warehouse_code, level.on_hand, level.reserved),
            {
                "c_sku": [k[0] for k in keys],
                "c_warehouse": [k[1] for k in keys],
                "c_on_hand": [deltas[k][0] for k in keys],
                "c_reserved": [deltas[k][1] for k in keys],
            },
        )
        return {(r.sku, r.warehouse_code): (r.on_hand, r.reserved) for r in rows}


def _movement_row(m: Movement) -> dict[str, object]:
    return {
        "id": m.id,
        "sku": m.sku,
        "warehouse_code": m.warehouse,
        "kind": m.kind.value,
        "reason": m.reason.value if m.reason is not None else None,
        "on_hand_delta": m.on_hand_delta,
        "reserved_delta": m.reserved_delta,
        "on_hand_after": m.on_hand_after,
        "reserved_after": m.reserved_after,
        "reference": m.reference,
        "note": m.note,
        "occurred_at": m.occurred_at,
    }


class InventorySqlUnitOfWork(SqlUnitOfWork):
    stock_items: SqlStockItemRepository
    warehouses: SqlWarehouseRepository
    stock: SqlStockRepository
    reservations: SqlReservationRepository

    def _open(self, connection: AsyncConnection) -> None:
        self.stock_items = SqlStockItemRepository(connection, self)
        self.warehouses = SqlWarehouseRepository(connection)
        self.stock = SqlStockRepository(connection, self)
        self.reservations = SqlReservationRepository(connection, self)
