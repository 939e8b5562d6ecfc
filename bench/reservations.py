"""Reservation throughput: the inventory facade against the same SQL driven by pgbench.

What it measures, in one run (about 45-60 s on a 2-core machine):

* ``facade``: ``InventoryApi.reserve`` (one line of one unit) from N concurrent
  asyncio tasks for ``--seconds``, after a warm-up. Python, SQLAlchemy, asyncpg,
  the domain model and the unit of work are all in the path.
* ``pgbench``: the same transaction, statement for statement (reference lock,
  SKU lock, level read, reservation and allocation inserts, conditional level
  update, movement insert, outbox commit locks and two outbox rows), written to
  a script file and run with ``pgbench -n -c 8 -j 2 -T 10``. It is the ceiling:
  what PostgreSQL on this machine does with that transaction and no Python.

Two scenarios each: no contention (a random SKU out of --skus per
reservation) and a single hot SKU (every reservation locks the same row).
The database is seeded first with realistic volumes (SKUs with levels in
several warehouses, a history of closed reservations, movements and
published outbox rows) and ANALYZEd, so plans are the ones production gets.

Run: ``uv run python bench/reservations.py`` (PostgreSQL on 127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
import zlib
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from harness import Figures, admin, figures, local_only, run_pgbench, scratch_database_url
from orderly.modules.inventory.api import ReservationLine
from orderly.modules.inventory.module import InventoryModule
from orderly.platform import migrations
from orderly.platform.db import create_engine
from orderly.platform.messaging.inprocess import InProcessBus
from orderly.platform.modules import ModuleContext
from orderly.platform.redis import create_redis
from orderly.platform.settings import Settings

HOT_SKU = "SKU-000001"
STOCK_PER_LEVEL = 50_000_000


def sku_name(n: int) -> str:
    return f"SKU-{n:06d}"


# --- the bench database -----------------------------------------------------------------------


async def seed(engine: AsyncEngine, *, skus: int, history: int) -> None:
    """Catalogue-sized data: every SKU stocked in one to three warehouses, plus a closed past."""
    statements = [
        "INSERT INTO inventory.warehouses (code, name, priority, active, created_at) VALUES "
        "('W1', 'Main', 0, true, now()), "
        "('W2', 'North', 1, true, now()), ('W3', 'South', 1, true, now()), ('W4', 'Closed', 0, false, now())",
        "INSERT INTO inventory.stock_items SELECT 'SKU-' || lpad(n::text, 6, '0'), gen_random_uuid(), 1, "
        f"now() FROM generate_series(1, {skus}) AS n",
        f"INSERT INTO inventory.stock_levels SELECT sku, 'W1', {STOCK_PER_LEVEL}, 0, now() "
        "FROM inventory.stock_items",
        "INSERT INTO inventory.stock_levels SELECT sku, 'W2', 500, 0, now() FROM inventory.stock_items "
        "WHERE right(sku, 1) IN ('1', '4', '7')",
        "INSERT INTO inventory.stock_levels SELECT sku, 'W3', 200, 0, now() FROM inventory.stock_items "
        "WHERE right(sku, 1) IN ('2', '5')",
        f"INSERT INTO inventory.reservations SELECT gen_random_uuid(), 'past-' || n, "
        f"CASE WHEN n % 3 = 0 THEN 'expired' ELSE 'confirmed' END, "
        f"jsonb_build_array(jsonb_build_object('sku', 'SKU-' || lpad((n % {skus} + 1)::text, 6, '0'), "
        f"'quantity', 1)), '[]'::jsonb, now() - interval '2 days', now() - interval '1 day', "
        f"now() - interval '1 day', 2 FROM generate_series(1, {history}) AS n",
        "INSERT INTO inventory.reservation_allocations SELECT id, lines->0->>'sku', 'W1', 1 "
        "FROM inventory.reservations",
        f"INSERT INTO inventory.stock_movements SELECT gen_random_uuid(), "
        f"'SKU-' || lpad((n % {skus} + 1)::text, 6, '0'), 'W1', 'reservation', NULL, 0, 1, "
        f"{STOCK_PER_LEVEL}, 1, 'past-' || n, NULL, now() - interval '2 days' "
        f"FROM generate_series(1, {history * 2}) AS n",
        "INSERT INTO inventory.outbox (event_id, event_type, aggregate_type, aggregate_id, partition, "
        "payload, occurred_at, published_at) "
        "SELECT gen_random_uuid(), 'inventory.stock_level_changed.v1', 'sku', "
        f"'SKU-' || lpad((n % {skus} + 1)::text, 6, '0'), n % 16, '{{}}'::jsonb, now() - interval '2 days', "
        f"now() - interval '2 days' FROM generate_series(1, {history * 2}) AS n",
    ]
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))


# --- through the facade ------------------------------------------------------------------------


async def drive_facade(
    module: InventoryModule,
    *,
    name: str,
    pick_sku: random.Random | None,
    skus: int,
    tasks: int,
    seconds: float,
) -> Figures:
    """N tasks reserving back to back; ``pick_sku=None`` means everyone wants the hot SKU."""
    facade = module.facade()
    latencies: list[float] = []
    errors = 0
    run = uuid.uuid4().hex[:6]

    async def worker(worker_id: int, until: float, record: bool) -> None:
        nonlocal errors
        n = 0
        while time.perf_counter() < until:
            sku = HOT_SKU if pick_sku is None else sku_name(pick_sku.randint(1, skus))
            n += 1
            started = time.perf_counter()
            try:
                result = await facade.reserve(
                    f"{name}-{run}-{worker_id}-{n}-{int(record)}",
                    [ReservationLine(sku, 1)],
                    timedelta(minutes=15),
                )
                if result.status != "active":
                    errors += 1
            except Exception:
                errors += 1
            if record:
                latencies.append(time.perf_counter() - started)

    warm_until = time.perf_counter() + 1.0
    await asyncio.gather(*(worker(i, warm_until, False) for i in range(tasks)))
    errors = 0
    started = time.perf_counter()
    await asyncio.gather(*(worker(i, started + seconds, True) for i in range(tasks)))
    elapsed = time.perf_counter() - started
    return figures(f"facade, {tasks} tasks", latencies, elapsed, errors)


# --- through pgbench ---------------------------------------------------------------------------


def pgbench_script(*, hot: bool, skus: int) -> str:
    """The facade's reservation transaction as plain SQL (captured from the app, then parameterised)."""
    sku = f"'{HOT_SKU}'" if hot else "'SKU-' || lpad(:n::text, 6, '0')"
    ref = "'pgb-' || :client_id || '-' || :r"
    reference_lock = zlib.crc32(b"orderly.inventory.reservation-reference") & 0x7FFFFFFF
    commit_lock = _int4(zlib.crc32(b"orderly.outbox.commit:inventory.outbox"))
    reserved_payload = (
        f"jsonb_build_object('reference', {ref}, 'lines', jsonb_build_array(jsonb_build_object('sku', {sku}, "
        f"'quantity', 1)), 'allocations', jsonb_build_array(jsonb_build_object('sku', {sku}, 'warehouse', "
        f"':lv_warehouse_code', 'quantity', 1)), 'expires_at', now() + interval '15 minutes')"
    )
    changed_payload = (
        f"jsonb_build_object('sku', {sku}, 'on_hand', :lv_on_hand, 'reserved', :lv_reserved + 1, "
        f"'available', :lv_on_hand - :lv_reserved - 1)"
    )
    statements = [
        f"\\set n random(1, {skus})",
        "\\set r random(1, 2000000000)",
        "BEGIN ISOLATION LEVEL READ COMMITTED;",
        f"SELECT pg_advisory_xact_lock({reference_lock}, hashtext({ref}));",
        f"SELECT sku FROM inventory.stock_items WHERE sku = ANY (ARRAY[{sku}]) ORDER BY sku FOR UPDATE;",
        # The app reads every level and lets the policy choose; one row (the policy's
        # first choice) is what pgbench can carry into the next statements.
        "SELECT clock.as_of, l.sku, l.warehouse_code, l.on_hand, l.reserved, w.priority, w.active "
        "FROM (SELECT statement_timestamp() AS as_of) AS clock LEFT OUTER JOIN (inventory.stock_levels AS l "
        "JOIN inventory.warehouses AS w ON w.code = l.warehouse_code) "
        f"ON l.sku = ANY (ARRAY[{sku}]) ORDER BY w.priority, l.on_hand - l.reserved DESC LIMIT 1 \\gset lv_",
        "INSERT INTO inventory.reservations "
        "(id, reference, status, lines, shortfalls, created_at, expires_at, closed_at, version) "
        f"VALUES (gen_random_uuid(), {ref}, 'active', "
        f"jsonb_build_array(jsonb_build_object('sku', {sku}, 'quantity', 1)), '[]'::jsonb, now(), "
        "now() + interval '15 minutes', NULL, 1) ON CONFLICT (reference) DO NOTHING "
        "RETURNING id AS res_id \\gset",
        "INSERT INTO inventory.reservation_allocations (reservation_id, sku, warehouse_code, quantity) "
        f"VALUES (':res_id'::uuid, {sku}, ':lv_warehouse_code', 1);",
        "UPDATE inventory.stock_levels SET on_hand = stock_levels.on_hand + change.d_on_hand, "
        "reserved = stock_levels.reserved + change.d_reserved, updated_at = now() "
        f"FROM unnest(ARRAY[{sku}]::varchar[], ARRAY[':lv_warehouse_code']::varchar[], ARRAY[0], ARRAY[1]) "
        "AS change(sku, warehouse_code, d_on_hand, d_reserved) "
        "WHERE stock_levels.sku = change.sku AND stock_levels.warehouse_code = change.warehouse_code "
        "AND stock_levels.reserved + change.d_reserved >= 0 "
        "AND stock_levels.on_hand + change.d_on_hand >= stock_levels.reserved + change.d_reserved "
        "RETURNING stock_levels.sku, stock_levels.warehouse_code, stock_levels.on_hand, "
        "stock_levels.reserved;",
        "INSERT INTO inventory.stock_movements (id, sku, warehouse_code, kind, reason, on_hand_delta, "
        "reserved_delta, on_hand_after, reserved_after, reference, note, occurred_at) "
        f"VALUES (gen_random_uuid(), {sku}, ':lv_warehouse_code', 'reservation', NULL, 0, 1, :lv_on_hand, "
        f":lv_reserved + 1, {ref}, NULL, now());",
        f"SELECT count(pg_advisory_xact_lock({commit_lock}, key)) "
        f"FROM unnest(ARRAY[hashtext({sku}), hashtext({ref})]) AS key;",
        "INSERT INTO inventory.outbox (event_id, event_type, aggregate_type, aggregate_id, partition, "
        "payload, headers, occurred_at) VALUES "
        f"(gen_random_uuid(), 'inventory.stock_level_changed.v1', 'sku', {sku}, 4, {changed_payload}, "
        "'{}'::jsonb, now()), "
        f"(gen_random_uuid(), 'inventory.stock_reserved.v1', 'reservation', {ref}, 7, {reserved_payload}, "
        "'{}'::jsonb, now());",
        "COMMIT;",
    ]
    return "\n".join(statements) + "\n"


