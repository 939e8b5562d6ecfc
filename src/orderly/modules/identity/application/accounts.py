"""Account use cases: customers, staff, clients, addresses. Each ends in ``uow.commit()``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from orderly.modules.identity.application.commands import (
    AddAddress,
    ChangeAddress,
    CreateClient,
    CreateStaffMember,
    RegisterCustomer,
    RemoveAddress,
    RenameCustomer,
)
from orderly.modules.identity.application.ports import IdentityUnitOfWork, PasswordHasher
from orderly.modules.identity.domain.accounts import (
    Customer,
    Email,
    StaffMember,
    check_password_strength,
)
from orderly.modules.identity.domain.addresses import Address, AddressFields
from orderly.modules.identity.domain.clients import Client, new_client_id, new_client_secret
from orderly.modules.identity.domain.grants import digest
from orderly.modules.identity.domain.scopes import parse_role, parse_scope
from orderly.shared_kernel.domain import utcnow
from orderly.shared_kernel.errors import NotFound

DIGEST_SCHEME = "sha256$"


def secret_digest(secret: str) -> str:
    return DIGEST_SCHEME + digest(secret)


async def register_customer(
    command: RegisterCustomer, *, uow: IdentityUnitOfWork, hasher: PasswordHasher
) -> uuid.UUID:
    email = Email.parse(command.email)
    check_password_strength(command.password, email=email)
    customer = Customer.register(
        email=email, password_hash=await hasher.hash(command.password), name=command.name
    )
    async with uow:
        await uow.accounts.add_customer(customer)
        await uow.commit()
    return customer.id


async def create_staff_member(
    command: CreateStaffMember, *, uow: IdentityUnitOfWork, hasher: PasswordHasher
) -> uuid.UUID:
    email = Email.parse(command.email)
    role = parse_role(command.role)
    check_password_strength(command.password, email=email)
    member = StaffMember.create(email=email, password_hash=await hasher.hash(command.password), role=role)
    async with uow:
        await uow.accounts.add_staff(member)
        await uow.commit()
    return member.id


@dataclass(frozen=True)
class CreatedClient:
    """The new client; ``client_secret`` exists only here, only now (it is stored as a digest)."""

    client: Client
    client_secret: str | None


async def create_client(
    command: CreateClient, *, uow: IdentityUnitOfWork, now: Callable[[], datetime] = utcnow
) -> CreatedClient:
    secret = None if command.public else new_client_secret()
    client = Client.register(
        client_id=new_client_id(),
        name=command.name,
        secret_hash=secret_digest(secret) if secret is not None else None,
        redirect_uris=list(command.redirect_uris),
        scopes=parse_scope(command.scopes),
        sign_in=command.sign_in,
        created_at=now(),
    )
    async with uow:
        await uow.clients.add(client)
        await uow.commit()
    return CreatedClient(client=client, client_secret=secret)


async def rename_customer(command: RenameCustomer, *, uow: IdentityUnitOfWork) -> None:
    async with uow:
        customer = await uow.accounts.customer(command.customer_id, for_update=True)
        if customer is None:
            raise NotFound("no customer with this id")
        customer.rename(command.name)
        await uow.accounts.save_customer(customer)
        await uow.commit()


async def add_address(command: AddAddress, *, uow: IdentityUnitOfWork) -> uuid.UUID:
    fields = AddressFields(
        recipient=command.recipient,
        line1=command.line1,
        line2=command.line2,
        city=command.city,
        postal_code=command.postal_code,
        region=command.region,
        country=command.country,
        phone=command.phone,
    )
    async with uow:
        # Locking the owner serialises concurrent additions, so the cap holds.
        owner = await uow.accounts.customer(command.customer_id, for_update=True)
        if owner is None:
            raise NotFound("no customer with this id")
        address = Address.add(
            customer_id=command.customer_id,
            fields=fields,
            existing_count=await uow.addresses.count(command.customer_id),
        )
        await uow.addresses.add(address)
        await uow.commit()
    return address.id


async def change_address(command: ChangeAddress, *, uow: IdentityUnitOfWork) -> None:
    async with uow:
        address = await uow.addresses.owned(customer_id=command.customer_id, address_id=command.address_id)
        if address is None:
            raise NotFound("no address with this id")
        address.change(command.changes)
        await uow.addresses.save(address)
        await uow.commit()


async def remove_address(command: RemoveAddress, *, uow: IdentityUnitOfWork) -> None:
    async with uow:
        address = await uow.addresses.owned(customer_id=command.customer_id, address_id=command.address_id)
        if address is None:
            raise NotFound("no address with this id")
        await uow.addresses.delete(address)
        await uow.commit()
