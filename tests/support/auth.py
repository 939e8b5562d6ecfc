"""Access tokens for tests, from the real identity module of an app built by ``build_container``.

Quick start (an e2e test that needs a staff token and a customer token)::

    from tests.support.auth import AuthKit, bearer, identity_app

    async def test_catalog_write_needs_a_scope(settings, database_url, engine):
        async with identity_app(settings, database_url) as (client, kit):
            staff = await kit.staff_token(scopes={"catalog:write"})
            customer = await kit.customer()          # a registered customer + token
            r = await client.post("/v1/products", json=..., headers=bearer(staff))
            r = await client.get("/v1/me", headers=bearer(customer.token))

With an app you built yourself (``tests.support.http.app_client``'s
``customize`` hook hands you the FastAPI app)::

    apps = []
    async with app_client(settings, database_url, customize=apps.append) as client:
        kit = AuthKit.from_app(apps[0])

What the kit gives:

- ``staff_token(scopes=..., role="admin")``: creates a staff member and signs
  a token for them with the identity module's active key. ``scopes`` may be
  any set (also ones the role would not grant), to test 403s; left None, the
  role's scopes are used.
- ``customer(...)``: registers a customer (same rules as the API) and signs a
  customer token with the customer scopes; returns id, e-mail, password, token.
- ``service_token(scopes=...)``: a client-credentials-shaped token.
- ``sign(claims, header=...)``: anything signed with the real key, for tests
  that forge tokens (wrong ``aud``, expired, ...).
- ``authorization_code_flow(client, ...)``: the real browser flow through
  ``/oauth/authorize`` and ``/oauth/token``, for tests of the flow itself.

Tokens from ``staff_token``/``customer``/``service_token`` are signed exactly
like the token endpoint's, so every resource server accepts them, but they
skip the token endpoint (fast: no password check per token), so introspection
does not know them.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import redis.asyncio as aioredis
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from orderly.entrypoints.api import create_app
from orderly.entrypoints.bootstrap import Container, build_container
from orderly.modules.identity.adapters.passwords import Argon2PasswordHasher
from orderly.modules.identity.application.commands import CreateClient
from orderly.modules.identity.domain.accounts import Customer, Email, StaffMember
from orderly.modules.identity.domain.grants import s256
from orderly.modules.identity.domain.scopes import CUSTOMER_SCOPES, ROLE_SCOPES, Role, format_scope
from orderly.modules.identity.module import IdentityModule
from orderly.platform.settings import Settings
from orderly.shared_kernel.domain import utcnow
from orderly.shared_kernel.ids import new_id

BASE_URL = "http://orderly.test"
DEFAULT_PASSWORD = "tidy-walrus-plays-oboe-42"

# Hashing costs ~0.1 s; one hash of the default password serves every account the kit makes.
_HASHES: dict[str, str] = {}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class SignedInCustomer:
    id: uuid.UUID
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str | None
    redirect_uri: str


@dataclass(frozen=True)
class TokenResponse:
    status: int
    body: dict[str, Any]

    @property
    def access_token(self) -> str:
        return str(self.body["access_token"])

    @property
    def refresh_token(self) -> str:
        return str(self.body["refresh_token"])


class AuthKit:
    def __init__(self, identity: IdentityModule, settings: Settings, app: FastAPI | None = None) -> None:
        self.identity = identity
        self.settings = settings
        self.app = app

    @classmethod
    def from_container(cls, container: Container) -> AuthKit:
        for module in container.modules:
            if isinstance(module, IdentityModule):
                return cls(module, container.settings)
        raise LookupError(
            "this container runs without the identity module; include 'identity' in module_names"
        )

    @classmethod
    def from_app(cls, app: FastAPI) -> AuthKit:
        kit = cls.from_container(app.state.container)
        kit.app = app
        return kit

    async def sign(self, claims: Mapping[str, Any], *, header: Mapping[str, Any] | None = None) -> str:
        """Claims signed with the active key; ``header`` overrides (e.g. ``{"typ": "JWT"}``)."""
        if header is None:
            return await self.identity.keys.sign(claims)
        from joserfc import jwt

        kid, key = await self.identity.keys.active_key()
        full = {"alg": "ES256", "typ": "at+jwt", "kid": kid, **header}
        return jwt.encode(full, dict(claims), key, algorithms=[str(full["alg"])])

    def claims(
        self,
        *,
        subject: str,
        scopes: Iterable[str],
        client_id: str = "cli_test-kit",
        roles: Iterable[str] = (),
        ttl: timedelta | None = None,
    ) -> dict[str, Any]:
        """Claims exactly as the token endpoint writes them."""
        now = utcnow()
        lifetime = ttl if ttl is not None else timedelta(seconds=self.settings.identity_access_token_ttl_s)
        claims: dict[str, Any] = {
            "iss": self.settings.identity_issuer,
            "sub": subject,
            "aud": self.settings.auth_audience,
            "exp": int((now + lifetime).timestamp()),
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "jti": str(new_id()),
            "client_id": client_id,
            "scope": format_scope(set(scopes)),
        }
        if roles:
            claims["roles"] = list(roles)
        return claims

    async def staff_token(
        self, *, scopes: Iterable[str] | None = None, role: str = "admin", email: str | None = None
    ) -> str:
        member_role = Role(role)
        member = StaffMember.create(
            email=Email.parse(email or f"staff-{secrets.token_hex(4)}@orderly.test"),
            password_hash=await self._password_hash(DEFAULT_PASSWORD),
            role=member_role,
        )
        async with self.identity.unit_of_work() as uow:
            await uow.accounts.add_staff(member)
            await uow.commit()
        granted = ROLE_SCOPES[member_role] if scopes is None else set(scopes)
        return await self.sign(self.claims(subject=str(member.id), scopes=granted, roles=[member_role.value]))

    async def customer(
        self,
        *,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        name: str | None = None,
        scopes: Iterable[str] | None = None,
    ) -> SignedInCustomer:
        customer = Customer.register(
            email=Email.parse(email or f"customer-{secrets.token_hex(4)}@orderly.test"),
            password_hash=await self._password_hash(password),
            name=name,
        )
        async with self.identity.unit_of_work() as uow:
            await uow.accounts.add_customer(customer)
            await uow.commit()
        granted = CUSTOMER_SCOPES if scopes is None else set(scopes)
        token = await self.sign(self.claims(subject=str(customer.id), scopes=granted))
        return SignedInCustomer(id=customer.id, email=customer.email.value, password=password, token=token)

    async def customer_token(self, **kwargs: Any) -> str:
        return (await self.customer(**kwargs)).token

    async def service_token(self, *, scopes: Iterable[str], client_id: str = "cli_test-service") -> str:
        return await self.sign(self.claims(subject=client_id, client_id=client_id, scopes=scopes))

    async def sign_in_client(
        self,
        *,
        sign_in: str = "customer",
        scopes: Iterable[str] | None = None,
        redirect_uri: str = "https://shop.example.com/callback",
        public: bool = True,
    ) -> RegisteredClient:
        """A registered client for the authorization-code flow (public by default, like an SPA)."""
        granted = (
            scopes
            if scopes is not None
            else (CUSTOMER_SCOPES if sign_in == "customer" else ROLE_SCOPES[Role.ADMIN])
        )
        created = await self.identity.create_client(
            CreateClient(
                name=f"test {sign_in} app",
                scopes=format_scope(set(granted)),
                redirect_uris=(redirect_uri,),
                public=public,
                sign_in="staff" if sign_in == "staff" else "customer",
            )
        )
        return RegisteredClient(created.client.client_id, created.client_secret, redirect_uri)

    async def service_client(self, *, scopes: Iterable[str]) -> RegisteredClient:
        created = await self.identity.create_client(
            CreateClient(name="test service", scopes=format_scope(set(scopes)))
        )
        return RegisteredClient(created.client.client_id, created.client_secret, "")

    async def _password_hash(self, password: str) -> str:
        if password not in _HASHES:
            _HASHES[password] = await Argon2PasswordHasher().hash(password)
        return _HASHES[password]


class _FormReader(HTMLParser):
    """The sign-in page's form fields (hidden ones included)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "input":
            values = dict(attrs)
            if values.get("name"):
                self.fields[str(values["name"])] = values.get("value") or ""


