"""Loads and saves the identity module's aggregates and grant records."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly.modules.identity.adapters.tables import (
    access_tokens,
    addresses,
    authorization_codes,
    clients,
    customers,
    refresh_tokens,
    staff,
    token_families,
)
from orderly.modules.identity.application.ports import AccessTokenRecord
from orderly.modules.identity.domain.accounts import Customer, Email, EmailTaken, StaffMember
from orderly.modules.identity.domain.addresses import Address, AddressFields
from orderly.modules.identity.domain.clients import Client
from orderly.modules.identity.domain.grants import AuthorizationCode, RefreshToken, TokenFamily
from orderly.modules.identity.domain.scopes import Role
from orderly.platform.uow import SqlUnitOfWork


class SqlAccountRepository:
    def __init__(self, connection: AsyncConnection, uow: SqlUnitOfWork) -> None:
        self._connection = connection
        self._uow = uow

    async def add_customer(self, customer: Customer) -> None:
        self._uow.track(customer)
        await self._insert_unique_email(
            insert(customers).values(
                id=customer.id,
                email=customer.email.value,
                email_key=customer.email.key,
                password_hash=customer.password_hash,
                name=customer.name,
                created_at=customer.created_at,
                version=customer.version,
            ),
            "uq_customers_email_key",
        )

    async def customer(self, customer_id: uuid.UUID, *, for_update: bool = False) -> Customer | None:
        query = select(customers).where(customers.c.id == customer_id)
        if for_update:
            query = query.with_for_update()
        return self._customer((await self._connection.execute(query)).one_or_none())

    async def customer_by_email(self, email_key: str) -> Customer | None:
        query = select(customers).where(customers.c.email_key == email_key)
        return self._customer((await self._connection.execute(query)).one_or_none())

    async def save_customer(self, customer: Customer) -> None:
        await self._connection.execute(
            update(customers)
            .where(customers.c.id == customer.id)
            .values(name=customer.name, version=customer.version)
        )

    async def save_password_hash(
        self, account: Customer | StaffMember, *, replacing: str | None = None
    ) -> None:
        table = customers if isinstance(account, Customer) else staff
        query = update(table).where(table.c.id == account.id)
        if replacing is not None:
            query = query.where(table.c.password_hash == replacing)
        await self._connection.execute(query.values(password_hash=account.password_hash))

    async def add_staff(self, member: StaffMember) -> None:
        self._uow.track(member)
        await self._insert_unique_email(
            insert(staff).values(
                id=member.id,
                email=member.email.value,
                email_key=member.email.key,
                password_hash=member.password_hash,
                role=member.role.value,
                active=member.active,
                created_at=member.created_at,
                version=member.version,
            ),
            "uq_staff_email_key",
        )

    async def staff(self, staff_id: uuid.UUID, *, for_update: bool = False) -> StaffMember | None:
        query = select(staff).where(staff.c.id == staff_id)
        if for_update:
            query = query.with_for_update()
        return self._staff((await self._connection.execute(query)).one_or_none())

    async def staff_by_email(self, email_key: str) -> StaffMember | None:
        query = select(staff).where(staff.c.email_key == email_key)
        return self._staff((await self._connection.execute(query)).one_or_none())

    async def _insert_unique_email(self, statement: Any, constraint: str) -> None:
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(statement)
        except IntegrityError as exc:
            if constraint in str(exc.orig):
                raise EmailTaken() from None
            raise

    def _customer(self, row: Row[Any] | None) -> Customer | None:
        if row is None:
            return None
        customer = Customer(
            id=row.id,
            email=Email(value=row.email, key=row.email_key),
            password_hash=row.password_hash,
            name=row.name,
            created_at=row.created_at,
            version=row.version,
        )
        self._uow.track(customer)
        return customer

    def _staff(self, row: Row[Any] | None) -> StaffMember | None:
        if row is None:
            return None
        member = StaffMember(
            id=row.id,
            email=Email(value=row.email, key=row.email_key),
            password_hash=row.password_hash,
            role=Role(row.role),
            active=row.active,
            created_at=row.created_at,
            version=row.version,
        )
        self._uow.track(member)
        return member


class SqlClientRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, client: Client) -> None:
        await self._connection.execute(
            insert(clients).values(
                client_id=client.client_id,
                name=client.name,
                secret_hash=client.secret_hash,
                redirect_uris=list(client.redirect_uris),
                scopes=sorted(client.scopes),
                sign_in=client.sign_in,
                created_at=client.created_at,
            )
        )

    async def get(self, client_id: str) -> Client | None:
        if len(client_id) > 64:
            return None
        row = (
            await self._connection.execute(select(clients).where(clients.c.client_id == client_id))
        ).one_or_none()
        if row is None:
            return None
        return Client(
            client_id=row.client_id,
            name=row.name,
            secret_hash=row.secret_hash,
            redirect_uris=tuple(row.redirect_uris),
            scopes=frozenset(row.scopes),
            sign_in=row.sign_in,
            created_at=row.created_at,
        )


class SqlGrantRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add_code(self, code: AuthorizationCode) -> None:
        await self._connection.execute(
            insert(authorization_codes).values(
                code_hash=code.code_hash,
                client_id=code.client_id,
                redirect_uri=code.redirect_uri,
                subject=code.subject,
                subject_kind=code.subject_kind,
                scopes=sorted(code.scopes),
                code_challenge=code.code_challenge,
                created_at=code.created_at,
                expires_at=code.expires_at,
            )
        )

    async def code_for_update(self, code_hash: str) -> AuthorizationCode | None:
        query = (
            select(authorization_codes).where(authorization_codes.c.code_hash == code_hash).with_for_update()
        )
        row = (await self._connection.execute(query)).one_or_none()
        if row is None:
            return None
        return AuthorizationCode(
            code_hash=row.code_hash,
            client_id=row.client_id,
            redirect_uri=row.redirect_uri,
            subject=row.subject,
            subject_kind=row.subject_kind,
            scopes=frozenset(row.scopes),
            code_challenge=row.code_challenge,
            created_at=row.created_at,
            expires_at=row.expires_at,
            consumed_at=row.consumed_at,
            family_id=row.family_id,
        )

    async def save_code(self, code: AuthorizationCode) -> None:
        await self._connection.execute(
            update(authorization_codes)
            .where(authorization_codes.c.code_hash == code.code_hash)
            .values(consumed_at=code.consumed_at, family_id=code.family_id)
        )

    async def add_family(self, family: TokenFamily) -> None:
        await self._connection.execute(
            insert(token_families).values(
                id=family.id,
                client_id=family.client_id,
                subject=family.subject,
                subject_kind=family.subject_kind,
                scopes=sorted(family.scopes),
                created_at=family.created_at,
                expires_at=family.expires_at,
            )
        )

    async def family(self, family_id: uuid.UUID, *, for_update: bool = False) -> TokenFamily | None:
        query = select(token_families).where(token_families.c.id == family_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._connection.execute(query)).one_or_none()
        if row is None:
            return None
        return TokenFamily(
            id=row.id,
            client_id=row.client_id,
            subject=row.subject,
            subject_kind=row.subject_kind,
            scopes=frozenset(row.scopes),
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            revoked_reason=row.revoked_reason,
        )

    async def save_family(self, family: TokenFamily) -> None:
        await self._connection.execute(
            update(token_families)
            .where(token_families.c.id == family.id)
            .values(revoked_at=family.revoked_at, revoked_reason=family.revoked_reason)
        )

    async def add_refresh_token(self, token: RefreshToken) -> None:
        await self._connection.execute(
            insert(refresh_tokens).values(
                token_hash=token.token_hash,
                family_id=token.family_id,
                issued_at=token.issued_at,
                expires_at=token.expires_at,
            )
        )

    async def refresh_token(self, token_hash: str, *, for_update: bool = False) -> RefreshToken | None:
        query = select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
        if for_update:
            query = query.with_for_update()
        row = (await self._connection.execute(query)).one_or_none()
        if row is None:
            return None
        return RefreshToken(
            token_hash=row.token_hash,
            family_id=row.family_id,
            issued_at=row.issued_at,
            expires_at=row.expires_at,
            used_at=row.used_at,
        )

    async def save_refresh_token(self, token: RefreshToken) -> None:
        await self._connection.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.token_hash == token.token_hash)
            .values(used_at=token.used_at)
        )

    async def add_access_token(self, record: AccessTokenRecord) -> None:
        await self._connection.execute(
            insert(access_tokens).values(
                jti=record.jti,
                client_id=record.client_id,
                subject=record.subject,
                family_id=record.family_id,
                expires_at=record.expires_at,
            )
        )

    async def access_token(self, jti: uuid.UUID) -> AccessTokenRecord | None:
        row = (
            await self._connection.execute(select(access_tokens).where(access_tokens.c.jti == jti))
        ).one_or_none()
        if row is None:
            return None
        return AccessTokenRecord(
            jti=row.jti,
            client_id=row.client_id,
            subject=row.subject,
            family_id=row.family_id,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
        )

    async def revoke_access_token(self, jti: uuid.UUID, *, now: datetime) -> None:
        await self._connection.execute(
            update(access_tokens)
            .where(access_tokens.c.jti == jti, access_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_families_of(
        self, *, subject: str, subject_kind: str, keep: uuid.UUID | None, now: datetime, reason: str
    ) -> int:
        query = update(token_families).where(
            token_families.c.subject == subject,
            token_families.c.subject_kind == subject_kind,
            token_families.c.revoked_at.is_(None),
        )
        if keep is not None:
            query = query.where(token_families.c.id != keep)
        result = await self._connection.execute(query.values(revoked_at=now, revoked_reason=reason))
        return int(result.rowcount)

    async def expire_codes_of(self, *, subject: str, subject_kind: str) -> int:
        # Expiry set to the code's own creation, not to ``now``: an exchange
        # that started a moment before this change compares with its own,
        # earlier clock, and must find the code expired all the same.
        codes = authorization_codes.c
        result = await self._connection.execute(
            update(authorization_codes)
            .where(
                codes.subject == subject,
                codes.subject_kind == subject_kind,
                codes.consumed_at.is_(None),
                codes.expires_at > codes.created_at,
            )
            .values(expires_at=codes.created_at)
        )
        return int(result.rowcount)


class SqlAddressRepository:
    def __init__(self, connection: AsyncConnection, uow: SqlUnitOfWork) -> None:
        self._connection = connection
        self._uow = uow

    async def add(self, address: Address) -> None:
        self._uow.track(address)
        await self._connection.execute(insert(addresses).values(id=address.id, **_address_values(address)))

    async def owned(self, *, customer_id: uuid.UUID, address_id: uuid.UUID) -> Address | None:
        query = (
            select(addresses)
            .where(addresses.c.id == address_id, addresses.c.customer_id == customer_id)
            .with_for_update()
        )
        row = (await self._connection.execute(query)).one_or_none()
        if row is None:
            return None
        address = Address(
            id=row.id,
            customer_id=row.customer_id,
            fields=AddressFields(
                recipient=row.recipient,
                line1=row.line1,
                line2=row.line2,
                city=row.city,
                postal_code=row.postal_code,
                region=row.region,
                country=row.country,
                phone=row.phone,
            ),
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
        )
        self._uow.track(address)
        return address

    async def count(self, customer_id: uuid.UUID) -> int:
        query = select(func.count()).select_from(addresses).where(addresses.c.customer_id == customer_id)
        return int(await self._connection.scalar(query) or 0)

    async def save(self, address: Address) -> None:
        await self._connection.execute(
            update(addresses).where(addresses.c.id == address.id).values(**_address_values(address))
        )

    async def delete(self, address: Address) -> None:
        await self._connection.execute(delete(addresses).where(addresses.c.id == address.id))


def _address_values(address: Address) -> dict[str, Any]:
    f = address.fields
    return {
        "customer_id": address.customer_id,
        "recipient": f.recipient,
        "line1": f.line1,
        "line2": f.line2,
        "city": f.city,
        "postal_code": f.postal_code,
        "region": f.region,
        "country": f.country,
        "phone": f.phone,
        "created_at": address.created_at,
        "updated_at": address.updated_at,
        "version": address.version,
    }


class IdentitySqlUnitOfWork(SqlUnitOfWork):
    accounts: SqlAccountRepository
    clients: SqlClientRepository
    grants: SqlGrantRepository
    addresses: SqlAddressRepository

    def _open(self, connection: AsyncConnection) -> None:
        self.accounts = SqlAccountRepository(connection, self)
        self.clients = SqlClientRepository(connection)
        self.grants = SqlGrantRepository(connection)
        self.addresses = SqlAddressRepository(connection, self)
