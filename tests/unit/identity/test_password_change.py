"""Changing a password against in-memory fakes: the checks, their order, and the sessions it ends."""

from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import timedelta

import pytest

from orderly.modules.identity.application.accounts import (
    create_client,
    create_staff_member,
    register_customer,
)
from orderly.modules.identity.application.authorize import (
    AuthorizationRequest,
    AuthorizationService,
    SignInFailed,
    SignInPolicy,
    SignInThrottled,
)
from orderly.modules.identity.application.commands import (
    ChangePassword,
    CreateClient,
    CreateStaffMember,
    RegisterCustomer,
)
from orderly.modules.identity.application.errors import OAuthError
from orderly.modules.identity.application.passwords import (
    AttemptPolicy,
    PasswordService,
    WrongCurrentPassword,
)
from orderly.modules.identity.application.ports import AccessTokenRecord
from orderly.modules.identity.application.tokens import ClientCredentials, TokenPolicy, TokenService
from orderly.modules.identity.contracts import PasswordChanged
from orderly.modules.identity.domain.accounts import WeakPassword
from orderly.modules.identity.domain.clients import Client
from orderly.modules.identity.domain.grants import SubjectKind, s256
from orderly.shared_kernel.errors import ConcurrencyConflict, NotFound
from tests.unit.identity.fakes import Clock, FakeHasher, FakeLimiter, FakeSigner, FakeUnitOfWork, Store

OLD = "violet-harbour-lantern-7"
NEW = "quiet-orchard-compass-42"
EMAIL = "ada@example.com"
VERIFIER = "v" * 50
REDIRECT = "https://shop.example.com/cb"
ACCOUNT_LIMIT = 3


class World:
    """Sign-in, tokens and password changes over one store, wired like the module wires them."""

    def __init__(self) -> None:
        self.store = Store()
        self.clock = Clock()
        self.hasher = FakeHasher()
        self.limiter = FakeLimiter()
        self.signer = FakeSigner()
        self.tokens = TokenService(
            uow_factory=self.uow,
            signer=self.signer,
            policy=TokenPolicy(
                issuer="https://orderly.test",
                audience="orderly",
                access_ttl=timedelta(minutes=10),
                refresh_idle=timedelta(days=14),
                refresh_max=timedelta(days=30),
            ),
            clock=self.clock,
        )
        self.authz = AuthorizationService(
            uow_factory=self.uow,
            hasher=self.hasher,
            limiter=self.limiter,
            policy=SignInPolicy(
                account_limit=ACCOUNT_LIMIT, address_limit=100, window_s=900, code_ttl=timedelta(minutes=5)
            ),
            clock=self.clock,
        )
        self.passwords = PasswordService(
            uow_factory=self.uow,
            hasher=self.hasher,
            limiter=self.limiter,
            policy=AttemptPolicy(account_limit=ACCOUNT_LIMIT, window_s=900),
            clock=self.clock,
        )

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    async def customer(self) -> uuid.UUID:
        return await register_customer(
            RegisterCustomer(email=EMAIL, password=OLD), uow=self.uow(), hasher=self.hasher
        )

    async def shop(self) -> Client:
        created = await create_client(
            CreateClient(
                name="Shop",
                scopes="me:read me:write",
                redirect_uris=(REDIRECT,),
                public=True,
                sign_in="customer",
            ),
            uow=self.uow(),
            now=self.clock,
        )
        return created.client

    async def code(self, client: Client, *, password: str = OLD) -> str:
        request = AuthorizationRequest(
            response_type="code",
            client_id=client.client_id,
            redirect_uri=REDIRECT,
            scope=None,
            state="s1",
            code_challenge=s256(VERIFIER),
            code_challenge_method="S256",
        )
        validated = await self.authz.validate(request)
        return await self.authz.sign_in(validated, email=EMAIL, password=password, client_address="10.0.0.1")

    async def exchange(self, client: Client, code: str) -> tuple[uuid.UUID, str]:
        """The new sign-in's access-token id (its ``jti``) and refresh token."""
        issued = await self.tokens.exchange_code(
            client, code=code, redirect_uri=REDIRECT, code_verifier=VERIFIER
        )
        assert issued.refresh_token is not None
        return uuid.UUID(self.signer.issued[issued.access_token]["jti"]), issued.refresh_token

    async def sign_in(self, client: Client, *, password: str = OLD) -> tuple[uuid.UUID, str]:
        return await self.exchange(client, await self.code(client, password=password))

    async def refresh(self, client: Client, refresh_token: str) -> None:
        authenticated = await self.tokens.authenticate_client(
            ClientCredentials(client_id=client.client_id, secret=None)
        )
        await self.tokens.refresh(authenticated, refresh_token=refresh_token, scope=None)

    async def change(
        self,
        subject: uuid.UUID,
        *,
        current: str = OLD,
        new: str = NEW,
        session: uuid.UUID | None = None,
        kind: SubjectKind = "customer",
    ) -> None:
        await self.passwords.change(
            ChangePassword(
                subject=subject,
                subject_kind=kind,
                current_password=current,
                new_password=new,
                session=session,
            )
        )


