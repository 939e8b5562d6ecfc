"""Rate limits through HTTP on the whole app (embedded Redis stand-in, as `orderly serve` with no settings):
the 429 problem and its fields, the fields on admitted answers, per-client buckets, what is never
limited, and a refused request that leaves its Idempotency-Key unused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.auth.dependencies import verifier_for
from orderly.platform.auth.principal import Principal
from orderly.platform.idempotency.tables import idempotency_keys
from orderly.platform.settings import RateLimitQuota, Settings
from tests.support.auth import AuthKit, bearer
from tests.support.http import app_client, assert_problem, product_body


def limited(settings: Settings, **quotas: tuple[int, int]) -> Settings:
    """``settings`` with limits on and the given classes' quotas (limit, window in seconds)."""
    update: dict[str, Any] = {"rate_limit_enabled": True}
    for name, (limit, window_s) in quotas.items():
        update[f"rate_limit_{name}"] = RateLimitQuota(limit=limit, window_s=window_s)
    return settings.model_copy(update=update)


@pytest.fixture
async def apps() -> list[FastAPI]:
    return []


async def stored_keys(engine: AsyncEngine, key: str) -> int:
    async with engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(idempotency_keys).where(idempotency_keys.c.key == key)
        )
    return int(count or 0)


class TestAnswers:
    @pytest.fixture
    async def shopper(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> AsyncIterator[httpx.AsyncClient]:
        async with app_client(limited(settings, read=(3, 60)), database_url, run_background=False) as client:
            yield client

    async def test_admitted_answers_carry_the_policy_and_what_is_left(
        self, shopper: httpx.AsyncClient
    ) -> None:
        responses = [await shopper.get("/v1/products") for _ in range(3)]

        assert [response.status_code for response in responses] == [200, 200, 200]
        assert {response.headers["ratelimit-policy"] for response in responses} == {'"read";q=3;w=60'}
        assert [response.headers["ratelimit"] for response in responses] == [
            '"read";r=2;t=20',
            '"read";r=1;t=20',
            '"read";r=0;t=20',
        ]

    async def test_the_request_past_the_quota_is_a_429_problem_with_retry_after(
        self, shopper: httpx.AsyncClient
    ) -> None:
        for _ in range(3):
            await shopper.get("/v1/products")

        response = await shopper.get("/v1/products", params={"q": "mug"})

        body = assert_problem(response, 429, "too-many-requests")
        assert '"read"' in body["detail"]
        retry_after = int(response.headers["retry-after"])
        assert 1 <= retry_after <= 20
        assert response.headers["ratelimit"] == f'"read";r=0;t={retry_after}'
        assert response.headers["ratelimit-policy"] == '"read";q=3;w=60'

    async def test_every_route_has_its_own_bucket(self, shopper: httpx.AsyncClient) -> None:
        for _ in range(3):
            await shopper.get("/v1/products")

        assert (await shopper.get("/v1/products")).status_code == 429
        assert (await shopper.get("/v1/categories")).status_code == 200

    async def test_probes_and_metrics_are_never_limited(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with app_client(limited(settings, read=(1, 60)), database_url, run_background=False) as client:
            for path in ("/healthz", "/readyz", "/metrics"):
                responses = [await client.get(path) for _ in range(5)]

                assert [response.status_code for response in responses] == [200] * 5, path
                assert not any("ratelimit" in response.headers for response in responses), path

    async def test_the_openapi_document_declares_the_429_of_limited_operations(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with app_client(limited(settings), database_url, run_background=False) as client:
            paths = (await client.get("/openapi.json")).json()["paths"]

        assert '"checkout"' in paths["/v1/checkouts"]["post"]["responses"]["429"]["description"]
        assert "429" in paths["/v1/products"]["get"]["responses"]
        assert "429" not in paths["/readyz"]["get"]["responses"]


class TestClients:
    async def test_staff_members_behind_one_address_have_a_bucket_each(
        self, settings: Settings, database_url: str, engine: AsyncEngine, apps: list[FastAPI]
    ) -> None:
        async with app_client(
            limited(settings, read=(1, 60)), database_url, run_background=False, customize=apps.append
        ) as client:
            kit = AuthKit.from_app(apps[0])
            first, second = await kit.staff_token(), await kit.staff_token()

            assert (await client.get("/v1/admin/products", headers=bearer(first))).status_code == 200
            assert (await client.get("/v1/admin/products", headers=bearer(first))).status_code == 429
            assert (await client.get("/v1/admin/products", headers=bearer(second))).status_code == 200
            # The address itself still has its own quota for requests without a token.
            assert (await client.get("/v1/products")).status_code == 200

    async def test_tokens_that_do_not_verify_cannot_buy_fresh_buckets(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with app_client(limited(settings, read=(2, 60)), database_url, run_background=False) as client:
            statuses = [
                (await client.get("/v1/products", headers=bearer(f"forged.{n}.token"))).status_code
                for n in range(3)
            ]

        assert statuses[2] == 429

    async def test_a_token_is_verified_once_for_the_limiter_the_key_scope_and_the_route(
        self,
        settings: Settings,
        database_url: str,
        engine: AsyncEngine,
        apps: list[FastAPI],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        async with app_client(
            limited(settings, write=(10, 60)), database_url, run_background=False, customize=apps.append
        ) as client:
            token = await AuthKit.from_app(apps[0]).staff_token()
            verifier = verifier_for(apps[0])
            verify, calls = verifier.verify, []

            async def counting(candidate: str) -> Principal:
                calls.append(candidate)
                return await verify(candidate)

            monkeypatch.setattr(verifier, "verify", counting)
            response = await client.post(
                "/v1/admin/products",
                json=product_body(sku="RL-ONCE"),
                headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
            )

        assert response.status_code == 201, response.text
        assert calls == [token]


class TestIdempotency:
    async def test_a_refused_request_leaves_its_key_unused_and_its_retry_runs_for_real(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with app_client(
            limited(settings, write=(1, 2)), database_url, run_background=False, staff_role="admin"
        ) as client:
            first = await client.post(
                "/v1/admin/products", json=product_body(sku="RL-1"), headers={"Idempotency-Key": "rl-first"}
            )
            assert first.status_code == 201, first.text

            refused = await client.post(
                "/v1/admin/products", json=product_body(sku="RL-2"), headers={"Idempotency-Key": "rl-second"}
            )
            assert_problem(refused, 429, "too-many-requests")
            assert await stored_keys(engine, "rl-second") == 0
            # The limiter answers before the idempotency layer reads any key: even
            # the first request's retry, which would be a replay, is refused.
            replay = await client.post(
                "/v1/admin/products", json=product_body(sku="RL-1"), headers={"Idempotency-Key": "rl-first"}
            )
            assert_problem(replay, 429, "too-many-requests")

            retry_after = int(refused.headers["retry-after"])
            assert retry_after <= 2
            await asyncio.sleep(retry_after)
            retried = await client.post(
                "/v1/admin/products", json=product_body(sku="RL-2"), headers={"Idempotency-Key": "rl-second"}
            )

            assert retried.status_code == 201, retried.text
            assert "idempotent-replayed" not in retried.headers
            assert retried.json()["variants"][0]["sku"] == "RL-2"
            assert (await client.get(f"/v1/admin/products/{retried.json()['id']}")).status_code == 200
            assert await stored_keys(engine, "rl-second") == 1
