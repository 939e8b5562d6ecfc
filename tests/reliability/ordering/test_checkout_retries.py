"""Retries of checkout: N checkouts, each sent three times with the same Idempotency-Key.

A third of them send their three copies at once (in-flight duplicates), the
rest one after another. Exactly N orders exist afterwards; every replay is the
first answer byte for byte; a copy that arrived while the first still ran is
409 with Retry-After; the same key with a changed body is 422. N is 500 under
CI=true (issue 5), smaller locally; the test reports its timing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.settings import Settings
from tests.integration.ordering.support import ADDRESS, Shop, shop
from tests.reliability.ordering.support import scale, settle

pytestmark = pytest.mark.slow

CHECKOUTS = scale(local=60, full=500)
CONCURRENCY = 30


async def send(s: Shop, cart_id: str, key: str, email: str = "ada@example.com") -> httpx.Response:
    return await s.client.post(
        "/v1/checkouts",
        json={"cart_id": cart_id, "email": email, "shipping_address": ADDRESS},
        headers={"Idempotency-Key": key},
    )


class TestCheckoutRetries:
    async def test_each_checkout_sent_three_times_makes_one_order(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with shop(settings, database_url, engine, db_pool_size=20) as s:
            await s.product("MUG-1", stock=CHECKOUTS * 2)
            carts = [s.cart(("MUG-1", 1)) for _ in range(CHECKOUTS)]
            keys = [f"retry-{uuid.uuid4()}" for _ in range(CHECKOUTS)]
            outcomes: Counter[str] = Counter()
            firsts: dict[str, bytes] = {}
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(i: int) -> None:
                async with gate:
                    if i % 3 == 0:
                        copies = await asyncio.gather(*(send(s, carts[i], keys[i]) for _ in range(3)))
                    else:
                        copies = [await send(s, carts[i], keys[i]) for _ in range(3)]
                for response in copies:
                    assert response.status_code < 500, response.text
                    if response.status_code == 409:
                        assert response.json()["type"].endswith("idempotency-key-in-flight")
                        assert response.headers["retry-after"].isdigit()
                        outcomes["in_flight"] += 1
                    elif response.headers.get("idempotent-replayed") == "true":
                        outcomes["replayed"] += 1
                    else:
                        assert response.status_code == 201, response.text
                        assert keys[i] not in firsts, "two executions answered for one key"
                        firsts[keys[i]] = response.content
                        outcomes["executed"] += 1
                # A copy turned away while the first was running gets the first answer now.
                replay = await send(s, carts[i], keys[i])
                assert replay.headers.get("idempotent-replayed") == "true"
                assert replay.content == firsts[keys[i]]
                changed = await send(s, carts[i], keys[i], email="eve@example.com")
                assert changed.status_code == 422
                assert changed.json()["type"].endswith("idempotency-key-reused")

            started = time.monotonic()
            await asyncio.gather(*(one(i) for i in range(CHECKOUTS)))
            intake_s = time.monotonic() - started
            assert outcomes["executed"] == CHECKOUTS
            assert outcomes["in_flight"] + outcomes["replayed"] == 2 * CHECKOUTS
            assert outcomes["in_flight"] > 0, "no copy overlapped its first: the test did not test that"
            assert await s.order_count() == CHECKOUTS
            settled_s = await settle(engine, timeout_s=60 + CHECKOUTS * 0.3)
            rate = 5 * CHECKOUTS / intake_s
            print(
                f"\n{CHECKOUTS} checkouts x 3 copies (+1 replay, +1 changed body each): "
                f"intake {intake_s:.1f} s ({rate:.0f} req/s), sagas settled {settled_s:.1f} s later; "
                f"{dict(outcomes)}"
            )
