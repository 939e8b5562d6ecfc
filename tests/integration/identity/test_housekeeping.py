"""Housekeeping deletes spent grants an hour after they expire, and nothing that may still be used."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.identity.adapters.housekeeping import purge_once
from orderly.modules.identity.adapters.keystore import SqlKeyStore
from orderly.modules.identity.adapters.tables import (
    access_tokens,
    authorization_codes,
    refresh_tokens,
    token_families,
)
from orderly.shared_kernel.domain import utcnow


async def _count(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


async def _seed(engine: AsyncEngine, *, expired_ago: timedelta) -> None:
    now = utcnow()
    expires_at = now - expired_ago
    family_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            insert(authorization_codes).values(
                code_hash=uuid.uuid4().hex * 2,
                client_id="cli_x",
                redirect_uri="https://shop.example.com/cb",
                subject="s",
                subject_kind="customer",
                scopes=["me:read"],
                code_challenge="c" * 43,
                created_at=expires_at - timedelta(minutes=5),
                expires_at=expires_at,
            )
        )
        await conn.execute(
            insert(token_families).values(
                id=family_id,
                client_id="cli_x",
                subject="s",
                subject_kind="customer",
                scopes=["me:read"],
                created_at=expires_at - timedelta(days=30),
                expires_at=expires_at,
            )
        )
        await conn.execute(
            insert(refresh_tokens).values(
                token_hash=uuid.uuid4().hex * 2,
                family_id=family_id,
                issued_at=expires_at,
                expires_at=expires_at,
            )
        )
        await conn.execute(
            insert(access_tokens).values(
                jti=uuid.uuid4(), client_id="cli_x", subject="s", family_id=family_id, expires_at=expires_at
            )
        )


class TestHousekeeping:
    async def test_grants_expired_over_an_hour_ago_go_and_recent_ones_stay(self, engine: AsyncEngine) -> None:
        await _seed(engine, expired_ago=timedelta(hours=2))
        await _seed(engine, expired_ago=timedelta(minutes=10))  # a late replay must still be recognised
        await _seed(engine, expired_ago=-timedelta(days=1))  # not expired at all
        keys = SqlKeyStore(
            engine,
            issuer="https://orderly.test",
            key_encryption_key=None,
            lead_time=timedelta(0),
            retired_publication=timedelta(0),
        )
        removed = await purge_once(engine, keys)
        assert removed == 3  # code, access token, family (its refresh token goes with it)
        for table in (authorization_codes, token_families, refresh_tokens, access_tokens):
            assert await _count(engine, table) == 2, table
