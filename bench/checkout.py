"""Checkout: intake (POST /v1/checkouts) and end-to-end order confirmation, each as a ratio to
the same database work driven directly by pgbench, in one run (about 60-90 s on 2 cores).

What runs:

* the app: ``uvicorn`` with one worker in a subprocess on 127.0.0.1, built by
  ``create_bench_app`` below (the production factory, every module, the real
  PostgreSQL; carts from an in-memory cart facade so Redis is not measured);
* ``intake``: the app without background work (no relay, no consumers), and
  ``wrk`` POSTing checkouts with a fresh Idempotency-Key each, 32 connections.
  Figures: requests/s of 201 answers and the p99 latency;
* ``end to end``: the app with its background work (relay, consumers, saga
  sweep, the embedded payment simulator: the one-process shape), and 8
  closed-loop clients, each placing an order and waiting until it is
  confirmed before the next, for ``--seconds``. Figures: orders confirmed per
  second, and the p99 of placed -> confirmed (from the order's own history:
  ``order_events``);
* ``pgbench``: the SQL of each, statement for statement as the app issues it
  (captured from a run with an SQLAlchemy statement hook, then parameterised):
  the intake is the idempotency claim, the price, availability and
  not-yet-reserved reads, the order transaction and the stored answer; the end
  to end adds the saga's transactions (four steps and two payment events in
  ordering, reserve and confirm in inventory, the payment's rows, the relay
  marking outbox rows, the inbox rows and projections of catalog and
  fulfilment). No provider call, no Python: the database ceiling.

The data: 100 SKUs with a million units each, seeded through the app's own
endpoints, 200 orders taken through the saga, 50,000 closed orders written
straight into the tables (history for the planner), then ANALYZE.

Run: ``uv run python bench/checkout.py [--seconds 12]`` (PostgreSQL on 127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from harness import (
    Figures,
    admin,
    figures,
    free_port,
    local_only,
    run_pgbench,
    run_wrk,
    scratch_database_url,
    start_app,
    wait_ready,
)
from orderly.platform.db import async_url

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the repository root: tests.* for seeding

SKUS = 100
UNITS = 1_000_000
WARM_ORDERS = 200
# Closed orders written straight into the tables, so plans are made on realistic sizes.
HISTORY_ORDERS = 50_000
INTAKE_CONNECTIONS = 32
E2E_CLIENTS = 8
ADDRESS = {
    "recipient": "Ada Lovelace",
    "line1": "Unter den Linden 1",
    "city": "Berlin",
    "postal_code": "10117",
    "country": "DE",
}


def sku(n: int) -> str:
    return f"CHK-{n:04d}"


# -- the app under test ---------------------------------------------------------------------------


class BenchCarts:
    """Cart ``cart-<n>`` holds one unit of SKU n; carts never change."""

    async def snapshot(self, cart_id: str) -> object:
        from orderly.modules.cart.api import CartLine, CartNotFound, CartSnapshot

        try:
            n = int(cart_id.removeprefix("cart-"))
        except ValueError:
            raise CartNotFound("no cart with this id") from None
        return CartSnapshot(
            cart_id=cart_id, customer_id=None, currency="EUR", lines=(CartLine(sku(n), 1),), version=1
        )

    async def mark_checked_out(self, cart_id: str, *, order_id: uuid.UUID, version: int) -> None:
        return None


def create_bench_app() -> FastAPI:
    """The production app with every module; background work as ORDERLY_BENCH_BACKGROUND says."""
    from orderly.entrypoints.api import create_app
    from orderly.entrypoints.bootstrap import build_container
    from orderly.modules.cart.api import CartApi
    from orderly.modules.ordering.module import OrderingModule
    from orderly.platform.logging import configure_logging
    from orderly.platform.settings import load_settings

    settings = load_settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    assert settings.database_url is not None
    container = build_container(settings, database_url=settings.database_url)
    for module in container.modules:
        if isinstance(module, OrderingModule):
            carts: CartApi = BenchCarts()  # type: ignore[assignment]
            module.use_cart(carts)
    return create_app(container, run_background=os.environ.get("ORDERLY_BENCH_BACKGROUND") == "1")


def _start_server(url: str, port: int, *, background: bool) -> subprocess.Popen[bytes]:
    env = {
        "ORDERLY_DATABASE_URL": url,
        "ORDERLY_LOG_LEVEL": "WARNING",
        "ORDERLY_BENCH_BACKGROUND": "1" if background else "0",
        "ORDERLY_RELAY_POLL_INTERVAL_S": "0.05",
        "ORDERLY_DB_POOL_SIZE": "20",
        # One address places every order, far past a shopper's quota; and with no
        # Redis configured the limiter would run on the in-process stand-in, which
        # is not what production pays.
        "ORDERLY_RATE_LIMIT_ENABLED": "false",
    }
    return start_app("checkout:create_bench_app", port, env)


def _checkout_body(n: int) -> str:
    return json.dumps({"cart_id": f"cart-{n}", "email": "ada@example.com", "shipping_address": ADDRESS})


# -- figures -----------------------------------------------------------------------------------------


# -- seeding -------------------------------------------------------------------------------------------


async def _seed(url: str) -> None:
    """Products and stock through the app's own endpoints; then orders through the saga."""
    from tests.integration.ordering.support import shop

    from orderly.platform.db import create_engine
    from orderly.platform.settings import Settings

    settings = Settings(database_url=url, log_level="WARNING", log_json=False)
    engine = create_engine(settings, url, pool_size=4)
    try:
        async with shop(settings, url, engine, relay_poll_interval_s=0.05) as s:
            for n in range(SKUS):
                await s.product(sku(n), price="12.50", stock=UNITS)
            gate = asyncio.Semaphore(16)

            async def buy(i: int) -> None:
                async with gate:
                    response = await s.checkout(s.cart((sku(i % SKUS), 1)), key=f"warm-{i}")
                    assert response.status_code == 201, response.text

            await asyncio.gather(*(buy(i) for i in range(WARM_ORDERS)))
            from tests.reliability.ordering.support import settle

            await settle(engine, timeout_s=600)
        async with engine.begin() as conn:
            await conn.execute(text(HISTORY_SQL), {"n": HISTORY_ORDERS})
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


