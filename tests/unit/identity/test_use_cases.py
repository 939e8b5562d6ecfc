"""The identity use cases against in-memory fakes: registration, addresses, sign-in, grants."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from orderly.modules.identity.application.accounts import (
    add_address,
    change_address,
    create_client,
    register_customer,
    remove_address,
)
from orderly.modules.identity.application.authorize import (
    AuthorizationDenied,
    AuthorizationRequest,
    AuthorizationService,
    SignInFailed,
    SignInPolicy,
    SignInThrottled,
    UnsafeAuthorizationRequest,
)
from orderly.modules.identity.application.commands import (
    AddAddress,
    ChangeAddress,
    CreateClient,
    RegisterCustomer,
    RemoveAddress,
)
from orderly.modules.identity.application.errors import OAuthError
from orderly.modules.identity.application.tokens import ClientCredentials, TokenPolicy, TokenService
from orderly.modules.identity.contracts import CustomerRegistered
from orderly.modules.identity.domain.accounts import EmailTaken
from orderly.modules.identity.domain.grants import s256
from orderly.shared_kernel.errors import InvalidInput, NotFound
from tests.unit.identity.fakes import Clock, FakeHasher, FakeLimiter, FakeSigner, FakeUnitOfWork, Store

PASSWORD = "violet-harbour-lantern-7"
VERIFIER = "v" * 50
REDIRECT = "https://shop.example.com/cb"


class World:
    """One set of fakes wired like the module wires the real adapters."""

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
                account_limit=3, address_limit=10, window_s=900, code_ttl=timedelta(minutes=5)
            ),
            clock=self.clock,
        )

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    async def customer(self, email: str = "ada@example.com") -> uuid.UUID:
        return await register_customer(
            RegisterCustomer(email=email, password=PASSWORD), uow=self.uow(), hasher=self.hasher
        )

    async def shop(self) -> str:
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
        return created.client.client_id

    def request(self, client_id: str, **overrides: str | None) -> AuthorizationRequest:
        values: dict[str, str | None] = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "scope": None,
            "state": "s1",
            "code_challenge": s256(VERIFIER),
            "code_challenge_method": "S256",
        }
        values.update(overrides)
        return AuthorizationRequest(**values)

    async def code(self, client_id: str, email: str = "ada@example.com") -> str:
        validated = await self.authz.validate(self.request(client_id))
        return await self.authz.sign_in(validated, email=email, password=PASSWORD, client_address="10.0.0.1")

    async def tokens_for(self, client_id: str) -> tuple[str, str]:
        client = await self.tokens.authenticate_client(ClientCredentials(client_id=client_id, secret=None))
        code = await self.code(client_id)
        issued = await self.tokens.exchange_code(
            client, code=code, redirect_uri=REDIRECT, code_verifier=VERIFIER
        )
        assert issued.refresh_token is not None
        return issued.access_token, issued.refresh_token


class TestRegisterCustomer:
    async def test_a_customer_is_stored_with_a_hash_and_announced(self) -> None:
        world = World()
        customer_id = await world.customer("  Ada@Example.COM ")
        customer = world.store.customers[customer_id]
        assert customer.email.value == "Ada@example.com"
        assert customer.password_hash == f"fake${PASSWORD}"
        assert [type(e) for e in world.store.events] == [CustomerRegistered]

    async def test_the_same_address_in_another_case_is_taken(self) -> None:
        world = World()
        await world.customer("ada@example.com")
        with pytest.raises(EmailTaken):
            await world.customer("ADA@example.com")
        assert len(world.store.customers) == 1

    async def test_a_weak_password_is_refused_before_anything_is_hashed_or_stored(self) -> None:
        world = World()
        with pytest.raises(InvalidInput):
            await register_customer(
                RegisterCustomer(email="a@example.com", password="password1234"),
                uow=world.uow(),
                hasher=world.hasher,
            )
        assert world.store.commits == 0


class TestAddresses:
    async def test_an_address_belongs_to_its_customer_only(self) -> None:
        world = World()
        ada, eve = await world.customer("ada@example.com"), await world.customer("eve@example.com")
        address_id = await add_address(
            AddAddress(customer_id=ada, recipient="Ada", line1="1 Road", city="London", country="gb"),
            uow=world.uow(),
        )
        assert world.store.addresses[address_id].fields.country == "GB"
        with pytest.raises(NotFound):
            await change_address(
                ChangeAddress(customer_id=eve, address_id=address_id, changes={"city": "X"}), uow=world.uow()
            )
        with pytest.raises(NotFound):
            await remove_address(RemoveAddress(customer_id=eve, address_id=address_id), uow=world.uow())
        assert world.store.addresses[address_id].fields.city == "London"

    async def test_required_fields_cannot_be_blanked_and_owner_cannot_change(self) -> None:
        world = World()
        ada = await world.customer()
        address_id = await add_address(
            AddAddress(customer_id=ada, recipient="Ada", line1="1 Road", city="London", country="GB"),
            uow=world.uow(),
        )
        with pytest.raises(InvalidInput):
            await change_address(
                ChangeAddress(customer_id=ada, address_id=address_id, changes={"city": None}), uow=world.uow()
            )
        with pytest.raises(InvalidInput):
            await change_address(
                ChangeAddress(
                    customer_id=ada, address_id=address_id, changes={"customer_id": str(uuid.uuid4())}
                ),
                uow=world.uow(),
            )


class TestAuthorizationRequests:
    async def test_an_unknown_client_or_unregistered_redirect_is_never_redirected_to(self) -> None:
        world = World()
        client_id = await world.shop()
        for request in (
            world.request("cli_unknown"),
            world.request(client_id, redirect_uri=REDIRECT + "/"),
            world.request(client_id, redirect_uri=None),
        ):
            with pytest.raises(UnsafeAuthorizationRequest):
                await world.authz.validate(request)
        with pytest.raises(UnsafeAuthorizationRequest):
            await world.authz.validate(world.request(client_id), repeated={"redirect_uri"})

    @pytest.mark.parametrize(
        ("override", "error"),
        [
            ({"response_type": "token"}, "unsupported_response_type"),
            ({"code_challenge_method": "plain"}, "invalid_request"),
            ({"code_challenge_method": None}, "invalid_request"),
            ({"code_challenge": None}, "invalid_request"),
            ({"code_challenge": "too-short"}, "invalid_request"),
            ({"scope": "catalog:write"}, "invalid_scope"),
            ({"state": "x" * 2000}, "invalid_request"),
        ],
    )
    async def test_other_errors_go_back_to_the_verified_redirect_uri(
        self, override: dict[str, str | None], error: str
    ) -> None:
        world = World()
        client_id = await world.shop()
        with pytest.raises(AuthorizationDenied) as denied:
            await world.authz.validate(world.request(client_id, **override))
        assert denied.value.error == error
        assert denied.value.redirect_uri == REDIRECT


class TestSignIn:
    async def test_failures_are_counted_and_throttle_the_account(self) -> None:
        world = World()
        client_id = await world.shop()
        await world.customer()
        validated = await world.authz.validate(world.request(client_id))
        for _ in range(3):
            with pytest.raises(SignInFailed):
                await world.authz.sign_in(
                    validated, email="ada@example.com", password="nope-nope-nope", client_address="1.2.3.4"
                )
        with pytest.raises(SignInThrottled):
            await world.authz.sign_in(
                validated, email="ada@example.com", password=PASSWORD, client_address="1.2.3.4"
            )

    async def test_unknown_accounts_cost_a_dummy_hash_check(self) -> None:
        world = World()
        client_id = await world.shop()
        validated = await world.authz.validate(world.request(client_id))
        with pytest.raises(SignInFailed):
            await world.authz.sign_in(
                validated, email="ghost@example.com", password=PASSWORD, client_address="1.2.3.4"
            )
        assert world.hasher.dummy_checks == 1

    async def test_an_outdated_hash_is_upgraded_on_sign_in(self) -> None:
        world = World()
        world.hasher.upgrade = True
        client_id = await world.shop()
        customer_id = await world.customer()
        world.store.customers[customer_id].password_hash = f"old${PASSWORD}"
        await world.code(client_id)
        assert world.store.customers[customer_id].password_hash == f"fake${PASSWORD}"


class TestTokenGrants:
    async def test_code_exchange_issues_tokens_bound_to_the_customer(self) -> None:
        world = World()
        client_id = await world.shop()
        customer_id = await world.customer()
        access, _ = await world.tokens_for(client_id)
        claims = world.signer.issued[access]
        assert claims["sub"] == str(customer_id)
        assert claims["client_id"] == client_id
        assert claims["scope"] == "me:read me:write"

    async def test_refresh_rotation_and_replay_revocation(self) -> None:
        world = World()
        client_id = await world.shop()
        await world.customer()
        _, refresh = await world.tokens_for(client_id)
        client = world.store.clients[client_id]
        rotated = await world.tokens.refresh(client, refresh_token=refresh, scope=None)
        assert rotated.refresh_token is not None
        with pytest.raises(OAuthError, match="already used"):
            await world.tokens.refresh(client, refresh_token=refresh, scope=None)
        with pytest.raises(OAuthError, match="revoked"):
            await world.tokens.refresh(client, refresh_token=rotated.refresh_token, scope=None)
        (family,) = world.store.families.values()
        assert family.revoked_reason == "refresh token reused"

    async def test_a_family_ends_at_its_absolute_expiry_however_often_it_rotates(self) -> None:
        world = World()
        client_id = await world.shop()
        await world.customer()
        _, refresh = await world.tokens_for(client_id)
        client = world.store.clients[client_id]
        for _ in range(3):
            world.clock.advance(days=9)
            issued = await world.tokens.refresh(client, refresh_token=refresh, scope=None)
            assert issued.refresh_token is not None
            refresh = issued.refresh_token
        world.clock.advance(days=4)  # 31 days after sign-in
        with pytest.raises(OAuthError, match="expired"):
            await world.tokens.refresh(client, refresh_token=refresh, scope=None)

    async def test_an_idle_refresh_token_expires(self) -> None:
        world = World()
        client_id = await world.shop()
        await world.customer()
        _, refresh = await world.tokens_for(client_id)
        world.clock.advance(days=15)
        with pytest.raises(OAuthError, match="expired"):
            await world.tokens.refresh(world.store.clients[client_id], refresh_token=refresh, scope=None)

    async def test_a_deleted_account_cannot_refresh(self) -> None:
        world = World()
        client_id = await world.shop()
        customer_id = await world.customer()
        _, refresh = await world.tokens_for(client_id)
        del world.store.customers[customer_id]
        with pytest.raises(OAuthError, match="no longer exists"):
            await world.tokens.refresh(world.store.clients[client_id], refresh_token=refresh, scope=None)

    async def test_public_clients_present_no_secret_and_confidential_ones_must(self) -> None:
        world = World()
        client_id = await world.shop()
        with pytest.raises(OAuthError) as public_with_secret:
            await world.tokens.authenticate_client(ClientCredentials(client_id=client_id, secret="anything"))
        assert public_with_secret.value.error == "invalid_client"
        created = await create_client(CreateClient(name="Sync", scopes="inventory:read"), uow=world.uow())
        with pytest.raises(OAuthError):
            await world.tokens.authenticate_client(
                ClientCredentials(client_id=created.client.client_id, secret=None)
            )
        assert created.client_secret is not None
        authenticated = await world.tokens.authenticate_client(
            ClientCredentials(client_id=created.client.client_id, secret=created.client_secret)
        )
        assert authenticated.client_id == created.client.client_id