class TestTheNewPasswordReplacesTheOld:
    async def test_only_the_new_password_signs_in_afterwards(self) -> None:
        world = World()
        shop = await world.shop()
        customer_id = await world.customer()
        await world.change(customer_id)
        assert world.store.customers[customer_id].password_hash == f"fake${NEW}"
        with pytest.raises(SignInFailed):
            await world.code(shop, password=OLD)
        await world.code(shop, password=NEW)

    async def test_the_change_is_announced_without_any_password_or_hash(self) -> None:
        world = World()
        customer_id = await world.customer()
        await world.change(customer_id)
        event = world.store.events[-1]
        assert isinstance(event, PasswordChanged)
        assert (event.aggregate_id, event.subject_id, event.subject_kind) == (
            str(customer_id),
            str(customer_id),
            "customer",
        )
        assert {f.name for f in fields(event)} == {
            "event_id",
            "occurred_at",
            "aggregate_id",
            "subject_id",
            "subject_kind",
        }

    async def test_a_staff_member_changes_theirs_the_same_way(self) -> None:
        world = World()
        staff_id = await create_staff_member(
            CreateStaffMember(email="bob@example.com", password=OLD, role="support"),
            uow=world.uow(),
            hasher=world.hasher,
        )
        await world.change(staff_id, kind="staff")
        assert world.store.staff[staff_id].password_hash == f"fake${NEW}"
        event = world.store.events[-1]
        assert isinstance(event, PasswordChanged)
        assert event.subject_kind == "staff"

    async def test_a_hash_made_with_old_parameters_is_replaced_by_a_current_one(self) -> None:
        world = World()
        customer_id = await world.customer()
        world.store.customers[customer_id].password_hash = f"old${OLD}"
        await world.change(customer_id)
        assert world.store.customers[customer_id].password_hash == f"fake${NEW}"


class TestOtherSignInsEnd:
    async def test_every_other_sign_in_ends_and_the_callers_own_stays(self) -> None:
        world = World()
        shop = await world.shop()
        customer_id = await world.customer()
        mine, my_refresh = await world.sign_in(shop)
        _, other_refresh = await world.sign_in(shop)
        await world.change(customer_id, session=mine)
        with pytest.raises(OAuthError, match="revoked") as refused:
            await world.refresh(shop, other_refresh)
        assert refused.value.error == "invalid_grant"
        await world.refresh(shop, my_refresh)
        reasons = sorted(str(f.revoked_reason) for f in world.store.families.values())
        assert reasons == ["None", "password changed"]

    async def test_without_a_known_session_every_sign_in_ends(self) -> None:
        world = World()
        shop = await world.shop()
        customer_id = await world.customer()
        _, first = await world.sign_in(shop)
        _, second = await world.sign_in(shop)
        await world.change(customer_id, session=uuid.uuid4())
        for refresh in (first, second):
            with pytest.raises(OAuthError, match="revoked"):
                await world.refresh(shop, refresh)

    async def test_another_subjects_token_id_keeps_no_sign_in(self) -> None:
        world = World()
        shop = await world.shop()
        customer_id = await world.customer()
        _, refresh = await world.sign_in(shop)
        (family_id,) = world.store.families
        foreign = uuid.uuid4()
        world.store.access_tokens[foreign] = AccessTokenRecord(
            jti=foreign,
            client_id=shop.client_id,
            subject=str(uuid.uuid4()),
            family_id=family_id,
            expires_at=world.clock.now + timedelta(minutes=10),
        )
        await world.change(customer_id, session=foreign)
        with pytest.raises(OAuthError, match="revoked"):
            await world.refresh(shop, refresh)

    async def test_a_code_issued_before_the_change_can_no_longer_be_exchanged(self) -> None:
        world = World()
        shop = await world.shop()
        customer_id = await world.customer()
        code = await world.code(shop)
        await world.change(customer_id)
        with pytest.raises(OAuthError, match="expired"):
            await world.exchange(shop, code)