def form_fields(html: str) -> dict[str, str]:
    reader = _FormReader()
    reader.feed(html)
    return reader.fields


def new_verifier() -> str:
    return secrets.token_urlsafe(48)


def authorize_params(
    client: RegisteredClient,
    *,
    verifier: str,
    state: str | None = "st-123",
    scope: str | None = None,
    **extra: str,
) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    if state is not None:
        params["state"] = state
    if scope is not None:
        params["scope"] = scope
    params.update(extra)
    return params


async def sign_in_for_code(
    http: httpx.AsyncClient,
    client: RegisteredClient,
    *,
    email: str,
    password: str,
    verifier: str,
    scope: str | None = None,
) -> str:
    """GET the sign-in page, post the credentials, return the code from the redirect."""
    page = await http.get("/oauth/authorize", params=authorize_params(client, verifier=verifier, scope=scope))
    assert page.status_code == 200, page.text
    fields = form_fields(page.text)
    fields.update(email=email, password=password)
    answer = await http.post("/oauth/authorize", data=fields)
    assert answer.status_code == 303, (answer.status_code, answer.text)
    location = urlsplit(answer.headers["location"])
    query = parse_qs(location.query)
    return query["code"][0]


async def token_request(http: httpx.AsyncClient, form: Mapping[str, str], **kwargs: Any) -> TokenResponse:
    response = await http.post(
        "/oauth/token",
        content=urlencode(dict(form)),
        headers={"Content-Type": "application/x-www-form-urlencoded", **kwargs.pop("headers", {})},
        **kwargs,
    )
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    return TokenResponse(status=response.status_code, body=body)


async def authorization_code_flow(
    http: httpx.AsyncClient, client: RegisteredClient, *, email: str, password: str, scope: str | None = None
) -> TokenResponse:
    """The whole flow a storefront runs: sign-in page, code, token exchange with PKCE."""
    verifier = new_verifier()
    code = await sign_in_for_code(
        http, client, email=email, password=password, verifier=verifier, scope=scope
    )
    return await token_request(
        http,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client.redirect_uri,
            "client_id": client.client_id,
            "code_verifier": verifier,
        },
    )


@asynccontextmanager
async def identity_app(
    settings: Settings,
    database_url: str,
    *,
    run_background: bool = False,
    module_names: list[str] | None = None,
    redis: aioredis.Redis | None = None,
) -> AsyncIterator[tuple[httpx.AsyncClient, AuthKit]]:
    """An app built by ``build_container`` (lifespan running) with an httpx client and its AuthKit."""
    app = create_app(
        build_container(settings, database_url=database_url, module_names=module_names, redis=redis),
        run_background=run_background,
    )
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, timeout=30) as client:
            yield client, AuthKit.from_app(app)
