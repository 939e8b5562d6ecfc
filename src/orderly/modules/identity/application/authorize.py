"""The authorization endpoint's logic: check the request, sign the person in, issue a code.

Two kinds of failure, as RFC 6749 §4.1.2.1 requires:

- the client or the redirect URI is wrong: nothing is sent to the redirect
  URI (it could be an attacker's), the person sees an error page;
- anything else: the error goes back to the (verified) redirect URI.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from orderly.modules.identity.application.ports import (
    AttemptLimiter,
    IdentityUnitOfWork,
    Limit,
    PasswordHasher,
)
from orderly.modules.identity.domain.accounts import MAX_PASSWORD_LENGTH, Customer, Email, StaffMember
from orderly.modules.identity.domain.clients import Client
from orderly.modules.identity.domain.grants import AuthorizationCode, is_valid_challenge
from orderly.modules.identity.domain.scopes import parse_scope
from orderly.shared_kernel.domain import utcnow
from orderly.shared_kernel.errors import InvalidInput

MAX_STATE_LENGTH = 1024


@dataclass(frozen=True)
class AuthorizationRequest:
    """The parameters of an authorization request as received (query or form)."""

    response_type: str | None
    client_id: str | None
    redirect_uri: str | None
    scope: str | None
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None


@dataclass(frozen=True)
class ValidatedAuthorization:
    client: Client
    redirect_uri: str
    scopes: frozenset[str]
    state: str | None
    code_challenge: str


class UnsafeAuthorizationRequest(Exception):
    """The client or redirect URI cannot be trusted: show an error, redirect nowhere."""


class AuthorizationDenied(Exception):
    """An error to send back to the client's verified redirect URI."""

    def __init__(self, error: str, description: str, *, redirect_uri: str, state: str | None) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri
        self.state = state


class SignInFailed(Exception):
    """Wrong e-mail or password (deliberately not saying which)."""


class SignInThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


def account_limit(account_key: str, *, max_attempts: int, window_s: int) -> Limit:
    """The wrong-password counter of one account (``Email.key``).

    Sign-in and password changes both count against it, so a password guesser
    gains nothing by moving from the one to the other.
    """
    # Hashed so the rate-limit store holds no e-mail addresses.
    account_digest = hashlib.sha256(account_key.encode()).hexdigest()
    return Limit(f"signin:account:{account_digest}", max_attempts, window_s)


@dataclass(frozen=True)
class SignInPolicy:
    account_limit: int
    address_limit: int
    window_s: int
    code_ttl: timedelta