class TestTheCurrentPasswordIsProved:
    async def test_wrong_guesses_count_with_sign_in_failures_and_then_throttle_even_the_right_one(
        self,
    ) -> None:
        world = World()
        shop = await world.shop()
        customer_id = await world.customer()
        for _ in range(ACCOUNT_LIMIT - 1):
            with pytest.raises(WrongCurrentPassword):
                await world.change(customer_id, current="not-the-password-1")
        with pytest.raises(SignInFailed):
            await world.code(shop, password="not-the-password-2")
        with pytest.raises(SignInThrottled):
            await world.change(customer_id)
        assert world.store.customers[customer_id].password_hash == f"fake${OLD}"

    async def test_a_wrong_guess_is_answered_alike_whatever_the_new_password(self) -> None:
        world = World()
        customer_id = await world.customer()
        for new in ("short", NEW, "not-the-password-1"):
            with pytest.raises(WrongCurrentPassword):
                await world.change(customer_id, current="not-the-password-1", new=new)

    async def test_the_right_password_clears_the_accounts_failures(self) -> None:
        world = World()
        customer_id = await world.customer()
        for _ in range(ACCOUNT_LIMIT - 1):
            with pytest.raises(WrongCurrentPassword):
                await world.change(customer_id, current="not-the-password-1")
        await world.change(customer_id)
        with pytest.raises(WrongCurrentPassword):
            await world.change(customer_id, current="not-the-password-1", new=OLD)
        await world.change(customer_id, current=NEW, new=OLD)

    async def test_an_overlong_current_password_is_wrong_without_being_hashed(self) -> None:
        world = World()
        customer_id = await world.customer()
        with pytest.raises(WrongCurrentPassword):
            await world.change(customer_id, current="x" * 257)


class TestTheNewPasswordFollowsTheRule:
    @pytest.mark.parametrize(
        ("new", "reason"),
        [(OLD, "differ from the current"), ("password1234", "too common"), ("short-pass1", "at least 12")],
    )
    async def test_a_weak_or_unchanged_new_password_is_refused_naming_new_password(
        self, new: str, reason: str
    ) -> None:
        world = World()
        shop = await world.shop()
        customer_id = await world.customer()
        _, refresh = await world.sign_in(shop)
        with pytest.raises(WeakPassword, match=reason) as refused:
            await world.change(customer_id, new=new)
        assert refused.value.details["field"] == "new_password"
        assert world.store.customers[customer_id].password_hash == f"fake${OLD}"
        await world.refresh(shop, refresh)
        assert not any(isinstance(e, PasswordChanged) for e in world.store.events)


class TestRefusals:
    async def test_an_account_that_is_gone_or_disabled_is_not_found(self) -> None:
        world = World()
        staff_id = await create_staff_member(
            CreateStaffMember(email="bob@example.com", password=OLD, role="support"),
            uow=world.uow(),
            hasher=world.hasher,
        )
        world.store.staff[staff_id].active = False
        cases: list[tuple[uuid.UUID, SubjectKind]] = [(staff_id, "staff"), (uuid.uuid4(), "customer")]
        for subject, kind in cases:
            with pytest.raises(NotFound):
                await world.change(subject, kind=kind)

    async def test_a_password_changed_meanwhile_is_a_conflict_and_nothing_is_stored(self) -> None:
        world = World()
        shop = await world.shop()
        customer_id = await world.customer()
        _, refresh = await world.sign_in(shop)
        hash_new_password = world.hasher.hash

        async def racing_hash(password: str) -> str:
            # Another request stores its own new password while this one hashes.
            world.store.customers[customer_id].password_hash = "fake$someone-elses-new-password"
            return await hash_new_password(password)

        world.hasher.hash = racing_hash  # type: ignore[method-assign]
        with pytest.raises(ConcurrencyConflict):
            await world.change(customer_id)
        assert world.store.customers[customer_id].password_hash == "fake$someone-elses-new-password"
        await world.refresh(shop, refresh)

    async def test_a_sign_in_upgrading_the_old_hash_meanwhile_does_not_bring_the_old_password_back(
        self,
    ) -> None:
        world = World()
        world.hasher.upgrade = True
        shop = await world.shop()
        customer_id = await world.customer()
        world.store.customers[customer_id].password_hash = f"old${OLD}"
        verify = world.hasher.verify

        async def change_while_verifying(password: str, password_hash: str | None) -> tuple[bool, str | None]:
            answer = await verify(password, password_hash)
            if password == OLD and world.store.customers[customer_id].password_hash == f"old${OLD}":
                # The sign-in has checked the old password; the change commits now.
                world.hasher.verify = verify  # type: ignore[method-assign]
                await world.change(customer_id)
            return answer

        world.hasher.verify = change_while_verifying  # type: ignore[method-assign]
        await world.code(shop, password=OLD)
        assert world.store.customers[customer_id].password_hash == f"fake${NEW}"