HISTORY_SQL = """
WITH made AS (
  INSERT INTO ordering.orders (id, checkout_reference, customer_id, email, cart_id, cart_version, currency,
    shipping_address, subtotal, shipping, tax_rate, tax, total, captured, status, status_reason, saga_step,
    saga_attempt, saga_deadline, compensation_stock, compensation_payment, stock_confirmed, fulfilment,
    fulfilment_started, guest_token_hash, placed_at, updated_at, expires_at, version)
  SELECT md5('h' || g)::uuid, md5('hk' || g), NULL, 'old@example.com', 'cart-0', 1, 'EUR',
    '{"recipient": "Old", "line1": "x", "city": "x", "postal_code": "1", "country": "DE"}'::jsonb,
    12.50, 4.90, 0.19, 3.31, 20.71, 20.71, 'delivered', NULL, 'done', 1, NULL, 'clear', 'clear', true,
    'delivered', true, NULL, now() - g * interval '1 minute', now() - g * interval '1 minute',
    now() - g * interval '1 minute', 6
  FROM generate_series(1, :n) AS g
  RETURNING id
), lines AS (
  INSERT INTO ordering.order_lines (order_id, position, sku, product_id, quantity, unit_price, line_total)
  SELECT id, 0, 'CHK-0000', gen_random_uuid(), 1, 12.50, 12.50 FROM made
)
INSERT INTO ordering.order_events (order_id, kind, status, data, occurred_at)
SELECT id, 'status_changed', 'delivered', '{"to": "delivered"}'::jsonb, now() FROM made
"""


RETIRE_PENDING = (
    "UPDATE ordering.orders SET saga_step = 'done', saga_deadline = NULL, status = 'expired'"
    " WHERE saga_step <> 'done'"
)


# -- intake through wrk ---------------------------------------------------------------------------------

