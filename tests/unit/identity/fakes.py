"""In-memory stand-ins for the identity module's ports (unit tests of the use cases)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from orderly.modules.identity.application.ports import AccessTokenRecord, Limit
from orderly.modules.identity.domain.accounts import Customer, EmailTaken, StaffMember
from orderly.modules.identity.domain.addresses import Address
from orderly.modules.identity.domain.clients import Client
from orderly.modules.identity.domain.grants import AuthorizationCode, RefreshToken, TokenFamily


@dataclass
class Store:
    """Committed state; a unit of work edits a copy and swaps it in on commit."""

    customers: dict[uuid.UUID, Customer] = field(default_factory=dict)
    staff: dict[uuid.UUID, StaffMember] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    families: dict[uuid.UUID, TokenFamily] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    access_tokens: dict[uuid.UUID, AccessTokenRecord] = field(default_factory=dict)
    addresses: dict[uuid.UUID, Address] = field(default_factory=dict)
    events: list[Any] = field(default_factory=list)
    commits: int = 0


class FakeAccounts:
    def __init__(self, state: Store) -> None:
        self.state = state

    async def add_customer(self, customer: Customer) -> None:
        if any(c.email.key == customer.email.key for c in self.state.customers.values()):
            raise EmailTaken()
        self.state.customers[customer.id] = customer

    async def customer(self, customer_id: uuid.UUID, *, for_update: bool = False) -> Customer | None:
        return self.state.customers.get(customer_id)

    async def customer_by_email(self, email_key: str) -> Customer | None:
        return next((c for c in self.state.customers.values() if c.email.key == email_key), None)

    async def save_customer(self, customer: Customer) -> None:
        self.state.customers[customer.id] = customer

    async def save_password_hash(
        self, account: Customer | StaffMember, *, replacing: str | None = None
    ) -> None:
        stored: dict[uuid.UUID, Any] = (
            self.state.customers if isinstance(account, Customer) else self.state.staff
        )
        if replacing is None or stored[account.id].password_hash == replacing:
            stored[account.id] = account

    async def add_staff(self, member: StaffMember) -> None:
        if any(s.email.key == member.email.key for s in self.state.staff.values()):
            raise EmailTaken()
        self.state.staff[member.id] = member

    async def staff(self, staff_id: uuid.UUID, *, for_update: bool = False) -> StaffMember | None:
        return self.state.staff.get(staff_id)

    async def staff_by_email(self, email_key: str) -> StaffMember | None:
        return next((s for s in self.state.staff.values() if s.email.key == email_key), None)


class FakeClients:
    def __init__(self, state: Store) -> None:
        self.state = state

    async def add(self, client: Client) -> None:
        self.state.clients[client.client_id] = client

    async def get(self, client_id: str) -> Client | None:
        return self.state.clients.get(client_id)


class FakeGrants:
    def __init__(self, state: Store) -> None:
        self.state = state

    async def add_code(self, code: AuthorizationCode) -> None:
        self.state.codes[code.code_hash] = code

    async def code_for_update(self, code_hash: str) -> AuthorizationCode | None:
        return self.state.codes.get(code_hash)

    async def save_code(self, code: AuthorizationCode) -> None:
        self.state.codes[code.code_hash] = code

    async def add_family(self, family: TokenFamily) -> None:
        self.state.families[family.id] = family

    async def family(self, family_id: uuid.UUID, *, for_update: bool = False) -> TokenFamily | None:
        return self.state.families.get(family_id)

    async def save_family(self, family: TokenFamily) -> None:
        self.state.families[family.id] = family

    async def add_refresh_token(self, token: RefreshToken) -> None:
        self.state.refresh_tokens[token.token_hash] = token

    async def refresh_token(self, token_hash: str, *, for_update: bool = False) -> RefreshToken | None:
        return self.state.refresh_tokens.get(token_hash)

    async def save_refresh_token(self, token: RefreshToken) -> None:
        self.state.refresh_tokens[token.token_hash] = token

    async def add_access_token(self, record: AccessTokenRecord) -> None:
        self.state.access_tokens[record.jti] = record

    async def access_token(self, jti: uuid.UUID) -> AccessTokenRecord | None:
        return self.state.access_tokens.get(jti)

    async def revoke_access_token(self, jti: uuid.UUID, *, now: datetime) -> None:
        record = self.state.access_tokens.get(jti)
        if record is not None and record.revoked_at is None:
            self.state.access_tokens[jti] = replace(record, revoked_at=now)

    async def revoke_families_of(
        self, *, subject: str, subject_kind: str, keep: uuid.UUID | None, now: datetime, reason: str
    ) -> int:
        ended = [
            family
            for family in self.state.families.values()
            if (family.subject, family.subject_kind) == (subject, subject_kind)
            and family.id != keep
            and not family.revoked
        ]
        for family in ended:
            family.revoke(now=now, reason=reason)
        return len(ended)

    async def expire_codes_of(self, *, subject: str, subject_kind: str) -> int:
        live = [
            code
            for code in self.state.codes.values()
            if (code.subject, code.subject_kind) == (subject, subject_kind)
            and code.consumed_at is None
            and code.expires_at > code.created_at
        ]
        for code in live:
            code.expires_at = code.created_at
        return len(live)


class FakeAddresses:
    def __init__(self, state: Store) -> None:
        self.state = state

    async def add(self, address: Address) -> None:
        self.state.addresses[address.id] = address

    async def owned(self, *, customer_id: uuid.UUID, address_id: uuid.UUID) -> Address | None:
        address = self.state.addresses.get(address_id)
        return address if address is not None and address.customer_id == customer_id else None

    async def count(self, customer_id: uuid.UUID) -> int:
        return sum(1 for a in self.state.addresses.values() if a.customer_id == customer_id)

    async def save(self, address: Address) -> None:
        self.state.addresses[address.id] = address

    async def delete(self, address: Address) -> None:
        self.state.addresses.pop(address.id, None)


class FakeUnitOfWork:
    """Changes become visible to later units of work only on commit (rollback otherwise)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._draft = store

    async def __aenter__(self) -> Self:
        self._draft = copy.deepcopy(self.store)
        self.accounts = FakeAccounts(self._draft)
        self.clients = FakeClients(self._draft)
        self.grants = FakeGrants(self._draft)
        self.addresses = FakeAddresses(self._draft)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._draft = self.store

    async def commit(self) -> None:
        draft = self._draft
        for aggregate in [*draft.customers.values(), *draft.staff.values(), *draft.addresses.values()]:
            self._draft.events.extend(aggregate.collect_events())
        self._draft.commits += 1
        for name in vars(self.store):
            setattr(self.store, name, getattr(self._draft, name))


