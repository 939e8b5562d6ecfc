"""Authorization codes, token families and refresh tokens, and the rules they follow.

Codes and refresh tokens are random secrets handed to the client; only their
SHA-256 digest is stored, so a copy of the database redeems nothing. They are
high-entropy (256 bits), so a plain digest is enough: there is no password
to guess behind them.

A token family is everything issued from one sign-in: the code, each refresh
token that rotated out of it, and the access tokens along the way. Any sign
that a secret of the family leaked (a code or a refresh token presented
twice) revokes the whole family (RFC 9700 §4.14.2, ASVS V10.4).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from orderly.shared_kernel.ids import new_id

SubjectKind = Literal["customer", "staff"]

# RFC 7636 §4.1: 43-128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
# BASE64URL(SHA256(...)) without padding is always 43 characters.
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def is_valid_challenge(challenge: str) -> bool:
    return bool(_S256_CHALLENGE.match(challenge))


def s256(verifier: str) -> str:
    """The S256 code challenge of a verifier (RFC 7636 §4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def pkce_matches(*, challenge: str, verifier: str) -> bool:
    if not _VERIFIER.match(verifier):
        return False
    return hmac.compare_digest(s256(verifier), challenge)


class GrantRejected(Exception):
    """A code or refresh token cannot be redeemed. ``replayed`` means it was redeemed before."""

    def __init__(self, reason: str, *, replayed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.replayed = replayed


@dataclass
class AuthorizationCode:
    code_hash: str
    client_id: str
    redirect_uri: str
    subject: str
    subject_kind: SubjectKind
    scopes: frozenset[str]
    code_challenge: str
    created_at: datetime
    expires_at: datetime
    consumed_at: datetime | None = None
    family_id: uuid.UUID | None = None

    @classmethod
    def issue(
        cls,
        *,
        client_id: str,
        redirect_uri: str,
        subject: str,
        subject_kind: SubjectKind,
        scopes: frozenset[str],
        code_challenge: str,
        now: datetime,
        ttl: timedelta,
    ) -> tuple[AuthorizationCode, str]:
        """A new code and its secret value (returned once, stored only as a digest)."""
        code = new_secret()
        return (
            cls(
                code_hash=digest(code),
                client_id=client_id,
                redirect_uri=redirect_uri,
                subject=subject,
                subject_kind=subject_kind,
                scopes=scopes,
                code_challenge=code_challenge,
                created_at=now,
                expires_at=now + ttl,
            ),
            code,
        )

    def check_redeemable(
        self, *, client_id: str, redirect_uri: str | None, verifier: str, now: datetime
    ) -> None:
        """Raise GrantRejected unless this client may exchange the code now.

        A code issued to another client is rejected without being spent, so a
        stolen code presented elsewhere cannot be used to burn the real one.
        """
        if self.client_id != client_id:
            raise GrantRejected("the code was issued to another client")
        if self.consumed_at is not None:
            raise GrantRejected("the code was already used", replayed=True)
        if now >= self.expires_at:
            raise GrantRejected("the code has expired")
        if redirect_uri != self.redirect_uri:
            raise GrantRejected("redirect_uri differs from the authorization request")
        if not pkce_matches(challenge=self.code_challenge, verifier=verifier):
            raise GrantRejected("code_verifier does not match the code challenge")

    def consume(self, *, now: datetime, family_id: uuid.UUID) -> None:
        self.consumed_at = now
        self.family_id = family_id


@dataclass
class TokenFamily:
    id: uuid.UUID
    client_id: str
    subject: str
    subject_kind: SubjectKind
    scopes: frozenset[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    @classmethod
    def start(
        cls,
        *,
        client_id: str,
        subject: str,
        subject_kind: SubjectKind,
        scopes: frozenset[str],
        now: datetime,
        max_lifetime: timedelta,
    ) -> TokenFamily:
        return cls(
            id=new_id(),
            client_id=client_id,
            subject=subject,
            subject_kind=subject_kind,
            scopes=scopes,
            created_at=now,
            expires_at=now + max_lifetime,
        )

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self, *, now: datetime, reason: str) -> None:
        if self.revoked_at is None:
            self.revoked_at = now
            self.revoked_reason = reason


@dataclass
class RefreshToken:
    token_hash: str
    family_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    @classmethod
    def issue(
        cls, *, family: TokenFamily, now: datetime, idle_lifetime: timedelta
    ) -> tuple[RefreshToken, str]:
        """A new refresh token of the family; it never outlives the family's absolute expiry."""
        value = new_secret()
        return (
            cls(
                token_hash=digest(value),
                family_id=family.id,
                issued_at=now,
                expires_at=min(now + idle_lifetime, family.expires_at),
            ),
            value,
        )

    def check_usable(self, *, family: TokenFamily, client_id: str, now: datetime) -> None:
        if family.client_id != client_id:
            raise GrantRejected("the refresh token was issued to another client")
        if family.revoked:
            raise GrantRejected("the refresh token has been revoked")
        if self.used_at is not None:
            raise GrantRejected("the refresh token was already used", replayed=True)
        if now >= self.expires_at or now >= family.expires_at:
            raise GrantRejected("the refresh token has expired")

    def is_active(self, *, family: TokenFamily, now: datetime) -> bool:
        return (
            self.used_at is None and not family.revoked and now < self.expires_at and now < family.expires_at
        )