WRK_SCRIPT = """
local threads = 0
setup = function(thread)
  -- Each thread's keys get their own prefix (the threads' random generators are seeded alike).
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
local prefix = ""
init = function(args)
  prefix = args[1] .. "-" .. tostring(tid)
end
request = function()
  n = n + 1
  local body = string.format(
    '{"cart_id": "cart-%d", "email": "ada@example.com", "shipping_address": {"recipient": "Ada Lovelace",'
    .. ' "line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"}}',
    n % %(skus)d)
  return wrk.format("POST", "/v1/checkouts",
    {["Content-Type"] = "application/json", ["Idempotency-Key"] = prefix .. "-" .. n}, body)
end
"""


def _wrk_intake(base: str, seconds: float) -> Figures:
    return run_wrk(
        "app: POST /v1/checkouts",
        base,
        WRK_SCRIPT.replace("%(skus)d", str(SKUS)),
        seconds=seconds,
        connections=INTAKE_CONNECTIONS,
        script_args=[f"wrk{uuid.uuid4().hex[:6]}"],
    )


async def _httpx_intake(base: str, seconds: float) -> Figures:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    stop = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:

        async def user() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                n = next(counter)
                started = time.perf_counter()
                response = await client.post(
                    "/v1/checkouts",
                    content=_checkout_body(n % SKUS),
                    headers={"Content-Type": "application/json", "Idempotency-Key": f"h-{uuid.uuid4()}"},
                )
                if response.status_code == 201:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        started = time.monotonic()
        await asyncio.gather(*(user() for _ in range(INTAKE_CONNECTIONS)))
        elapsed = time.monotonic() - started
    return figures("app: POST /v1/checkouts", latencies, elapsed, errors)


# -- end to end ------------------------------------------------------------------------------------------


async def _end_to_end(base: str, url: str, seconds: float) -> Figures:
    """Closed loop: each client places an order and waits until it is confirmed before the
    next, so the saga (not an ever-growing backlog) sets the pace. Latency and throughput
    come from the orders' own timestamps (placed_at, the 'confirmed' history entry)."""
    errors = 0
    counter = iter(range(10**9))
    waiting: dict[str, asyncio.Future[None]] = {}
    engine = create_async_engine(async_url(url))
    stop = time.monotonic() + seconds
    done = asyncio.Event()

    async def watch() -> None:
        # One poller for every client: cheaper for the app than each client asking it.
        async with engine.connect() as conn:
            while not done.is_set():
                if waiting:
                    rows = await conn.execute(
                        text(
                            "SELECT id::text FROM ordering.orders WHERE id::text = ANY(:ids) AND saga_step"
                            " = 'done'"
                        ),
                        {"ids": list(waiting)},
                    )
                    for (order_id,) in rows:
                        waiting.pop(order_id).set_result(None)
                    await conn.commit()
                await asyncio.sleep(0.02)

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def user() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                response = await client.post(
                    "/v1/checkouts",
                    content=_checkout_body(next(counter) % SKUS),
                    headers={"Content-Type": "application/json", "Idempotency-Key": f"e2e-{uuid.uuid4()}"},
                )
                if response.status_code != 201:
                    errors += 1
                    continue
                settled = asyncio.get_running_loop().create_future()
                waiting[response.json()["id"]] = settled
                await asyncio.wait_for(settled, timeout=60)

        started_at = await _db_now(url)
        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(user() for _ in range(E2E_CLIENTS)))
        ended_at = await _db_now(url)
        done.set()
        await watcher
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT o.placed_at, e.occurred_at FROM ordering.orders o JOIN ordering.order_events e"
                    " ON e.order_id = o.id AND e.kind = 'status_changed' AND e.data->>'to' = 'confirmed'"
                    " WHERE o.placed_at >= :t"
                ),
                {"t": started_at},
            )
        ).all()
    await engine.dispose()
    window = (ended_at - started_at).total_seconds()
    latencies = [(r.occurred_at - r.placed_at).total_seconds() for r in rows]
    return figures("app: placed -> confirmed", latencies, window, errors)


async def _db_now(url: str) -> datetime:
    engine = create_async_engine(async_url(url))
    async with engine.connect() as conn:
        now: datetime = await conn.scalar(text("SELECT now()"))
    await engine.dispose()
    return now


