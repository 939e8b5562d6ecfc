"""Brute-force defence on the sign-in form: failures are limited per account and per client
address (429 problem+json with Retry-After); when Redis is down the limiter fails open."""

from __future__ import annotations

import httpx
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.settings import Settings
from tests.support.auth import RegisteredClient, authorize_params, form_fields, identity_app, new_verifier
from tests.support.http import assert_problem


async def _attempt(
    http: httpx.AsyncClient, client: RegisteredClient, email: str, password: str
) -> httpx.Response:
    page = await http.get("/oauth/authorize", params=authorize_params(client, verifier=new_verifier()))
    fields = form_fields(page.text)
    fields.update(email=email, password=password)
    return await http.post("/oauth/authorize", data=fields)


class TestSignInThrottling:
    async def test_an_account_is_throttled_after_too_many_failures_even_with_the_right_password(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        limited = settings.model_copy(
            update={"identity_signin_account_limit": 3, "identity_signin_window_s": 120}
        )
        async with identity_app(limited, database_url) as (http, kit):
            customer = await kit.customer()
            client = await kit.sign_in_client()
            for _ in range(3):
                assert (await _attempt(http, client, customer.email, "wrong-password-123")).status_code == 400
            blocked = await _attempt(http, client, customer.email, customer.password)
            problem = assert_problem(blocked, 429, "too-many-sign-in-attempts")
            retry_after = int(blocked.headers["retry-after"])
            assert 0 < retry_after <= 120
            assert problem["retry_after"] == retry_after
            assert "location" not in blocked.headers
            # Other accounts are not affected by one account's lock.
            other = await kit.customer()
            assert (await _attempt(http, client, other.email, other.password)).status_code == 303

    async def test_one_address_is_throttled_across_accounts(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        limited = settings.model_copy(
            update={"identity_signin_ip_limit": 4, "identity_signin_account_limit": 100}
        )
        async with identity_app(limited, database_url) as (http, kit):
            client = await kit.sign_in_client()
            for n in range(4):
                response = await _attempt(http, client, f"victim{n}@example.com", "guess-password-123")
                assert response.status_code == 400
            blocked = await _attempt(http, client, "victim9@example.com", "guess-password-123")
            assert_problem(blocked, 429, "too-many-sign-in-attempts")
            assert int(blocked.headers["retry-after"]) > 0

    async def test_a_successful_sign_in_resets_the_accounts_failures(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        limited = settings.model_copy(update={"identity_signin_account_limit": 2})
        async with identity_app(limited, database_url) as (http, kit):
            customer = await kit.customer()
            client = await kit.sign_in_client()
            assert (await _attempt(http, client, customer.email, "wrong-password-123")).status_code == 400
            assert (await _attempt(http, client, customer.email, customer.password)).status_code == 303
            assert (await _attempt(http, client, customer.email, "wrong-password-123")).status_code == 400
            assert (await _attempt(http, client, customer.email, customer.password)).status_code == 303

    async def test_sign_in_keeps_working_when_redis_is_down(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        unreachable = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
        limited = settings.model_copy(update={"identity_signin_account_limit": 1})
        async with identity_app(limited, database_url, redis=unreachable) as (http, kit):
            customer = await kit.customer()
            client = await kit.sign_in_client()
            for _ in range(3):
                assert (await _attempt(http, client, customer.email, "wrong-password-123")).status_code == 400
            assert (await _attempt(http, client, customer.email, customer.password)).status_code == 303


class TestRegistrationThrottling:
    async def test_registrations_from_one_address_are_limited(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        limited = settings.model_copy(update={"identity_register_ip_limit": 2})
        async with identity_app(limited, database_url) as (http, _):
            for n in range(2):
                response = await http.post(
                    "/v1/customers", json={"email": f"bot{n}@example.com", "password": "quiet-otter-paints-9"}
                )
                assert response.status_code == 201
            blocked = await http.post(
                "/v1/customers", json={"email": "bot9@example.com", "password": "quiet-otter-paints-9"}
            )
            assert_problem(blocked, 429, "too-many-registrations")
            assert int(blocked.headers["retry-after"]) > 0
