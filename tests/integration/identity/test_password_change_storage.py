"""What a password change writes, on PostgreSQL: which families and codes it ends, and
a hash that is only replaced while it is still the one that was verified."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.identity.adapters import tables
from orderly.modules.identity.adapters.repository import IdentitySqlUnitOfWork
from orderly.modules.identity.domain.accounts import Customer, Email
from orderly.modules.identity.domain.grants import AuthorizationCode, GrantRejected, TokenFamily
from orderly.shared_kernel.domain import utcnow

SUBJECT = str(uuid.uuid4())


def _uow(engine: AsyncEngine) -> IdentitySqlUnitOfWork:
    return IdentitySqlUnitOfWork(engine, outbox=tables.outbox, inbox=tables.inbox, partitions=1)


def _family(subject: str = SUBJECT) -> TokenFamily:
    return TokenFamily.start(
        client_id="cli_shop",
        subject=subject,
        subject_kind="customer",
        scopes=frozenset({"me:read"}),
        now=utcnow(),
        max_lifetime=timedelta(days=30),
    )


def _code(subject: str = SUBJECT) -> AuthorizationCode:
    code, _ = AuthorizationCode.issue(
        client_id="cli_shop",
        redirect_uri="https://shop.example.com/cb",
        subject=subject,
        subject_kind="customer",
        scopes=frozenset({"me:read"}),
        code_challenge="c" * 43,
        now=utcnow(),
        ttl=timedelta(minutes=5),
    )
    return code


class TestEndingSessions:
    async def test_every_live_family_of_the_subject_but_the_kept_one_is_revoked(
        self, engine: AsyncEngine
    ) -> None:
        kept, other, already, someone_elses = _family(), _family(), _family(), _family(str(uuid.uuid4()))
        already.revoke(now=utcnow(), reason="refresh token reused")
        async with _uow(engine) as uow:
            for family in (kept, other, already, someone_elses):
                await uow.grants.add_family(family)
                await uow.grants.save_family(family)
            await uow.commit()
        async with _uow(engine) as uow:
            ended = await uow.grants.revoke_families_of(
                subject=SUBJECT,
                subject_kind="customer",
                keep=kept.id,
                now=utcnow(),
                reason="password changed",
            )
            await uow.commit()
        assert ended == 1
        async with _uow(engine) as uow:
            stored = [await uow.grants.family(f.id) for f in (kept, other, already, someone_elses)]
        assert [f.revoked_reason if f else "gone" for f in stored] == [
            None,
            "password changed",
            "refresh token reused",
            None,
        ]

    async def test_unredeemed_codes_of_the_subject_expire_even_for_an_exchange_that_started_earlier(
        self, engine: AsyncEngine
    ) -> None:
        pending, spent, someone_elses = _code(), _code(), _code(str(uuid.uuid4()))
        # Its clock was read once the code existed, before the change ran.
        exchange_started = utcnow()
        spent.consume(now=utcnow(), family_id=uuid.uuid4())
        async with _uow(engine) as uow:
            for code in (pending, spent, someone_elses):
                await uow.grants.add_code(code)
                await uow.grants.save_code(code)
            await uow.commit()
        async with _uow(engine) as uow:
            assert await uow.grants.expire_codes_of(subject=SUBJECT, subject_kind="customer") == 1
            await uow.commit()
        async with _uow(engine) as uow:
            expired = await uow.grants.code_for_update(pending.code_hash)
            untouched = await uow.grants.code_for_update(someone_elses.code_hash)
        assert expired is not None
        assert untouched is not None
        with pytest.raises(GrantRejected, match="expired"):
            expired.check_redeemable(
                client_id="cli_shop",
                redirect_uri=expired.redirect_uri,
                verifier="v" * 50,
                now=exchange_started,
            )
        assert untouched.expires_at == someone_elses.expires_at


class TestStoringTheHash:
    async def test_a_hash_is_not_replaced_once_another_one_was_stored(self, engine: AsyncEngine) -> None:
        customer = Customer.register(
            email=Email.parse(f"ada-{uuid.uuid4().hex[:6]}@example.com"), password_hash="verified", name=None
        )
        async with _uow(engine) as uow:
            await uow.accounts.add_customer(customer)
            await uow.commit()
        customer.change_password("changed meanwhile")
        async with _uow(engine) as uow:
            await uow.accounts.save_password_hash(customer)
            await uow.commit()
        customer.rehash_password("stronger hash of the verified password")
        async with _uow(engine) as uow:
            await uow.accounts.save_password_hash(customer, replacing="verified")
            await uow.commit()
        async with _uow(engine) as uow:
            stored = await uow.accounts.customer(customer.id)
        assert stored is not None
        assert stored.password_hash == "changed meanwhile"