# -- the same SQL through pgbench ----------------------------------------------------------------------

# pgbench expressions for the identifiers of one execution (one order).
ORDER = "md5('o' || :client_id || '-' || :r)::uuid"
PAYMENT = "md5('p' || :client_id || '-' || :r)::uuid"
RESERVATION = "md5('v' || :client_id || '-' || :r)::uuid"
REF = "md5('o' || :client_id || '-' || :r)::uuid::text"
SKU = "'CHK-' || lpad(:c::text, 4, '0')"
ANSWER = "repeat('x', 1300)::bytea"


def _outbox(schema: str, event_type: str, aggregate: str, partition: int) -> str:
    return (
        f"INSERT INTO {schema}.outbox (event_id, event_type, aggregate_type, aggregate_id, partition,"
        " payload,"
        f" headers, occurred_at) VALUES (gen_random_uuid(), '{event_type}', 'order', {aggregate},"
        f" {partition},"
        f" jsonb_build_object('order_id', {REF}, 'step', 'x', 'attempt', 1, 'padding', repeat('p', 300)),"
        " '{}'::jsonb, now());"
    )


def _load_order(lock: bool) -> list[str]:
    suffix = " FOR UPDATE" if lock else ""
    return [
        f"SELECT * FROM ordering.orders WHERE id = {ORDER}{suffix};",
        f"SELECT * FROM ordering.order_lines WHERE order_id IN ({ORDER}) ORDER BY position;",
        f"SELECT * FROM ordering.order_refunds WHERE order_id IN ({ORDER}) ORDER BY requested_at, id;",
    ]


def _order_change(consumer: str, *, next_step: bool) -> list[str]:
    """One inbox-guarded change of the order (a saga step's record, or a payment event)."""
    statements = [
        "BEGIN;",
        f"INSERT INTO ordering.inbox (consumer, message_id) VALUES ('{consumer}', gen_random_uuid())"
        " ON CONFLICT DO NOTHING RETURNING message_id;",
        *_load_order(lock=True),
        f"UPDATE ordering.orders SET saga_attempt = 1, updated_at = now(), version = version + 1"
        f" WHERE id = {ORDER};",
        f"INSERT INTO ordering.order_events (order_id, kind, status, data, occurred_at) VALUES ({ORDER},"
        " 'saga_step', 'awaiting_payment', '{\"step\": \"x\", \"attempt\": 1}'::jsonb, now());",
    ]
    if next_step:
        statements += [
            f"SELECT count(pg_advisory_xact_lock(7, key)) FROM unnest(ARRAY[hashtext({REF})]) AS key;",
            _outbox("ordering", "ordering.saga_step_due.v1", REF, 4),
        ]
    return [*statements, "COMMIT;"]


