"""Commands (imperative, no behaviour)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from orderly.modules.identity.domain.clients import SignIn
from orderly.modules.identity.domain.grants import SubjectKind


@dataclass(frozen=True)
class RegisterCustomer:
    email: str
    password: str
    name: str | None = None


@dataclass(frozen=True)
class CreateStaffMember:
    email: str
    password: str
    role: str


@dataclass(frozen=True)
class CreateClient:
    name: str
    scopes: str
    redirect_uris: tuple[str, ...] = ()
    public: bool = False
    sign_in: SignIn | None = None


@dataclass(frozen=True)
class RenameCustomer:
    customer_id: uuid.UUID
    name: str | None


@dataclass(frozen=True)
class AddAddress:
    customer_id: uuid.UUID
    recipient: str
    line1: str
    city: str
    country: str
    line2: str = ""
    postal_code: str = ""
    region: str = ""
    phone: str | None = None


@dataclass(frozen=True)
class ChangeAddress:
    customer_id: uuid.UUID
    address_id: uuid.UUID
    changes: dict[str, str | None]


@dataclass(frozen=True)
class RemoveAddress:
    customer_id: uuid.UUID
    address_id: uuid.UUID


@dataclass(frozen=True)
class ChangePassword:
    """``session`` is the ``jti`` of the access token the request came with: that sign-in stays."""

    subject: uuid.UUID
    subject_kind: SubjectKind
    current_password: str
    new_password: str
    session: uuid.UUID | None = None
