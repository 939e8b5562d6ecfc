"""The API rate limiter against a real Redis: exact under concurrency, per client and route,
windows that recover, and failing open fast when Redis is down or slow."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from prometheus_client import REGISTRY

from orderly.platform.http.middleware import RequestContextMiddleware
from orderly.platform.http.problems import install_problem_handlers
from orderly.platform.ratelimit import FailOpen, PolicyTable, Quota, RateLimitMiddleware, RedisRateLimiter

BASE_URL = "http://ratelimit.test"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def prefix() -> str:
    """Keys of this test only, so runs and tests never share a bucket."""
    return f"orderly:test:ratelimit:{uuid.uuid4().hex}:"


def limiter(
    redis: aioredis.Redis, prefix: str, *, budget_s: float = 2.0, pause_s: float = 5.0
) -> RedisRateLimiter:
    guard = FailOpen(limiter="test", budget_s=budget_s, pause_after_failure_s=pause_s)
    return RedisRateLimiter(redis, guard=guard, prefix=prefix)


def fail_open_count(reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "orderly_rate_limit_fail_open_total", {"limiter": "test", "reason": reason}
    )
    return value or 0.0


def failures() -> float:
    return fail_open_count("error") + fail_open_count("timeout")


class TestLimiter:
    async def test_exactly_the_quota_is_admitted_from_many_concurrent_callers_on_several_replicas(
        self, redis_url: str, prefix: str
    ) -> None:
        # Three clients with their own pools, as three API processes have.
        clients = [aioredis.from_url(redis_url) for _ in range(3)]
        try:
            replicas = [limiter(client, prefix) for client in clients]
            quota = Quota(limit=50, window_s=60)
            decisions = await asyncio.gather(*(replicas[n % 3].acquire("bucket", quota) for n in range(200)))
        finally:
            for client in clients:
                await client.aclose()

        assert None not in decisions
        admitted = [d for d in decisions if d is not None and d.admitted]
        assert len(admitted) == 50
        assert sorted(d.remaining for d in admitted) == list(range(50))
        refused = [d for d in decisions if d is not None and not d.admitted]
        assert all(0 < d.wait_s <= 60 / 50 for d in refused)

    async def test_a_fresh_bucket_admits_a_burst_of_the_whole_quota_then_one_per_interval(
        self, redis: aioredis.Redis, prefix: str
    ) -> None:
        rate = limiter(redis, prefix)
        quota = Quota(limit=5, window_s=60)

        remaining = [d.remaining for d in [await rate.acquire("b", quota) for _ in range(5)] if d is not None]
        refused = await rate.acquire("b", quota)

        assert remaining == [4, 3, 2, 1, 0]
        assert refused is not None
        assert not refused.admitted
        assert 11 < refused.wait_s <= 12  # one request every 60/5 s
        assert refused.wait_whole_s == 12

    async def test_the_bucket_recovers_once_retry_after_has_passed(
        self, redis: aioredis.Redis, prefix: str
    ) -> None:
        rate = limiter(redis, prefix)
        quota = Quota(limit=2, window_s=1)
        assert all(d is not None and d.admitted for d in [await rate.acquire("b", quota) for _ in range(2)])
        refused = await rate.acquire("b", quota)
        assert refused is not None
        assert not refused.admitted
        assert refused.wait_s <= 0.5

        await asyncio.sleep(refused.wait_s + 0.01)
        again = await rate.acquire("b", quota)
        assert again is not None
        assert again.admitted
        assert again.remaining == 0

    async def test_the_key_expires_when_the_bucket_is_full_again(
        self, redis: aioredis.Redis, prefix: str
    ) -> None:
        rate = limiter(redis, prefix)
        await rate.acquire("b", Quota(limit=10, window_s=60))

        ttl_ms = await redis.pttl(prefix + "b")
        assert 0 < ttl_ms <= 6000  # one request's worth: 60/10 s

    async def test_an_unreachable_redis_lets_requests_through_fast_and_is_left_alone(self) -> None:
        down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=2, socket_timeout=2)
        rate = limiter(down, "orderly:test:", budget_s=0.2, pause_s=30)
        failed, paused = failures(), fail_open_count("paused")
        try:
            started = time.monotonic()
            decisions = [await rate.acquire("b", Quota(limit=1, window_s=60)) for _ in range(50)]
            elapsed = time.monotonic() - started
        finally:
            await down.aclose()

        assert decisions == [None] * 50
        assert elapsed < 0.5
        # One attempt (refused, or still retrying when its budget ran out), then the pause.
        assert failures() == failed + 1
        assert fail_open_count("paused") == paused + 49

    async def test_a_redis_that_accepts_but_never_answers_costs_one_budget_then_nothing(self) -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(-1)

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        stuck = aioredis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
        rate = limiter(stuck, "orderly:test:", budget_s=0.1, pause_s=30)
        timeouts = fail_open_count("timeout")
        try:
            started = time.monotonic()
            first = await rate.acquire("b", Quota(limit=1, window_s=60))
            first_took = time.monotonic() - started
            rest = await asyncio.gather(*(rate.acquire("b", Quota(limit=1, window_s=60)) for _ in range(100)))
            elapsed = time.monotonic() - started
        finally:
            await stuck.aclose()
            server.close()
            await server.wait_closed()

        assert first is None
        assert 0.09 <= first_took < 0.5
        assert rest == [None] * 100
        assert elapsed < 0.6
        assert fail_open_count("timeout") == timeouts + 1


def _app(rate: RedisRateLimiter, policies: PolicyTable) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    @app.get("/other")
    async def other() -> dict[str, str]:
        return {}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(RateLimitMiddleware, limiter=rate, policies=policies, routes=app.router.routes)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=1_048_576)
    return app


@asynccontextmanager
async def caller(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


def _policies(limit: int) -> PolicyTable:
    quota = Quota(limit=limit, window_s=60)
    return PolicyTable({"read": quota, "write": quota, "checkout": quota, "auth": quota})


class TestMiddleware:
    async def test_each_client_address_has_its_own_bucket(self, redis: aioredis.Redis, prefix: str) -> None:
        app = _app(limiter(redis, prefix), _policies(limit=2))
        async with caller(app, "10.0.0.1") as first, caller(app, "10.0.0.2") as second:
            assert [(await first.get("/other")).status_code for _ in range(3)] == [200, 200, 429]
            assert [(await second.get("/other")).status_code for _ in range(3)] == [200, 200, 429]

    async def test_each_route_has_its_own_bucket_shared_by_every_path_it_serves(
        self, redis: aioredis.Redis, prefix: str
    ) -> None:
        app = _app(limiter(redis, prefix), _policies(limit=2))
        async with caller(app, "10.0.0.1") as client:
            assert (await client.get("/items/1")).status_code == 200
            assert (await client.get("/items/2")).status_code == 200
            assert (await client.get("/items/3")).status_code == 429
            assert (await client.get("/other")).status_code == 200

    async def test_a_flood_of_concurrent_requests_gets_exactly_the_quota_through(
        self, redis: aioredis.Redis, prefix: str
    ) -> None:
        app = _app(limiter(redis, prefix), _policies(limit=50))
        async with caller(app, "10.0.0.1") as client:
            responses = await asyncio.gather(*(client.get("/other") for _ in range(200)))

        statuses = [response.status_code for response in responses]
        assert statuses.count(200) == 50
        assert statuses.count(429) == 150

    async def test_health_is_never_limited(self, redis: aioredis.Redis, prefix: str) -> None:
        app = _app(limiter(redis, prefix), _policies(limit=1))
        async with caller(app, "10.0.0.1") as client:
            responses = [await client.get("/healthz") for _ in range(5)]

        assert [response.status_code for response in responses] == [200] * 5
        assert all("ratelimit" not in response.headers for response in responses)

    async def test_with_redis_down_requests_pass_quickly_with_the_policy_but_no_count(self) -> None:
        down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=2, socket_timeout=2)
        app = _app(limiter(down, "orderly:test:", budget_s=0.2, pause_s=30), _policies(limit=1))
        try:
            async with caller(app, "10.0.0.1") as client:
                started = time.monotonic()
                responses = [await client.get("/other") for _ in range(20)]
                elapsed = time.monotonic() - started
        finally:
            await down.aclose()

        assert [response.status_code for response in responses] == [200] * 20
        assert elapsed < 1.0
        assert responses[0].headers["ratelimit-policy"] == '"read";q=1;w=60'
        assert "ratelimit" not in responses[0].headers
