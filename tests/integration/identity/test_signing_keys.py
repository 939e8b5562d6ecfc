"""Signing keys in PostgreSQL: sealed at rest, one active at a time, rotation seen by every process."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from datetime import timedelta

import pytest
from joserfc import jws, jwt
from joserfc.jwk import KeySet
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.identity.adapters.keystore import KeyStoreError, SqlKeyStore, parse_key_encryption_key
from orderly.modules.identity.adapters.tables import signing_keys

ISSUER = "https://orderly.test"


def _kek() -> bytes:
    return os.urandom(32)


def _store(engine: AsyncEngine, kek: bytes | None, *, lead: float = 0) -> SqlKeyStore:
    return SqlKeyStore(
        engine,
        issuer=ISSUER,
        key_encryption_key=kek,
        lead_time=timedelta(seconds=lead),
        retired_publication=timedelta(minutes=11),
    )


def _kid(token: str) -> str:
    return str(jws.extract_compact(token.encode()).headers()["kid"])


def _claims() -> dict[str, object]:
    return {
        "iss": ISSUER,
        "sub": "s",
        "aud": "orderly",
        "exp": 4_000_000_000,
        "jti": "00000000-0000-0000-0000-000000000001",
    }


class TestKeysAtRest:
    async def test_with_a_key_encryption_key_the_private_key_is_sealed(self, engine: AsyncEngine) -> None:
        store = _store(engine, _kek())
        await store.ensure_keys()
        async with engine.connect() as conn:
            rows = (await conn.execute(select(signing_keys))).all()
        assert {row.encryption for row in rows} == {"A256GCM"}
        for row in rows:
            # Neither the private scalar's JSON member nor any public coordinate is readable.
            assert b'"d"' not in row.private_key
            assert row.public_jwk["x"].encode() not in row.private_key
            assert "d" not in row.public_jwk

    async def test_sealed_keys_sign_tokens_that_verify_with_the_published_jwks(
        self, engine: AsyncEngine
    ) -> None:
        store = _store(engine, _kek())
        token = await store.sign(_claims())
        keys = KeySet.import_key_set(dict(await store.fetch()))  # type: ignore[arg-type]
        assert jwt.decode(token, keys, algorithms=["ES256"]).claims["sub"] == "s"
        assert await store.decode_own(token) == _claims()

    async def test_without_the_key_encryption_key_sealed_keys_cannot_be_used(
        self, engine: AsyncEngine
    ) -> None:
        await _store(engine, _kek()).ensure_keys()
        with pytest.raises(KeyStoreError, match="ORDERLY_IDENTITY_KEY_ENCRYPTION_KEY"):
            await _store(engine, None).sign(_claims())
        with pytest.raises(KeyStoreError, match="does not open"):
            await _store(engine, _kek()).sign(_claims())

    async def test_a_sealed_key_moved_onto_another_row_does_not_open(self, engine: AsyncEngine) -> None:
        kek = _kek()
        await _store(engine, kek).ensure_keys()
        async with engine.begin() as conn:
            rows = {r.status: r for r in (await conn.execute(select(signing_keys))).all()}
            # Put the next key's sealed private key on the active key's row.
            await conn.execute(
                update(signing_keys)
                .where(signing_keys.c.status == "active")
                .values(private_key=rows["next"].private_key)
            )
        with pytest.raises(KeyStoreError, match="does not open"):
            await _store(engine, kek).sign(_claims())

    async def test_without_a_key_encryption_key_keys_are_stored_plain_and_marked_so(
        self, engine: AsyncEngine
    ) -> None:
        store = _store(engine, None)
        await store.ensure_keys()
        async with engine.connect() as conn:
            rows = (await conn.execute(select(signing_keys.c.encryption, signing_keys.c.private_key))).all()
        assert {row.encryption for row in rows} == {"none"}
        assert all("d" in json.loads(row.private_key) for row in rows)

    def test_the_key_encryption_key_setting_must_be_32_bytes_of_base64url(self) -> None:
        assert parse_key_encryption_key(None) is None
        good = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        assert parse_key_encryption_key(good) is not None
        for bad in ("not base64 !", base64.urlsafe_b64encode(b"short").decode()):
            with pytest.raises(KeyStoreError):
                parse_key_encryption_key(bad)


class TestActiveKey:
    async def test_concurrent_first_starts_create_exactly_one_active_and_one_next_key(
        self, engine: AsyncEngine
    ) -> None:
        stores = [_store(engine, None) for _ in range(5)]
        await asyncio.gather(*(s.ensure_keys() for s in stores))
        async with engine.connect() as conn:
            statuses = sorted((await conn.execute(select(signing_keys.c.status))).scalars())
        assert statuses == ["active", "next"]

    async def test_the_database_refuses_a_second_active_key(self, engine: AsyncEngine) -> None:
        await _store(engine, None).ensure_keys()
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(update(signing_keys).values(status="active"))

    async def test_a_rotation_in_one_process_is_used_by_the_next_token_of_another(
        self, engine: AsyncEngine
    ) -> None:
        api, operator = _store(engine, None), _store(engine, None)
        before = await api.sign(_claims())
        result = await operator.rotate()
        after = await api.sign(_claims())
        assert _kid(before) == result.retired
        assert _kid(after) == result.active