class AuthorizationService:
    def __init__(
        self,
        *,
        uow_factory: Callable[[], IdentityUnitOfWork],
        hasher: PasswordHasher,
        limiter: AttemptLimiter,
        policy: SignInPolicy,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow_factory = uow_factory
        self._hasher = hasher
        self._limiter = limiter
        self._policy = policy
        self._clock = clock

    async def validate(
        self, request: AuthorizationRequest, *, repeated: Collection[str] = ()
    ) -> ValidatedAuthorization:
        """Check a request before showing the sign-in page (and again when the form comes back)."""
        if {"client_id", "redirect_uri"} & set(repeated):
            raise UnsafeAuthorizationRequest("client_id and redirect_uri must each appear once")
        if not request.client_id:
            raise UnsafeAuthorizationRequest("the request names no client (client_id is missing)")
        async with self._uow_factory() as uow:
            client = await uow.clients.get(request.client_id)
        if client is None or client.sign_in is None:
            raise UnsafeAuthorizationRequest("this client is unknown or cannot sign people in")
        if not request.redirect_uri:
            raise UnsafeAuthorizationRequest("redirect_uri is required")
        if not client.accepts_redirect_uri(request.redirect_uri):
            raise UnsafeAuthorizationRequest("redirect_uri is not registered for this client")

        redirect_uri = request.redirect_uri
        state = request.state if request.state and len(request.state) <= MAX_STATE_LENGTH else None

        def deny(error: str, description: str) -> AuthorizationDenied:
            return AuthorizationDenied(error, description, redirect_uri=redirect_uri, state=state)

        if repeated:
            raise deny("invalid_request", f"parameters repeated: {', '.join(sorted(repeated))}")
        if request.state and len(request.state) > MAX_STATE_LENGTH:
            raise deny("invalid_request", f"state has at most {MAX_STATE_LENGTH} characters")
        if request.response_type != "code":
            raise deny(
                "unsupported_response_type",
                "only response_type=code is supported (no implicit flow)",
            )
        if not request.code_challenge or request.code_challenge_method is None:
            raise deny(
                "invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256"
            )
        if request.code_challenge_method != "S256":
            raise deny("invalid_request", "code_challenge_method must be S256 (plain is not accepted)")
        if not is_valid_challenge(request.code_challenge):
            raise deny("invalid_request", "code_challenge is not a BASE64URL-encoded SHA-256 digest")
        try:
            scopes = parse_scope(request.scope) if request.scope is not None else client.scopes
        except InvalidInput as exc:
            raise deny("invalid_scope", exc.message) from None
        if not scopes:
            scopes = client.scopes
        if not scopes <= client.scopes:
            raise deny(
                "invalid_scope", "the client may not request: " + " ".join(sorted(scopes - client.scopes))
            )
        return ValidatedAuthorization(
            client=client,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=state,
            code_challenge=request.code_challenge,
        )

    async def sign_in(
        self, request: ValidatedAuthorization, *, email: str, password: str, client_address: str
    ) -> str:
        """Authenticate the person and return a fresh authorization code.

        Attempts are limited per account and per client address; only failures
        count, so a person who signs in correctly is never locked out by their
        own successes.
        """
        limits = self._limits(email, client_address)
        retry_after = await self._limiter.retry_after(limits)
        if retry_after is not None:
            raise SignInThrottled(retry_after)
        account = await self._authenticate(request, email=email, password=password)
        if account is None:
            await self._limiter.record(limits)
            raise SignInFailed()
        await self._limiter.clear(limits[0])
        scopes = request.scopes & account.allowed_scopes
        if not scopes:
            raise AuthorizationDenied(
                "access_denied",
                "this account may use none of the requested scopes",
                redirect_uri=request.redirect_uri,
                state=request.state,
            )
        code, value = AuthorizationCode.issue(
            client_id=request.client.client_id,
            redirect_uri=request.redirect_uri,
            subject=str(account.id),
            subject_kind="customer" if isinstance(account, Customer) else "staff",
            scopes=scopes,
            code_challenge=request.code_challenge,
            now=self._clock(),
            ttl=self._policy.code_ttl,
        )
        async with self._uow_factory() as uow:
            await uow.grants.add_code(code)
            await uow.commit()
        return value

    def _limits(self, email: str, client_address: str) -> list[Limit]:
        try:
            account_key = Email.parse(email).key
        except InvalidInput:
            account_key = email.strip().lower()[:320]
        window = self._policy.window_s
        return [
            account_limit(account_key, max_attempts=self._policy.account_limit, window_s=window),
            Limit(f"signin:address:{client_address}", self._policy.address_limit, window),
        ]

    async def _authenticate(
        self, request: ValidatedAuthorization, *, email: str, password: str
    ) -> Customer | StaffMember | None:
        account: Customer | StaffMember | None = None
        try:
            key = Email.parse(email).key
        except InvalidInput:
            key = None
        if len(password) > MAX_PASSWORD_LENGTH:
            return None
        if key is not None:
            async with self._uow_factory() as uow:
                if request.client.sign_in == "staff":
                    account = await uow.accounts.staff_by_email(key)
                else:
                    account = await uow.accounts.customer_by_email(key)
        # Outside the transaction: hashing takes ~0.1 s and must not hold a connection.
        valid, rehashed = await self._hasher.verify(password, account.password_hash if account else None)
        if not valid or account is None:
            return None
        if isinstance(account, StaffMember) and not account.active:
            return None
        if rehashed is not None:
            verified = account.password_hash
            account.rehash_password(rehashed)
            async with self._uow_factory() as uow:
                # Only over the hash just verified: a password changed in the
                # meantime must not be turned back into this one.
                await uow.accounts.save_password_hash(account, replacing=verified)
                await uow.commit()
        return account
