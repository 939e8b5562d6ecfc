"""Customer registration, the caller's own profile, and the customer's addresses.

Every address route takes the customer from the access token, never from
the URL or the body, and looks addresses up by (id, owner): another
customer's address id is simply "not found" (no hint that it exists).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.exceptions import HTTPException

from orderly.modules.identity.application.accounts import (
    add_address,
    change_address,
    register_customer,
    remove_address,
    rename_customer,
)
from orderly.modules.identity.application.commands import (
    AddAddress,
    ChangeAddress,
    RegisterCustomer,
    RemoveAddress,
    RenameCustomer,
)
from orderly.modules.identity.application.ports import (
    AddressView,
    AttemptLimiter,
    IdentityQueries,
    IdentityUnitOfWork,
    Limit,
    PasswordHasher,
)
from orderly.modules.identity.domain.scopes import CUSTOMERS_READ, ME_READ, ME_WRITE
from orderly.platform.auth import Principal, requires, requires_customer
from orderly.platform.http.problems import problem_response, problem_responses
from orderly.platform.http.types import SafeStr
from orderly.shared_kernel.errors import NotFound

Text200 = Annotated[SafeStr, StringConstraints(max_length=200)]
# The signed-in customer, with the scope to read or to change their own data.
Reader = Annotated[Principal, Depends(requires_customer(ME_READ))]
Writer = Annotated[Principal, Depends(requires_customer(ME_WRITE))]
Text100 = Annotated[SafeStr, StringConstraints(max_length=100)]


class RegisterIn(BaseModel):
    """A new customer account. Only these fields: no role, no scopes, no id."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[SafeStr, StringConstraints(min_length=3, max_length=254)] = Field(
        examples=["ada@example.com"]
    )
    password: Annotated[SafeStr, StringConstraints(min_length=1, max_length=256)] = Field(
        description="At least 12 characters, not a common password, not built on the e-mail address."
    )
    name: Text200 | None = None


class CustomerOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str | None
    created_at: datetime


class MeOut(BaseModel):
    """The signed-in person: a customer (with `name`) or a staff member (with `role`)."""

    id: uuid.UUID
    kind: str = Field(description="`customer` or `staff`.")
    email: str
    name: str | None = None
    role: str | None = None
    scopes: list[str] = Field(description="The scopes of the access token used for this call.")
    created_at: datetime


class MePatch(BaseModel):
    """What a customer may change about themselves. Identity, role and scopes are not here."""

    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = None


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient: Annotated[SafeStr, StringConstraints(max_length=200)]
    line1: Annotated[SafeStr, StringConstraints(max_length=200)]
    line2: Text200 = ""
    city: Text100
    postal_code: Annotated[SafeStr, StringConstraints(max_length=20)] = ""
    region: Text100 = ""
    country: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")] = Field(
        description="ISO 3166-1 alpha-2.", examples=["FR"]
    )
    phone: Annotated[SafeStr, StringConstraints(max_length=32)] | None = None