class FakeHasher:
    """'hashes' by prefixing; good enough to check which password was stored."""

    def __init__(self, upgrade: bool = False) -> None:
        self.upgrade = upgrade
        self.dummy_checks = 0

    async def hash(self, password: str) -> str:
        return f"fake${password}"

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        if password_hash is None:
            self.dummy_checks += 1
            return False, None
        valid = password_hash in (f"fake${password}", f"old${password}")
        rehash = f"fake${password}" if valid and password_hash.startswith("old$") and self.upgrade else None
        return valid, rehash


class FakeSigner:
    """Tokens are ``fake.<n>``; the claims are kept so ``decode_own`` can return them."""

    def __init__(self) -> None:
        self.issued: dict[str, dict[str, Any]] = {}

    async def sign(self, claims: Mapping[str, Any]) -> str:
        token = f"fake.{len(self.issued)}"
        self.issued[token] = dict(claims)
        return token

    async def decode_own(self, token: str) -> dict[str, Any] | None:
        return self.issued.get(token)


class FakeLimiter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.limits: dict[str, Limit] = {}

    async def retry_after(self, limits: Sequence[Limit]) -> int | None:
        blocked = [limit.window_s for limit in limits if self.counts.get(limit.key, 0) >= limit.max_attempts]
        return max(blocked) if blocked else None

    async def record(self, limits: Sequence[Limit]) -> None:
        for limit in limits:
            self.counts[limit.key] = self.counts.get(limit.key, 0) + 1

    async def clear(self, limit: Limit) -> None:
        self.counts.pop(limit.key, None)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)