def intake_sql() -> list[str]:
    return [
        f"\\set c random(0, {SKUS - 1})",
        "\\set r random(1, 2000000000)",
        "INSERT INTO platform.idempotency_keys (scope, key, fingerprint, request_method, request_path, state,"
        " lease_token, locked_until, attempts) VALUES ('anonymous', 'pgb-' || :client_id || '-' || :r,"
        " md5(:r::text), 'POST', '/v1/checkouts', 'in_flight', gen_random_uuid(), now() + interval '30 s', 1)"
        " ON CONFLICT (scope, key) DO NOTHING RETURNING attempts;",
        "SELECT v.sku, v.product_id, p.amount, p.currency, pr.status FROM catalog.variants v"
        " JOIN catalog.variant_prices p ON p.sku = v.sku AND p.currency = 'EUR'"
        f" JOIN catalog.products pr ON pr.id = v.product_id WHERE v.sku IN ({SKU});",
        "SELECT i.sku, coalesce(sum(l.on_hand), 0), coalesce(sum(l.reserved), 0),"
        " coalesce(sum(CASE WHEN w.active THEN l.on_hand - l.reserved ELSE 0 END), 0)"
        " FROM inventory.stock_items i LEFT JOIN inventory.stock_levels l ON l.sku = i.sku"
        f" LEFT JOIN inventory.warehouses w ON w.code = l.warehouse_code WHERE i.sku = ANY (ARRAY[{SKU}])"
        " GROUP BY i.sku;",
        "SELECT l.sku, sum(l.quantity) FROM ordering.order_lines l JOIN ordering.orders o ON o.id ="
        " l.order_id"
        f" WHERE o.status = 'pending' AND o.saga_step = 'reserve_stock' AND l.sku IN ({SKU}) GROUP BY l.sku;",
        "BEGIN;",
        "INSERT INTO ordering.orders (id, checkout_reference, customer_id, email, cart_id, cart_version,"
        " currency,"
        " shipping_address, subtotal, shipping, tax_rate, tax, total, captured, status, status_reason,"
        " saga_step,"
        " saga_attempt, saga_deadline, compensation_stock, compensation_payment, stock_confirmed, fulfilment,"
        " fulfilment_started, guest_token_hash, placed_at, updated_at, expires_at, version)"
        f" VALUES ({ORDER}, md5('k' || :client_id || '-' || :r), NULL, 'ada@example.com', 'cart-1', 1, 'EUR',"
        ' \'{"recipient": "Ada Lovelace", "line1": "Unter den Linden 1", "city": "Berlin",'
        ' "postal_code": "10117", "country": "DE"}\'::jsonb, 12.50, 4.90, 0.19, 3.31, 20.71, 0,'
        " 'pending', NULL, 'reserve_stock', 1, now() + interval '30 s', 'absent', 'absent', false, 'none',"
        " false,"
        " md5(:r::text), now(), now(), now() + interval '15 min', 1)"
        " ON CONFLICT (checkout_reference) DO NOTHING RETURNING id;",
        "INSERT INTO ordering.order_lines (order_id, position, sku, product_id, quantity, unit_price,"
        " line_total)"
        f" VALUES ({ORDER}, 0, {SKU}, gen_random_uuid(), 1, 12.50, 12.50);",
        f"INSERT INTO ordering.order_events (order_id, kind, status, data, occurred_at) VALUES ({ORDER},"
        " 'placed',"
        " 'pending', '{\"total\": \"20.71\"}'::jsonb, now()), "
        f"({ORDER}, 'saga_step', 'pending', '{{\"step\": \"reserve_stock\"}}'::jsonb, now());",
        f"SELECT count(pg_advisory_xact_lock(7, key)) FROM unnest(ARRAY[hashtext({REF})]) AS key;",
        _outbox("ordering", "ordering.order_placed.v1", REF, 4),
        _outbox("ordering", "ordering.saga_step_due.v1", REF, 4),
        "COMMIT;",
        f"UPDATE platform.idempotency_keys SET state = 'completed', lease_token = NULL, locked_until = NULL,"
        f" response_status = 201, response_headers = '[]'::jsonb, response_body = {ANSWER}, completed_at ="
        " now()"
        " WHERE scope = 'anonymous' AND key = 'pgb-' || :client_id || '-' || :r;",
    ]