class AddressPatch(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    recipient: Annotated[SafeStr, StringConstraints(max_length=200)] | None = None
    line1: Annotated[SafeStr, StringConstraints(max_length=200)] | None = None
    line2: Text200 | None = None
    city: Text100 | None = None
    postal_code: Annotated[SafeStr, StringConstraints(max_length=20)] | None = None
    region: Text100 | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")] | None = None
    phone: Annotated[SafeStr, StringConstraints(max_length=32)] | None = None


class AddressOut(BaseModel):
    id: uuid.UUID
    recipient: str
    line1: str
    line2: str
    city: str
    postal_code: str
    region: str
    country: str
    phone: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class AddressListOut(BaseModel):
    items: list[AddressOut]


def _address_out(view: AddressView) -> AddressOut:
    return AddressOut(
        id=view.id,
        recipient=view.recipient,
        line1=view.line1,
        line2=view.line2,
        city=view.city,
        postal_code=view.postal_code,
        region=view.region,
        country=view.country,
        phone=view.phone,
        version=view.version,
        created_at=view.created_at,
        updated_at=view.updated_at,
    )


def _customer_id(principal: Principal) -> uuid.UUID:
    customer_id = principal.customer_id
    assert customer_id is not None  # requires_customer guarantees it
    return customer_id


def build_accounts_router(
    *,
    uow_factory: Callable[[], IdentityUnitOfWork],
    hasher: PasswordHasher,
    queries: IdentityQueries,
    limiter: AttemptLimiter,
    register_limit: int,
    window_s: int,
) -> APIRouter:
    router = APIRouter(tags=["customers"])

    @router.post(
        "/v1/customers",
        status_code=status.HTTP_201_CREATED,
        response_model=CustomerOut,
        responses=problem_responses(409, 413, 422, 429),
        summary="Register a customer",
    )
    async def register(body: RegisterIn, request: Request, response: Response) -> CustomerOut | Response:
        """Create a customer account (public: no token). The e-mail address is trimmed and its
        domain lower-cased; addresses differing only in case are the same account (409).
        Registrations per client address are limited (429 with `Retry-After`). Then sign in
        through `/oauth/authorize` to get tokens."""
        limit = Limit(
            f"register:address:{request.client.host if request.client else 'unknown'}",
            register_limit,
            window_s,
        )
        retry_after = await limiter.retry_after([limit])
        if retry_after is not None:
            return problem_response(
                429,
                "too-many-registrations",
                "Too many registrations",
                detail="Too many accounts created from this address; try again later.",
                headers={"Retry-After": str(retry_after)},
            )
        await limiter.record([limit])
        customer_id = await register_customer(
            RegisterCustomer(email=body.email, password=body.password, name=body.name),
            uow=uow_factory(),
            hasher=hasher,
        )
        view = await queries.customer(customer_id)
        if view is None:  # pragma: no cover - just committed
            raise NotFound("customer vanished after registration")
        response.headers["Location"] = f"/v1/customers/{customer_id}"
        return CustomerOut(id=view.id, email=view.email, name=view.name, created_at=view.created_at)

    @router.get(
        "/v1/customers/{customer_id}",
        response_model=CustomerOut,
        responses=problem_responses(401, 403, 404, 422),
        summary="One customer",
    )
    async def get_customer(
        customer_id: uuid.UUID, principal: Annotated[Principal, Depends(requires())]
    ) -> CustomerOut:
        """A customer's profile: the customer themselves (scope `me:read`) or staff and
        services with `customers:read`. Anyone else gets 404, whether the customer exists
        or not."""
        if principal.kind == "customer" and ME_READ not in principal.scopes:
            raise HTTPException(403, "The access token lacks the me:read scope.")
        principal.ensure_can_access_customer(customer_id, staff_scope=CUSTOMERS_READ, what="customer")
        view = await queries.customer(customer_id)
        if view is None:
            raise NotFound("no customer with this id")
        return CustomerOut(id=view.id, email=view.email, name=view.name, created_at=view.created_at)

    @router.get(
        "/v1/me", response_model=MeOut, responses=problem_responses(401, 403, 404), summary="Who am I"
    )
    async def me(principal: Annotated[Principal, Depends(requires(ME_READ))]) -> MeOut:
        """The signed-in customer or staff member behind the access token."""
        scopes = sorted(principal.scopes)
        try:
            subject = uuid.UUID(principal.subject)
        except ValueError:
            raise NotFound("no account for this token's subject") from None
        if principal.kind == "customer":
            customer = await queries.customer(subject)
            if customer is not None:
                return MeOut(
                    id=customer.id,
                    kind="customer",
                    email=customer.email,
                    name=customer.name,
                    scopes=scopes,
                    created_at=customer.created_at,
                )
        elif principal.kind == "staff":
            member = await queries.staff(subject)
            if member is not None:
                return MeOut(
                    id=member.id,
                    kind="staff",
                    email=member.email,
                    role=member.role,
                    scopes=scopes,
                    created_at=member.created_at,
                )
        raise NotFound("no account for this token's subject")

    @router.patch(
        "/v1/me",
        response_model=MeOut,
        responses=problem_responses(401, 403, 404, 422),
        summary="Change my profile",
    )
    async def patch_me(body: MePatch, principal: Writer) -> MeOut:
        """Change the customer's own profile. Only `name`: any other field (an e-mail,
        a role, scopes) is refused with 422 and changes nothing."""
        customer_id = _customer_id(principal)
        await rename_customer(RenameCustomer(customer_id=customer_id, name=body.name), uow=uow_factory())
        customer = await queries.customer(customer_id)
        if customer is None:  # pragma: no cover - just updated
            raise NotFound("no account for this token's subject")
        return MeOut(
            id=customer.id,
            kind="customer",
            email=customer.email,
            name=customer.name,
            scopes=sorted(principal.scopes),
            created_at=customer.created_at,
        )

    @router.get(
        "/v1/me/addresses",
        response_model=AddressListOut,
        responses=problem_responses(401, 403),
        summary="My addresses",
    )
    async def list_addresses(principal: Reader) -> AddressListOut:
        """The signed-in customer's addresses (at most 20), oldest first."""
        views = await queries.addresses(_customer_id(principal))
        return AddressListOut(items=[_address_out(v) for v in views])

    @router.post(
        "/v1/me/addresses",
        status_code=status.HTTP_201_CREATED,
        response_model=AddressOut,
        responses=problem_responses(401, 403, 404, 422),
        summary="Add an address",
    )
    async def create_address(body: AddressIn, principal: Writer, response: Response) -> AddressOut:
        """Add an address to the signed-in customer's book. The owner is the token's customer."""
        customer_id = _customer_id(principal)
        address_id = await add_address(
            AddAddress(customer_id=customer_id, **body.model_dump()), uow=uow_factory()
        )
        view = await queries.address(customer_id=customer_id, address_id=address_id)
        if view is None:  # pragma: no cover - just committed
            raise NotFound("no address with this id")
        response.headers["Location"] = f"/v1/me/addresses/{address_id}"
        return _address_out(view)

    @router.get(
        "/v1/me/addresses/{address_id}",
        response_model=AddressOut,
        responses=problem_responses(401, 403, 404, 422),
        summary="One of my addresses",
    )
    async def get_address(address_id: uuid.UUID, principal: Reader) -> AddressOut:
        """One address of the signed-in customer; 404 if it is someone else's."""
        view = await queries.address(customer_id=_customer_id(principal), address_id=address_id)
        if view is None:
            raise NotFound("no address with this id")
        return _address_out(view)

    @router.patch(
        "/v1/me/addresses/{address_id}",
        response_model=AddressOut,
        responses=problem_responses(401, 403, 404, 422),
        summary="Change one of my addresses",
    )
    async def patch_address(address_id: uuid.UUID, body: AddressPatch, principal: Writer) -> AddressOut:
        """Change some fields of an address; 404 if it is someone else's."""
        customer_id = _customer_id(principal)
        await change_address(
            ChangeAddress(
                customer_id=customer_id, address_id=address_id, changes=body.model_dump(exclude_unset=True)
            ),
            uow=uow_factory(),
        )
        view = await queries.address(customer_id=customer_id, address_id=address_id)
        if view is None:  # pragma: no cover - just updated
            raise NotFound("no address with this id")
        return _address_out(view)

    @router.delete(
        "/v1/me/addresses/{address_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problem_responses(401, 403, 404, 422),
        summary="Remove one of my addresses",
    )
    async def delete_address(address_id: uuid.UUID, principal: Writer) -> Response:
        """Remove an address; 404 if it is someone else's (or already gone)."""
        await remove_address(
            RemoveAddress(customer_id=_customer_id(principal), address_id=address_id), uow=uow_factory()
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
