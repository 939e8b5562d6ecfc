"""Catalog read throughput: product by id (cache hit and miss) and a filtered listing
page, each as a ratio to a bare endpoint of the same app, measured in one run.

What runs (about 60 s on a 2-core machine once the catalog is seeded):

* the app under test: ``uvicorn`` with one worker, started here in a subprocess on
  127.0.0.1 from ``create_bench_app`` below: the production app factory with the
  catalog module alone, against the real PostgreSQL and Redis, plus one extra
  route, ``GET /bench/constant``, that returns a constant JSON body through the
  same middleware. That route exists only in this factory;
* the load: ``wrk`` (``apt-get install wrk``) with 64 connections, or, without
  it, an asyncio + httpx generator (which needs a CPU of its own to keep up);
* the data: ``orderly seed-demo --products 25000`` (100,000 variants) in the
  database ``orderly_bench_catalog``, created and seeded on the first run only.

Scenarios: ``bare`` (the constant route), ``product hit`` (ids whose documents are
in Redis), ``product miss`` (every request a different id, the cache emptied
first, so each is read from PostgreSQL and written to Redis), ``listing hit``
(one filtered page, served from Redis after the first request) and ``listing
miss`` (the same filters with a different price bound per request, so every page
is a query). Latencies are wrk's (or the generator's) per request.

Run: ``uv run python bench/catalog_read.py [--seconds 8] [--reseed]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from harness import (
    ADMIN_URL,
    Figures,
    figures,
    free_port,
    run_wrk,
    scratch_database_url,
    start_app,
    wait_ready,
)
from orderly.platform.db import async_url

DATABASE = "orderly_bench_catalog"
REDIS_URL = os.environ.get("ORDERLY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PRODUCTS = 25_000
CONNECTIONS = 64
LISTING = "/v1/products?category=demo-kitchen&attr=size:M&attr=size:L&currency=EUR&sort=price_asc&limit=20"


def create_bench_app() -> FastAPI:
    """The production app (catalog module only) plus the bare baseline route."""
    from orderly.entrypoints.api import create_app
    from orderly.entrypoints.bootstrap import build_container
    from orderly.platform.logging import configure_logging
    from orderly.platform.settings import load_settings

    settings = load_settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    assert settings.database_url is not None
    container = build_container(settings, database_url=settings.database_url, module_names=["catalog"])
    app = create_app(container, run_background=False)

    @app.get("/bench/constant", include_in_schema=False)
    async def constant() -> dict[str, object]:
        return {"id": "0190b5a0-0000-7000-8000-000000000001", "name": "constant", "ok": True}

    return app


def _database_url() -> str:
    return scratch_database_url(DATABASE)


async def _prepare_database(reseed: bool) -> list[str]:
    """Create, migrate and seed the bench database if needed; return published product ids."""
    admin = create_async_engine(async_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        exists = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DATABASE})
        if not exists:
            await conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    await admin.dispose()
    env = {**os.environ, "ORDERLY_DATABASE_URL": _database_url(), "ORDERLY_LOG_LEVEL": "WARNING"}
    await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "orderly", "migrate"], env=env, check=True, capture_output=True
    )
    engine = create_async_engine(async_url(_database_url()))
    async with engine.connect() as conn:
        variants = int(await conn.scalar(text("SELECT count(*) FROM catalog.variants")) or 0)
    if reseed or variants < 100_000:
        print(f"seeding {PRODUCTS} products (orderly seed-demo) ...", flush=True)
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "orderly", "seed-demo", "--products", str(PRODUCTS), "--reset"],
            env=env,
            check=True,
        )
    async with engine.connect() as conn:
        ids = [
            str(i)
            for i in await conn.scalars(text("SELECT id FROM catalog.products WHERE status = 'published'"))
        ]
    await engine.dispose()
    return ids


def _start_server(port: int) -> subprocess.Popen[bytes]:
    # One log line per request would be part of every scenario alike, but it is
    # I/O the comparison does not need. The rate limiter stays on (its Redis call
    # is part of a read's cost in production) with a quota the load never reaches:
    # one address sends everything here.
    env = {
        "ORDERLY_DATABASE_URL": _database_url(),
        "ORDERLY_REDIS_URL": REDIS_URL,
        "ORDERLY_LOG_LEVEL": "WARNING",
        "ORDERLY_RATE_LIMIT_READ": '{"limit": 1000000, "window_s": 1}',
    }
    return start_app("catalog_read:create_bench_app", port, env)


WRK_SCRIPT = """
local paths = {}
local count = 0
local n = 0
init = function(args)
  for line in io.lines(args[1]) do
    count = count + 1
    paths[count] = line
  end
  -- Threads start at different offsets so they do not ask for the same paths.
  n = tonumber(args[2]) or 0
