"""Retries at volume: many keys, each sent several times, some copies racing.

Every client behaves as the ADR tells clients to: on 409 it waits and retries
with the same key. Whatever the interleaving, each key's request must run
exactly once and every other copy must get that execution's answer, byte for
byte.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.platform.idempotency_app import (
    build_app,
    client_for,
    create_executions_table,
    executions,
)

KEYS = 500
COPIES = 3
CONCURRENT_KEYS = 16
MAX_CONFLICT_RETRIES = 100

pytestmark = pytest.mark.slow


async def _send_until_answered(client: httpx.AsyncClient, key: str, content: bytes) -> httpx.Response:
    """One client copy: retry on 409 (the first copy still running), as a client should."""
    for _ in range(MAX_CONFLICT_RETRIES):
        response = await client.post(
            "/things", content=content, headers={"Idempotency-Key": key, "content-type": "application/json"}
        )
        if response.status_code != 409:
            return response
        await asyncio.sleep(0.02)
    raise AssertionError(f"{key} stayed in flight through {MAX_CONFLICT_RETRIES} retries")


async def _one_key(client: httpx.AsyncClient, index: int) -> list[httpx.Response]:
    key = f"reliability-{index:04d}"
    # Some copies race (all at once, the endpoint sleeping so they overlap),
    # some arrive one after another, some race after a first lone copy.
    racing = index % 3 == 0
    content = json.dumps({"name": f"thing {index}", "sleep_ms": 30 if racing else 0}).encode()
    if racing:
        return list(
            await asyncio.gather(*(_send_until_answered(client, key, content) for _ in range(COPIES)))
        )
    if index % 3 == 1:
        return [await _send_until_answered(client, key, content) for _ in range(COPIES)]
    first = await _send_until_answered(client, key, content)
    rest = await asyncio.gather(*(_send_until_answered(client, key, content) for _ in range(COPIES - 1)))
    return [first, *rest]


async def test_every_key_runs_once_and_every_retry_gets_the_same_bytes(engine: AsyncEngine) -> None:
    await create_executions_table(engine)
    app, _ = build_app(engine)
    gate = asyncio.Semaphore(CONCURRENT_KEYS)

    async def bounded(client: httpx.AsyncClient, index: int) -> list[httpx.Response]:
        async with gate:
            return await _one_key(client, index)

    started = time.perf_counter()
    async with client_for(app) as client:
        answers = await asyncio.gather(*(bounded(client, index) for index in range(KEYS)))
    elapsed = time.perf_counter() - started

    assert await executions(engine, "things") == KEYS
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT key, count(*) FROM idempotency_test.executions GROUP BY key"))
        runs_per_key = {key: count for key, count in rows}
    assert len(runs_per_key) == KEYS
    assert set(runs_per_key.values()) == {1}

    for responses in answers:
        assert {r.status_code for r in responses} == {201}
        originals = [r for r in responses if "idempotent-replayed" not in r.headers]
        replays = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
        assert len(originals) == 1
        assert len(replays) == COPIES - 1
        for replay in replays:
            assert replay.content == originals[0].content
            assert replay.headers["location"] == originals[0].headers["location"]
            assert replay.headers["etag"] == originals[0].headers["etag"]
    assert elapsed < 60, f"{KEYS * COPIES} requests took {elapsed:.1f}s"
