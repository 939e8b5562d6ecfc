"""The token, revocation and introspection endpoints' logic.

Grants: ``authorization_code`` (PKCE S256 required), ``refresh_token``
(rotated on every use, reuse revokes the family), ``client_credentials``
(service clients only). Anything else is ``unsupported_grant_type``.

Concurrency: a code or refresh token is read ``FOR UPDATE`` (READ COMMITTED),
so two requests presenting the same one serialise on its row; the second sees
it spent and is treated as a replay. Rows are locked child first (code or
refresh token), then family, everywhere.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from orderly.modules.identity.application.accounts import secret_digest
from orderly.modules.identity.application.errors import (
    OAuthError,
    invalid_client,
    invalid_grant,
    invalid_scope,
    unauthorized_client,
)
from orderly.modules.identity.application.ports import (
    AccessTokenRecord,
    AccessTokenSigner,
    IdentityUnitOfWork,
)
from orderly.modules.identity.domain.clients import Client
from orderly.modules.identity.domain.grants import (
    GrantRejected,
    RefreshToken,
    SubjectKind,
    TokenFamily,
    digest,
)
from orderly.modules.identity.domain.scopes import INTROSPECT, format_scope
from orderly.shared_kernel.domain import utcnow
from orderly.shared_kernel.ids import new_id


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    access_ttl: timedelta
    refresh_idle: timedelta
    refresh_max: timedelta


@dataclass(frozen=True)
class ClientCredentials:
    """How the caller identified itself: HTTP Basic, form fields, or a bare client_id (public)."""

    client_id: str | None
    secret: str | None


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None


TokenHint = Literal["access_token", "refresh_token"] | None


class TokenService:
    def __init__(
        self,
        *,
        uow_factory: Callable[[], IdentityUnitOfWork],
        signer: AccessTokenSigner,
        policy: TokenPolicy,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow_factory = uow_factory
        self._signer = signer
        self._policy = policy
        self._clock = clock

    async def authenticate_client(self, credentials: ClientCredentials) -> Client:
        """The calling client; confidential clients must prove their secret (RFC 6749 §2.3)."""
        if not credentials.client_id:
            raise invalid_client("client authentication is required")
        async with self._uow_factory() as uow:
            client = await uow.clients.get(credentials.client_id)
        if client is None:
            raise invalid_client()
        if client.is_public:
            if credentials.secret is not None:
                raise invalid_client("a public client has no secret")
            return client
        if credentials.secret is None:
            raise invalid_client("this client must authenticate with its secret")
        assert client.secret_hash is not None
        if not hmac.compare_digest(secret_digest(credentials.secret), client.secret_hash):
            raise invalid_client()
        return client

    async def exchange_code(
        self, client: Client, *, code: str, redirect_uri: str | None, code_verifier: str
    ) -> IssuedTokens:
        now = self._clock()
        async with self._uow_factory() as uow:
            stored = await uow.grants.code_for_update(digest(code))
            if stored is None:
                raise invalid_grant("the code is unknown")
            try:
                stored.check_redeemable(
                    client_id=client.client_id, redirect_uri=redirect_uri, verifier=code_verifier, now=now
                )
            except GrantRejected as exc:
                if exc.replayed and stored.family_id is not None:
                    # A second use means the code leaked: whatever it bought is revoked.
                    await self._revoke_family(
                        uow, stored.family_id, now=now, reason="authorization code replayed"
                    )
                    await uow.commit()
                    raise invalid_grant(
                        "the code was already used; the tokens it issued are revoked"
                    ) from None
                raise invalid_grant(exc.reason) from None
            scopes, roles = await self._current_grant(uow, stored.subject_kind, stored.subject, stored.scopes)
            family = TokenFamily.start(
                client_id=client.client_id,
                subject=stored.subject,
                subject_kind=stored.subject_kind,
                scopes=stored.scopes,
                now=now,
                max_lifetime=self._policy.refresh_max,
            )
            stored.consume(now=now, family_id=family.id)
            await uow.grants.add_family(family)
            await uow.grants.save_code(stored)
            issued = await self._issue(uow, family=family, scopes=scopes, roles=roles, now=now)
            await uow.commit()
        return issued

    async def refresh(
        self, client: Client, *, refresh_token: str, scope: frozenset[str] | None
    ) -> IssuedTokens:
        now = self._clock()
        async with self._uow_factory() as uow:
            token = await uow.grants.refresh_token(digest(refresh_token), for_update=True)
            family = await uow.grants.family(token.family_id, for_update=True) if token else None
            if token is None or family is None:
                raise invalid_grant("the refresh token is unknown")
            try:
                token.check_usable(family=family, client_id=client.client_id, now=now)
            except GrantRejected as exc:
                if exc.replayed:
                    # Reuse of a rotated token: either the client or an attacker
                    # holds a stale copy, and we cannot tell which, so the whole
                    # family goes (RFC 9700 §4.14.2).
                    family.revoke(now=now, reason="refresh token reused")
                    await uow.grants.save_family(family)
                    await uow.commit()
                    raise invalid_grant("the refresh token was already used; its family is revoked") from None
                raise invalid_grant(exc.reason) from None
            if scope is not None and not scope <= family.scopes:
                raise invalid_scope("a refresh cannot widen the scope of the original grant")
            requested = scope if scope else family.scopes
            scopes, roles = await self._current_grant(uow, family.subject_kind, family.subject, requested)
            token.used_at = now
            await uow.grants.save_refresh_token(token)
            issued = await self._issue(uow, family=family, scopes=scopes, roles=roles, now=now)
            await uow.commit()
        return issued

    async def client_credentials(self, client: Client, *, scope: frozenset[str] | None) -> IssuedTokens:
        if not client.may_use_client_credentials:
            raise unauthorized_client("only service clients may use the client_credentials grant")
        scopes = scope if scope else client.scopes
        if not scopes <= client.scopes:
            raise invalid_scope("the client may not request: " + " ".join(sorted(scopes - client.scopes)))
        now = self._clock()
        async with self._uow_factory() as uow:
            access, expires_in = await self._access_token(
                uow,
                client_id=client.client_id,
                subject=client.client_id,
                scopes=scopes,
                roles=(),
                family_id=None,
                now=now,
            )
            await uow.commit()
        return IssuedTokens(access_token=access, expires_in=expires_in, scope=format_scope(scopes))

    async def revoke(self, client: Client, *, token: str, hint: TokenHint) -> None:
        """RFC 7009. Unknown tokens and other clients' tokens are ignored without saying so."""
        now = self._clock()
        async with self._uow_factory() as uow:
            if hint != "access_token" and await self._revoke_refresh(uow, client, token, now=now):
                await uow.commit()
                return
            claims = await self._signer.decode_own(token)
            jti = _uuid(claims.get("jti")) if claims else None
            if claims is not None and jti is not None and claims.get("client_id") == client.client_id:
                await uow.grants.revoke_access_token(jti, now=now)
                await uow.commit()
                return
            if hint == "access_token" and await self._revoke_refresh(uow, client, token, now=now):
                await uow.commit()

    async def introspect(self, caller: Client, *, token: str, hint: TokenHint) -> dict[str, Any]:
        """RFC 7662, for resource servers registered with the ``oauth:introspect`` scope."""
        if caller.is_public or INTROSPECT not in caller.scopes:
            raise OAuthError("unauthorized_client", "this client may not introspect tokens", status=403)
        now = self._clock()
        async with self._uow_factory() as uow:
            if hint != "access_token":
                answer = await self._introspect_refresh(uow, token, now=now)
                if answer is not None:
                    return answer
            answer = await self._introspect_access(uow, token, now=now)
            if answer is not None:
                return answer
            if hint == "access_token":
                answer = await self._introspect_refresh(uow, token, now=now)
                if answer is not None:
                    return answer
        return {"active": False}

    async def _issue(
        self,
        uow: IdentityUnitOfWork,
        *,
        family: TokenFamily,
        scopes: frozenset[str],
        roles: tuple[str, ...],
        now: datetime,
    ) -> IssuedTokens:
        refresh, refresh_value = RefreshToken.issue(
            family=family, now=now, idle_lifetime=self._policy.refresh_idle
        )
        await uow.grants.add_refresh_token(refresh)
        access, expires_in = await self._access_token(
            uow,
            client_id=family.client_id,
            subject=family.subject,
            scopes=scopes,
            roles=roles,
            family_id=family.id,
            now=now,
        )
        return IssuedTokens(
            access_token=access,
            expires_in=expires_in,
            scope=format_scope(scopes),
            refresh_token=refresh_value,
        )

    async def _access_token(
        self,
        uow: IdentityUnitOfWork,
        *,
        client_id: str,
        subject: str,
        scopes: frozenset[str],
        roles: tuple[str, ...],
        family_id: uuid.UUID | None,
        now: datetime,
    ) -> tuple[str, int]:
        jti = new_id()
        expires_at = now + self._policy.access_ttl
        issued_at = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": self._policy.issuer,
            "sub": subject,
            "aud": self._policy.audience,
            "exp": int(expires_at.timestamp()),
            "iat": issued_at,
            "nbf": issued_at,
            "jti": str(jti),
            "client_id": client_id,
            "scope": format_scope(scopes),
        }
        if roles:
            claims["roles"] = list(roles)
        token = await self._signer.sign(claims)
        await uow.grants.add_access_token(
            AccessTokenRecord(
                jti=jti, client_id=client_id, subject=subject, family_id=family_id, expires_at=expires_at
            )
        )
        return token, int(self._policy.access_ttl.total_seconds())

    async def _current_grant(
        self, uow: IdentityUnitOfWork, kind: SubjectKind, subject: str, requested: frozenset[str]
    ) -> tuple[frozenset[str], tuple[str, ...]]:
        """Scopes the subject may hold today (a role may have changed since sign-in), and its roles."""
        account_id = _uuid(subject)
        roles: tuple[str, ...]
        if kind == "customer":
            customer = await uow.accounts.customer(account_id) if account_id else None
            if customer is None:
                raise invalid_grant("the account no longer exists")
            allowed, roles = customer.allowed_scopes, ()
        else:
            member = await uow.accounts.staff(account_id) if account_id else None
            if member is None or not member.active:
                raise invalid_grant("the account no longer exists or is disabled")
            allowed, roles = member.allowed_scopes, (member.role.value,)
        scopes = requested & allowed
        if not scopes:
            raise invalid_scope("the account may no longer use any of the granted scopes")
        return scopes, roles

    async def _revoke_family(
        self, uow: IdentityUnitOfWork, family_id: uuid.UUID, *, now: datetime, reason: str
    ) -> None:
        family = await uow.grants.family(family_id, for_update=True)
        if family is not None:
            family.revoke(now=now, reason=reason)
            await uow.grants.save_family(family)

    async def _revoke_refresh(
        self, uow: IdentityUnitOfWork, client: Client, token: str, *, now: datetime
    ) -> bool:
        stored = await uow.grants.refresh_token(digest(token), for_update=True)
        if stored is None:
            return False
        family = await uow.grants.family(stored.family_id, for_update=True)
        if family is None or family.client_id != client.client_id:
            return False
        # RFC 7009 §2.1: revoking a refresh token also ends the grant behind it.
        family.revoke(now=now, reason="revoked by the client")
        await uow.grants.save_family(family)
        return True

    async def _introspect_refresh(
        self, uow: IdentityUnitOfWork, token: str, *, now: datetime
    ) -> dict[str, Any] | None:
        stored = await uow.grants.refresh_token(digest(token))
        if stored is None:
            return None
        family = await uow.grants.family(stored.family_id)
        if family is None or not stored.is_active(family=family, now=now):
            return {"active": False}
        return {
            "active": True,
            "token_type": "refresh_token",
            "scope": format_scope(family.scopes),
            "client_id": family.client_id,
            "sub": family.subject,
            "iss": self._policy.issuer,
            "iat": int(stored.issued_at.timestamp()),
            "exp": int(min(stored.expires_at, family.expires_at).timestamp()),
        }

    async def _introspect_access(
        self, uow: IdentityUnitOfWork, token: str, *, now: datetime
    ) -> dict[str, Any] | None:
        claims = await self._signer.decode_own(token)
        if claims is None:
            return None
        jti = _uuid(claims.get("jti"))
        record = await uow.grants.access_token(jti) if jti else None
        active = (
            record is not None
            and record.revoked_at is None
            and isinstance(claims.get("exp"), int)
            and now.timestamp() < claims["exp"]
            and claims.get("aud") == self._policy.audience
        )
        if active and record is not None and record.family_id is not None:
            family = await uow.grants.family(record.family_id)
            active = family is not None and not family.revoked
        if not active:
            return {"active": False}
        keep = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "nbf", "jti")
        return {"active": True, "token_type": "access_token", **{k: claims[k] for k in keep if k in claims}}


def _uuid(value: object) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
