"""Signing-key rotation under traffic: no request fails, old tokens keep verifying."""

from __future__ import annotations

import asyncio
import time

import pytest
from joserfc import jws
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.identity.domain.keys import RotationRefused
from orderly.platform.settings import Settings
from tests.support.auth import authorization_code_flow, bearer, identity_app, token_request

LEAD_S = 0.6


def _kid(token: str) -> str:
    return str(jws.extract_compact(token.encode()).headers()["kid"])


class TestKeyRotation:
    async def test_zero_failed_requests_across_two_rotations(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        rotating = settings.model_copy(
            update={
                "identity_key_publish_lead_s": LEAD_S,
                # Verifiers refresh their key cache faster than keys become usable...
                "auth_jwks_cache_s": LEAD_S / 3,
                # ...so the unknown-kid refetch is never what saves a request.
                "auth_jwks_refetch_interval_s": 600,
            }
        )
        async with identity_app(rotating, database_url) as (http, kit):
            customer = await kit.customer()
            client = await kit.sign_in_client()
            first = await authorization_code_flow(
                http, client, email=customer.email, password=customer.password
            )
            oldest_access, refresh = first.access_token, first.refresh_token
            failures: list[str] = []
            kids: list[str] = []
            requests = 0
            stop = asyncio.Event()

            async def traffic() -> None:
                nonlocal refresh, requests
                while not stop.is_set():
                    answer = await token_request(
                        http,
                        {
                            "grant_type": "refresh_token",
                            "refresh_token": refresh,
                            "client_id": client.client_id,
                        },
                    )
                    if answer.status != 200:
                        failures.append(f"refresh {answer.status} {answer.body}")
                        return
                    refresh = answer.refresh_token
                    kids.append(_kid(answer.access_token))
                    for token in (answer.access_token, oldest_access):
                        response = await http.get("/v1/me", headers=bearer(token))
                        requests += 1
                        if response.status_code != 200:
                            failures.append(f"{_kid(token)}: {response.status_code} {response.text}")

            worker = asyncio.create_task(traffic())
            started = time.monotonic()
            for _ in range(2):
                await asyncio.sleep(LEAD_S * 1.5)
                result = await kit.identity.rotate_keys()
                assert result.retired is not None
            await asyncio.sleep(LEAD_S)
            stop.set()
            await asyncio.wait_for(worker, timeout=30)

            assert failures == []
            assert len(set(kids)) == 3, kids  # the first key, then two promoted ones
            assert requests >= 20
            assert time.monotonic() - started < 30
            # The very first token, signed by a key retired twice over, still verifies.
            assert (await http.get("/v1/me", headers=bearer(oldest_access))).status_code == 200
            published = {k["kid"] for k in (await http.get("/oauth/jwks")).json()["keys"]}
            assert _kid(oldest_access) in published
            assert len(published) == 4  # two retired, the active one, the next one

    async def test_rotation_waits_until_the_next_key_has_been_published_long_enough(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        cautious = settings.model_copy(update={"identity_key_publish_lead_s": 900})
        async with identity_app(cautious, database_url) as (http, kit):
            await http.get("/oauth/jwks")  # the first start creates the active and the next key
            with pytest.raises(RotationRefused, match="Wait"):
                await kit.identity.rotate_keys()
            forced = await kit.identity.rotate_keys(force=True)
            assert forced.active != forced.next

    async def test_a_retired_key_leaves_the_jwks_once_its_tokens_have_expired(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        from sqlalchemy import update

        from orderly.modules.identity.adapters.tables import signing_keys
        from orderly.shared_kernel.domain import utcnow

        async with identity_app(
            settings.model_copy(update={"identity_key_publish_lead_s": 0}), database_url
        ) as (
            http,
            kit,
        ):
            await http.get("/oauth/jwks")
            rotated = await kit.identity.rotate_keys()
            assert rotated.retired in {k["kid"] for k in (await http.get("/oauth/jwks")).json()["keys"]}
            async with engine.begin() as conn:
                await conn.execute(
                    update(signing_keys)
                    .where(signing_keys.c.kid == rotated.retired)
                    .values(publish_until=utcnow())
                )
            assert rotated.retired not in {k["kid"] for k in (await http.get("/oauth/jwks")).json()["keys"]}
            assert await kit.identity.keys.purge_unpublished() == 1
