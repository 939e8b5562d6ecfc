"""What the identity use cases need from the outside world."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from orderly.modules.identity.domain.accounts import Customer, StaffMember
from orderly.modules.identity.domain.addresses import Address
from orderly.modules.identity.domain.clients import Client
from orderly.modules.identity.domain.grants import AuthorizationCode, RefreshToken, TokenFamily


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """(matches, a stronger hash to store or None).

        With ``password_hash`` None (no such account) it spends the same time
        and answers False, so response times do not reveal which accounts exist.
        """
        ...


class AccessTokenSigner(Protocol):
    async def sign(self, claims: Mapping[str, Any]) -> str:
        """A JWT access token (typ at+jwt) signed with the active key."""
        ...

    async def decode_own(self, token: str) -> dict[str, Any] | None:
        """The claims of an access token this server signed (expiry not checked), else None."""
        ...


@dataclass(frozen=True)
class Limit:
    """At most ``max_attempts`` recorded attempts under ``key`` per ``window_s`` seconds."""

    key: str
    max_attempts: int
    window_s: int


class AttemptLimiter(Protocol):
    async def retry_after(self, limits: Sequence[Limit]) -> int | None:
        """Seconds until an exhausted limit admits attempts again; None if none is exhausted."""
        ...

    async def record(self, limits: Sequence[Limit]) -> None: ...

    async def clear(self, limit: Limit) -> None: ...


@dataclass(frozen=True)
class AccessTokenRecord:
    jti: uuid.UUID
    client_id: str
    subject: str
    family_id: uuid.UUID | None
    expires_at: datetime
    revoked_at: datetime | None = None


class AccountRepository(Protocol):
    async def add_customer(self, customer: Customer) -> None:
        """Raises EmailTaken if the address (case-insensitively) has an account."""
        ...

    async def customer(self, customer_id: uuid.UUID, *, for_update: bool = False) -> Customer | None: ...

    async def customer_by_email(self, email_key: str) -> Customer | None: ...

    async def save_customer(self, customer: Customer) -> None: ...

    async def save_password_hash(
        self, account: Customer | StaffMember, *, replacing: str | None = None
    ) -> None:
        """Store the account's hash; with ``replacing``, only if that is still the stored one."""
        ...

    async def add_staff(self, member: StaffMember) -> None: ...

    async def staff(self, staff_id: uuid.UUID, *, for_update: bool = False) -> StaffMember | None: ...

    async def staff_by_email(self, email_key: str) -> StaffMember | None: ...


class ClientRepository(Protocol):
    async def add(self, client: Client) -> None: ...

    async def get(self, client_id: str) -> Client | None: ...


class GrantRepository(Protocol):
    async def add_code(self, code: AuthorizationCode) -> None: ...

    async def code_for_update(self, code_hash: str) -> AuthorizationCode | None: ...

    async def save_code(self, code: AuthorizationCode) -> None: ...

    async def add_family(self, family: TokenFamily) -> None: ...

    async def family(self, family_id: uuid.UUID, *, for_update: bool = False) -> TokenFamily | None: ...

    async def save_family(self, family: TokenFamily) -> None: ...

    async def add_refresh_token(self, token: RefreshToken) -> None: ...

    async def refresh_token(self, token_hash: str, *, for_update: bool = False) -> RefreshToken | None: ...

    async def save_refresh_token(self, token: RefreshToken) -> None: ...

    async def add_access_token(self, record: AccessTokenRecord) -> None: ...

    async def access_token(self, jti: uuid.UUID) -> AccessTokenRecord | None: ...

    async def revoke_access_token(self, jti: uuid.UUID, *, now: datetime) -> None: ...

    async def revoke_families_of(
        self, *, subject: str, subject_kind: str, keep: uuid.UUID | None, now: datetime, reason: str
    ) -> int:
        """Revoke every live token family of the subject but ``keep``; how many were revoked."""
        ...

    async def expire_codes_of(self, *, subject: str, subject_kind: str) -> int:
        """Make the subject's unredeemed authorization codes unredeemable; how many there were."""
        ...


class AddressRepository(Protocol):
    async def add(self, address: Address) -> None: ...

    async def owned(self, *, customer_id: uuid.UUID, address_id: uuid.UUID) -> Address | None:
        """The address, locked for update, only if this customer owns it."""
        ...

    async def count(self, customer_id: uuid.UUID) -> int: ...

    async def save(self, address: Address) -> None: ...

    async def delete(self, address: Address) -> None: ...


class IdentityUnitOfWork(Protocol):
    @property
    def accounts(self) -> AccountRepository: ...

    @property
    def clients(self) -> ClientRepository: ...

    @property
    def grants(self) -> GrantRepository: ...

    @property
    def addresses(self) -> AddressRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


@dataclass(frozen=True)
class CustomerView:
    id: uuid.UUID
    email: str
    name: str | None
    created_at: datetime


@dataclass(frozen=True)
class StaffView:
    id: uuid.UUID
    email: str
    role: str
    created_at: datetime


@dataclass(frozen=True)
class AddressView:
    id: uuid.UUID
    customer_id: uuid.UUID
    recipient: str
    line1: str
    line2: str
    city: str
    postal_code: str
    region: str
    country: str
    phone: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class IdentityQueries(Protocol):
    async def customer(self, customer_id: uuid.UUID) -> CustomerView | None: ...

    async def staff(self, staff_id: uuid.UUID) -> StaffView | None: ...

    async def addresses(self, customer_id: uuid.UUID) -> list[AddressView]: ...

    async def address(self, *, customer_id: uuid.UUID, address_id: uuid.UUID) -> AddressView | None: ...