end
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % count) + 1])
end
"""


def _run_wrk(base: str, paths: list[str], seconds: float, name: str) -> Figures:
    # Two wrk threads: the second starts half-way through the list.
    return run_wrk(
        name,
        base,
        WRK_SCRIPT,
        seconds=seconds,
        connections=CONNECTIONS,
        script_args=["{tmp}/paths.txt", str(len(paths) // 2)],
        files={"paths.txt": "\n".join(paths) + "\n"},
    )


async def _run_httpx(base: str, paths: list[str], seconds: float, name: str) -> Figures:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:

        async def user() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                path = paths[next(counter) % len(paths)]
                started = time.perf_counter()
                response = await client.get(path)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors += 1

        started = time.monotonic()
        await asyncio.gather(*(user() for _ in range(CONNECTIONS)))
        elapsed = time.monotonic() - started
    return figures(name, latencies, elapsed, errors)


async def _measure(base: str, paths: list[str], seconds: float, name: str) -> Figures:
    if shutil.which("wrk"):
        return await asyncio.to_thread(_run_wrk, base, paths, seconds, name)
    return await _run_httpx(base, paths, seconds, name)


async def _flush_cache() -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(match="catalog:*", count=1000)]
    for start in range(0, len(keys), 1000):
        await client.delete(*keys[start : start + 1000])
    await client.aclose()


async def _warm(base: str, paths: list[str]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for path in paths:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.status_code, response.text[:200])


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="Duration of each scenario.")
    parser.add_argument("--reseed", action="store_true", help="Seed the catalog again.")
    args = parser.parse_args()

    ids = await _prepare_database(args.reseed)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_server(port)
    try:
        await wait_ready(base, "/bench/constant", timeout_s=30)
        await _flush_cache()
        hot = [f"/v1/products/{i}" for i in ids[:200]]
        cold = [f"/v1/products/{i}" for i in ids[200:]]
        listing_misses = [
            f"{LISTING}&price_min={cents // 100}.{cents % 100:02d}" for cents in range(0, 20_000, 1)
        ]
        # Warm-up: the pool's connections, the prepared statements and the hot documents.
        await _warm(base, ["/bench/constant", *hot, LISTING, f"{LISTING}&price_min=999.99"])
        await _measure(base, ["/bench/constant"], 2, "warm-up")
        results = [await _measure(base, ["/bench/constant"], args.seconds, "bare (constant JSON)")]
        results.append(await _measure(base, hot, args.seconds, "product by id, cache hit"))
        await _flush_cache()
        miss = await _measure(base, cold, args.seconds, "product by id, cache miss")
        results.append(miss)
        results.append(await _measure(base, [LISTING], args.seconds, "filtered listing, cache hit"))
        results.append(await _measure(base, listing_misses, args.seconds, "filtered listing, cache miss"))
    finally:
        server.terminate()
        server.wait(timeout=15)

    generator = "wrk" if shutil.which("wrk") else "asyncio+httpx"
    print(
        f"\n{len(ids)} published products, {CONNECTIONS} connections, {generator}, {args.seconds:g} s each\n"
    )
    print(f"{'scenario':32} {'req/s':>9} {'ratio':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    bare = results[0].rate
    for r in results:
        print(f"{r.name:32} {r.rate:9.0f} {r.rate / bare:7.2f} {r.p50_ms:8.1f} {r.p99_ms:8.1f} {r.errors:7d}")
    if miss.count > len(cold):
        print(f"\nnote: the miss run made {miss.count} requests for {len(cold)} ids; the rest were hits")
    print(f"\nlisting: {LISTING}")


if __name__ == "__main__":
    asyncio.run(main())