def _int4(value: int) -> int:
    return value - 2**32 if value >= 2**31 else value


# --- the run -----------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    local_only()
    database = f"orderly_bench_reservations_{os.getpid()}"
    url = scratch_database_url(database)
    await admin(f'CREATE DATABASE "{database}"')
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        settings = Settings(database_url=url, log_level="WARNING", db_pool_overflow=0)
        engine = create_engine(settings, url, pool_size=args.tasks)
        seeded = time.perf_counter()
        await seed(engine, skus=args.skus, history=args.history)
        took = time.perf_counter() - seeded
        print(f"seeded {args.skus} SKUs and {args.history} past reservations in {took:.1f}s")
        module = InventoryModule(
            ModuleContext(settings=settings, engine=engine, bus=InProcessBus(), redis=create_redis(None))
        )
        rows: list[tuple[str, Figures, Figures]] = []
        for scenario, hot in (("no contention", False), ("one hot SKU", True)):
            facade = await drive_facade(
                module,
                name="hot" if hot else "spread",
                pick_sku=None if hot else random.Random(1),
                skus=args.skus,
                tasks=args.tasks,
                seconds=args.seconds,
            )
            # pgbench's client is not pinned: the facade's driver is not either.
            baseline = await asyncio.to_thread(
                run_pgbench,
                "pgbench, 8 clients",
                url,
                pgbench_script(hot=hot, skus=args.skus),
                seconds=args.pgbench_seconds,
                clients=8,
                cpu=None,
            )
            rows.append((scenario, facade, baseline))
        await engine.dispose()
        report(rows)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def report(rows: list[tuple[str, Figures, Figures]]) -> None:
    header = f"{'scenario':<15}{'driver':<20}{'res/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'n':>8}{'errors':>8}"
    print()
    print(header)
    print("-" * len(header))
    for scenario, facade, baseline in rows:
        for row in (facade, baseline):
            print(
                f"{scenario:<15}{row.name:<20}{row.rate:>9.0f}{row.p50_ms:>9.2f}"
                f"{row.p99_ms:>9.2f}{row.count:>8}{row.errors:>8}"
            )
        print(
            f"{scenario:<15}{'ratio facade/pgbench':<20}{facade.rate / baseline.rate:>9.2f}"
            f"{facade.p50_ms / baseline.p50_ms:>9.2f}{facade.p99_ms / baseline.p99_ms:>9.2f}"
        )
    print()
    print("Ratios below 1 for throughput (above 1 for latency) are the cost of Python and the app's layers;")
    print("differences under ~25 % between runs are noise on a shared 2-core machine.")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tasks", type=int, default=8, help="concurrent facade tasks (pgbench uses 8 clients)"
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per facade scenario")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--history", type=int, default=100_000, help="closed reservations seeded beforehand")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