def saga_sql() -> list[str]:
    """What the saga adds to one order after intake (see the module docstring)."""
    stock = [
        f"SELECT sku FROM inventory.stock_items WHERE sku = ANY (ARRAY[{SKU}]) ORDER BY sku FOR UPDATE;",
        "SELECT statement_timestamp(), l.sku, l.warehouse_code, l.on_hand, l.reserved, w.priority, w.active"
        " FROM inventory.stock_levels l JOIN inventory.warehouses w ON w.code = l.warehouse_code"
        f" WHERE l.sku = ANY (ARRAY[{SKU}]);",
    ]
    level_update = (
        "UPDATE inventory.stock_levels SET on_hand = on_hand + {d_on_hand}, reserved = reserved +"
        " {d_reserved},"
        f" updated_at = now() WHERE sku = {SKU} AND warehouse_code = 'MAIN';"
    )
    movement = (
        "INSERT INTO inventory.stock_movements (id, sku, warehouse_code, kind, reason, on_hand_delta,"
        " reserved_delta, on_hand_after, reserved_after, reference, note, occurred_at) VALUES"
        " (gen_random_uuid(),"
        f" {SKU}, 'MAIN', '{{kind}}', NULL, {{d_on_hand}}, {{d_reserved}}, 1000, 1, {REF}, NULL, now());"
    )
    payment_record = [
        "BEGIN;",
        f"SELECT * FROM payments.payments WHERE id = {PAYMENT} FOR UPDATE;",
        f"SELECT * FROM payments.refunds WHERE payment_id = {PAYMENT} ORDER BY created_at, id;",
        f"UPDATE payments.payments SET version = version + 1, updated_at = now() WHERE id = {PAYMENT};",
        _outbox("payments", "payments.payment_event.v1", f"{PAYMENT}::text", 0),
        "COMMIT;",
    ]
    webhook = [
        "SELECT message_id FROM payments.inbox WHERE consumer = 'payments.provider-webhooks'"
        " AND message_id = gen_random_uuid();",
        *payment_record[:-1],
        "INSERT INTO payments.inbox (consumer, message_id) VALUES ('payments.provider-webhooks',"
        " gen_random_uuid());",
        "COMMIT;",
    ]
    step_read = [
        "SELECT message_id FROM ordering.inbox WHERE consumer = 'ordering.saga' AND message_id ="
        " gen_random_uuid();",
        *_load_order(lock=False),
    ]
    projection = [
        "INSERT INTO catalog.inbox (consumer, message_id) VALUES ('catalog.stock-levels', gen_random_uuid())"
        " ON CONFLICT DO NOTHING RETURNING message_id;",
        f"SELECT product_id FROM catalog.variants WHERE sku = {SKU};",
    ]
    return [
        # reserve_stock
        *step_read,
        "BEGIN;",
        f"SELECT pg_advisory_xact_lock(11, hashtext({REF}));",
        *stock,
        "INSERT INTO inventory.reservations (id, reference, status, lines, shortfalls, created_at,"
        " expires_at,"
        f" closed_at, version) VALUES ({RESERVATION}, {REF}, 'active', '[]'::jsonb, '[]'::jsonb, now(),"
        " now() + interval '20 min', NULL, 1) ON CONFLICT (reference) DO NOTHING RETURNING id;",
        "INSERT INTO inventory.reservation_allocations (reservation_id, sku, warehouse_code, quantity)"
        f" VALUES ({RESERVATION}, {SKU}, 'MAIN', 1);",
        level_update.format(d_on_hand=0, d_reserved=1),
        movement.format(kind="reservation", d_on_hand=0, d_reserved=1),
        _outbox("inventory", "inventory.stock_reserved.v1", REF, 3),
        "COMMIT;",
        *_order_change("ordering.saga", next_step=True),
        *projection,
        # authorize_payment
        *step_read,
        "BEGIN;",
        f"SELECT * FROM payments.payments WHERE reference = {REF} FOR UPDATE;",
        "INSERT INTO payments.payments (id, reference, order_id, customer_id, amount, currency, status,"
        " provider_intent_id, captured_amount, failure_reason, decline_code, release_pending, version,"
        f" created_at, updated_at) VALUES ({PAYMENT}, {REF}, {ORDER}, NULL, 20.71, 'EUR', 'pending', NULL, 0,"
        " NULL, NULL, false, 1, now(), now()) ON CONFLICT (reference) DO NOTHING RETURNING id;",
        "COMMIT;",
        *payment_record,
        *webhook,
        *_order_change("ordering.saga", next_step=True),
        *_order_change("ordering.payment-results", next_step=False),
        # confirm_stock
        *step_read,
        "BEGIN;",
        f"SELECT * FROM inventory.reservations WHERE reference = {REF} FOR UPDATE;",
        *stock,
        level_update.format(d_on_hand=-1, d_reserved=-1),
        "UPDATE inventory.reservations SET status = 'confirmed', closed_at = now(), version = 2 WHERE id"
        f" = {RESERVATION};",
        movement.format(kind="deduction", d_on_hand=-1, d_reserved=-1),
        _outbox("inventory", "inventory.stock_confirmed.v1", REF, 3),
        "COMMIT;",
        *_order_change("ordering.saga", next_step=True),
        *projection,
        # capture_payment
        *step_read,
        f"SELECT * FROM payments.payments WHERE reference = {REF};",
        *payment_record,
        *webhook,
        *_order_change("ordering.saga", next_step=False),
        *_order_change("ordering.payment-results", next_step=False),
        # fulfilment learns of the confirmed order
        "BEGIN;",
        "INSERT INTO fulfilment.inbox (consumer, message_id) VALUES ('fulfilment.order-intake',"
        " gen_random_uuid())"
        " ON CONFLICT DO NOTHING RETURNING message_id;",
        f"INSERT INTO fulfilment.orders (id, lines, cancelled, confirmed_at, version) VALUES ({ORDER},"
        " '{}'::jsonb, false, now(), 1) ON CONFLICT (id) DO NOTHING RETURNING id;",
        "COMMIT;",
        # the relay marks this order's rows published, one update per module
        f"UPDATE ordering.outbox SET published_at = now() WHERE aggregate_id = {REF} AND published_at IS"
        " NULL;",
        f"UPDATE inventory.outbox SET published_at = now() WHERE aggregate_id = {REF} AND published_at IS"
        " NULL;",
        f"UPDATE payments.outbox SET published_at = now() WHERE aggregate_id = {PAYMENT}::text"
        " AND published_at IS NULL;",
    ]


