"""Wires the identity module: key store, hasher, limiter, OAuth services, routes, facade."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import ClassVar

from fastapi import APIRouter

from orderly.modules.identity.adapters import tables
from orderly.modules.identity.adapters.facade import SqlIdentityApi
from orderly.modules.identity.adapters.housekeeping import run_housekeeping
from orderly.modules.identity.adapters.http_accounts import build_accounts_router
from orderly.modules.identity.adapters.http_oauth import build_oauth_router
from orderly.modules.identity.adapters.http_password import build_password_router
from orderly.modules.identity.adapters.keystore import (
    KeyStoreError,
    RotationResult,
    SqlKeyStore,
    parse_key_encryption_key,
)
from orderly.modules.identity.adapters.limiter import RedisAttemptLimiter
from orderly.modules.identity.adapters.passwords import Argon2PasswordHasher
from orderly.modules.identity.adapters.queries import SqlIdentityQueries
from orderly.modules.identity.adapters.repository import IdentitySqlUnitOfWork
from orderly.modules.identity.application.accounts import CreatedClient, create_client, create_staff_member
from orderly.modules.identity.application.authorize import AuthorizationService, SignInPolicy
from orderly.modules.identity.application.commands import CreateClient, CreateStaffMember
from orderly.modules.identity.application.passwords import AttemptPolicy, PasswordService
from orderly.modules.identity.application.ports import PasswordHasher
from orderly.modules.identity.application.tokens import TokenPolicy, TokenService
from orderly.platform.messaging.port import Subscription
from orderly.platform.modules import BackgroundTask, ModuleContext

HOUSEKEEPING_EVERY_S = 600.0


class IdentityModule:
    name: ClassVar[str] = "identity"
    metadata = tables.metadata
    outbox = tables.outbox
    consumes: ClassVar[Sequence[tuple[str, tuple[str, ...]]]] = ()

    def __init__(self, ctx: ModuleContext, *, hasher: PasswordHasher | None = None) -> None:
        settings = ctx.settings
        self._ctx = ctx
        kek_setting = settings.identity_key_encryption_key
        kek = parse_key_encryption_key(kek_setting.get_secret_value() if kek_setting else None)
        if kek is None and settings.env == "production":
            raise KeyStoreError("ORDERLY_IDENTITY_KEY_ENCRYPTION_KEY is required when ORDERLY_ENV=production")
        access_ttl = timedelta(seconds=settings.identity_access_token_ttl_s)
        self.keys = SqlKeyStore(
            ctx.engine,
            issuer=settings.identity_issuer,
            key_encryption_key=kek,
            lead_time=timedelta(seconds=settings.identity_key_publish_lead_s),
            # A retired key verifies its last token until that token expires, plus skew.
            retired_publication=access_ttl + timedelta(seconds=settings.auth_leeway_s + 60),
        )
        self.hasher = hasher or Argon2PasswordHasher()
        self.limiter = RedisAttemptLimiter(ctx.redis)
        self.queries = SqlIdentityQueries(ctx.engine)
        self.tokens = TokenService(
            uow_factory=self.unit_of_work,
            signer=self.keys,
            policy=TokenPolicy(
                issuer=settings.identity_issuer,
                audience=settings.auth_audience,
                access_ttl=access_ttl,
                refresh_idle=timedelta(seconds=settings.identity_refresh_token_idle_ttl_s),
                refresh_max=timedelta(seconds=settings.identity_refresh_token_max_ttl_s),
            ),
        )
        self.authorization = AuthorizationService(
            uow_factory=self.unit_of_work,
            hasher=self.hasher,
            limiter=self.limiter,
            policy=SignInPolicy(
                account_limit=settings.identity_signin_account_limit,
                address_limit=settings.identity_signin_ip_limit,
                window_s=settings.identity_signin_window_s,
                code_ttl=timedelta(seconds=settings.identity_code_ttl_s),
            ),
        )
        self.passwords = PasswordService(
            uow_factory=self.unit_of_work,
            hasher=self.hasher,
            limiter=self.limiter,
            policy=AttemptPolicy(
                account_limit=settings.identity_signin_account_limit,
                window_s=settings.identity_signin_window_s,
            ),
        )
        self._facade = SqlIdentityApi(self.queries)

    def unit_of_work(self) -> IdentitySqlUnitOfWork:
        return IdentitySqlUnitOfWork(
            self._ctx.engine,
            outbox=tables.outbox,
            inbox=tables.inbox,
            partitions=self._ctx.settings.outbox_partitions,
        )

    def facade(self) -> SqlIdentityApi:
        return self._facade

    def local_issuer(self) -> SqlKeyStore:
        """This process issues tokens: the platform's verifier reads these keys in-process."""
        return self.keys

    def routers(self) -> Sequence[APIRouter]:
        settings = self._ctx.settings
        return [
            build_oauth_router(
                issuer=settings.identity_issuer,
                tokens=self.tokens,
                authz=self.authorization,
                keys=self.keys,
                jwks_max_age_s=settings.identity_jwks_max_age_s,
            ),
            build_accounts_router(
                uow_factory=self.unit_of_work,
                hasher=self.hasher,
                queries=self.queries,
                limiter=self.limiter,
                register_limit=settings.identity_register_ip_limit,
                window_s=settings.identity_signin_window_s,
            ),
            build_password_router(passwords=self.passwords),
        ]

    def subscriptions(self) -> Sequence[Subscription]:
        return []

    def background_tasks(self) -> Sequence[BackgroundTask]:
        async def housekeeping(stop: asyncio.Event) -> None:
            await run_housekeeping(self._ctx.engine, self.keys, stop, every_s=HOUSEKEEPING_EVERY_S)

        return [housekeeping]

    # Operator use cases (the ``orderly`` CLI).

    async def create_client(self, command: CreateClient) -> CreatedClient:
        return await create_client(command, uow=self.unit_of_work())

    async def create_staff_member(self, command: CreateStaffMember) -> uuid.UUID:
        return await create_staff_member(command, uow=self.unit_of_work(), hasher=self.hasher)

    async def rotate_keys(self, *, force: bool = False) -> RotationResult:
        return await self.keys.rotate(force=force)