def _pgbench(url: str, statements: list[str], *, seconds: int, clients: int) -> Figures:
    return run_pgbench(
        "pgbench: the same SQL", url, "\n".join(statements) + "\n", seconds=seconds, clients=clients
    )


# -- the run -------------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    local_only()
    from orderly.platform import migrations

    database = f"orderly_bench_checkout_{os.getpid()}"
    url = scratch_database_url(database)
    await admin(f'CREATE DATABASE "{database}"')
    try:
        started = time.monotonic()
        await asyncio.to_thread(migrations.upgrade, url)
        await _seed(url)
        print(
            f"seeded {SKUS} SKUs and {WARM_ORDERS} orders in {time.monotonic() - started:.0f} s", flush=True
        )

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = _start_server(url, port, background=False)
        try:
            await wait_ready(base, "/healthz")
            if shutil.which("wrk"):
                await asyncio.to_thread(_wrk_intake, base, 2)  # warm-up
                intake = await asyncio.to_thread(_wrk_intake, base, args.seconds)
            else:
                await _httpx_intake(base, 2)
                intake = await _httpx_intake(base, args.seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
        # The intake run left pending orders nobody works on: out of the saga's way, messages and all.
        engine = create_async_engine(async_url(url), isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(RETIRE_PENDING))
            await conn.execute(
                text("UPDATE ordering.outbox SET published_at = now() WHERE published_at IS NULL")
            )
        await engine.dispose()

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = _start_server(url, port, background=True)
        try:
            await wait_ready(base, "/healthz")
            e2e = await _end_to_end(base, url, args.seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
        # pgbench last: the rows it writes are not events any consumer could read.
        baseline = await asyncio.to_thread(
            _pgbench, url, intake_sql(), seconds=args.pgbench_seconds, clients=INTAKE_CONNECTIONS
        )
        saga_baseline = await asyncio.to_thread(
            _pgbench, url, intake_sql() + saga_sql(), seconds=args.pgbench_seconds, clients=E2E_CLIENTS
        )
        results = [(intake, baseline), (e2e, saga_baseline)]
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    print(f"\n{'':34}{'per s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for title, (app, base_figures) in zip(
        ("checkout intake", "end to end (confirmed orders)"), results, strict=True
    ):
        print(title)
        for f in (app, base_figures):
            print(f"  {f.name:32}{f.rate:9.1f}{f.p50_ms:9.1f}{f.p99_ms:9.1f}{f.errors:8d}")
        print(f"  {'ratio app / pgbench':32}{app.rate / base_figures.rate:9.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=12.0, help="duration of each app scenario")
    parser.add_argument("--pgbench-seconds", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
