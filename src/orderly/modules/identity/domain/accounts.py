"""People who sign in: customers and staff, their e-mail addresses and passwords."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from orderly.modules.identity.contracts import CustomerRegistered, PasswordChanged
from orderly.modules.identity.domain.common_passwords import COMMON_PASSWORDS
from orderly.modules.identity.domain.scopes import CUSTOMER_SCOPES, ROLE_SCOPES, Role
from orderly.shared_kernel.domain import AggregateRoot, utcnow
from orderly.shared_kernel.errors import Conflict, InvalidInput
from orderly.shared_kernel.ids import new_id

MIN_PASSWORD_LENGTH = 12
# argon2 accepts any length; the cap keeps one request from costing more than
# a hash is worth.
MAX_PASSWORD_LENGTH = 256
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200

_LOCAL_PART = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$")
_DOMAIN_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TRAILING_NOISE = re.compile(r"[\d\W_]+$")


class EmailTaken(Conflict):
    code = "email-taken"

    def __init__(self) -> None:
        super().__init__("an account with this e-mail address already exists")


class WeakPassword(InvalidInput):
    code = "weak-password"


@dataclass(frozen=True, slots=True)
class Email:
    """An e-mail address as the person wrote it (trimmed, domain in lower case), and its match key.

    The local part keeps its case for display and delivery (RFC 5321 lets a
    server treat it case-sensitively) but two addresses that differ only in
    its case are the same account: ``key`` is the whole address in lower case.
    """

    value: str
    key: str

    @classmethod
    def parse(cls, raw: str) -> Email:
        text = raw.strip()
        local, at, domain = text.rpartition("@")
        if not at or len(text) > MAX_EMAIL_LENGTH or not _LOCAL_PART.match(local):
            raise InvalidInput("not an e-mail address this service accepts", field="email")
        if local.startswith(".") or local.endswith(".") or ".." in local:
            raise InvalidInput("not an e-mail address this service accepts", field="email")
        domain = domain.lower()
        labels = domain.split(".")
        if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels) or labels[-1].isdigit():
            raise InvalidInput("the e-mail domain is not a valid host name", field="email")
        value = f"{local}@{domain}"
        return cls(value=value, key=value.lower())


def check_password_strength(password: str, *, email: Email, field: str = "password") -> None:
    """The minimum-strength rule (docs/adr/0020); ``field`` is the request field a refusal names.

    At least 12 characters and at most 256; some letters (not only digits and
    symbols); not one of the passwords attackers try first (ignoring case and
    trailing digits or symbols); not built around the e-mail address; more than
    two distinct characters.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field=field)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_PASSWORD_LENGTH} characters", field=field)
    if "\x00" in password:
        raise WeakPassword("a password cannot contain NUL characters", field=field)
    folded = password.casefold()
    stem = _TRAILING_NOISE.sub("", folded)
    if not stem:
        raise WeakPassword("a password of only digits and symbols is too easy to guess", field=field)
    if folded in COMMON_PASSWORDS or stem in COMMON_PASSWORDS:
        raise WeakPassword("this password is too common; choose another", field=field)
    if len(set(folded)) <= 2:
        raise WeakPassword("a password needs more than one or two distinct characters", field=field)
    # What is left once the address, its local part and its domain are taken out.
    remainder = folded
    local, _, domain = email.key.partition("@")
    for part in (email.key, local, domain):
        if len(part) >= 3:
            remainder = remainder.replace(part, "")
    if len(remainder) < MIN_PASSWORD_LENGTH // 2:
        raise WeakPassword("a password must not be built around the e-mail address", field=field)


def check_new_password(password: str, *, current: str, email: Email) -> None:
    """A replacement password: the strength rule, and not the password it replaces.

    Only an exact repeat is refused; ``current`` has just been verified, so the
    comparison needs no hash.
    """
    if password == current:
        raise WeakPassword("the new password must differ from the current one", field="new_password")
    check_password_strength(password, email=email, field="new_password")


def check_name(name: str | None) -> str | None:
    if name is None:
        return None
    name = name.strip()
    if not name:
        return None
    if len(name) > MAX_NAME_LENGTH or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"a name has 1 to {MAX_NAME_LENGTH} printable characters", field="name")
    return name


class Customer(AggregateRoot):
    def __init__(
        self,
        *,
        id: uuid.UUID,
        email: Email,
        password_hash: str,
        name: str | None,
        created_at: datetime,
        version: int,
    ) -> None:
        super().__init__()
        self.id = id
        self.email = email
        self.password_hash = password_hash
        self.name = name
        self.created_at = created_at
        self.version = version

    @classmethod
    def register(cls, *, email: Email, password_hash: str, name: str | None) -> Customer:
        customer = cls(
            id=new_id(),
            email=email,
            password_hash=password_hash,
            name=check_name(name),
            created_at=utcnow(),
            version=1,
        )
        customer.record(
            CustomerRegistered(aggregate_id=str(customer.id), customer_id=str(customer.id), email=email.value)
        )
        return customer

    @property
    def allowed_scopes(self) -> frozenset[str]:
        return CUSTOMER_SCOPES

    def rename(self, name: str | None) -> None:
        self.name = check_name(name)
        self.version += 1

    def rehash_password(self, password_hash: str) -> None:
        """A stronger hash of the same password (the hasher's parameters went up)."""
        self.password_hash = password_hash

    def change_password(self, password_hash: str) -> None:
        """A new password, after the customer proved the old one."""
        self.password_hash = password_hash
        self.record(_password_changed(self.id, "customer"))


class StaffMember(AggregateRoot):
    def __init__(
        self,
        *,
        id: uuid.UUID,
        email: Email,
        password_hash: str,
        role: Role,
        active: bool,
        created_at: datetime,
        version: int,
    ) -> None:
        super().__init__()
        self.id = id
        self.email = email
        self.password_hash = password_hash
        self.role = role
        self.active = active
        self.created_at = created_at
        self.version = version

    @classmethod
    def create(cls, *, email: Email, password_hash: str, role: Role) -> StaffMember:
        return cls(
            id=new_id(),
            email=email,
            password_hash=password_hash,
            role=role,
            active=True,
            created_at=utcnow(),
            version=1,
        )

    @property
    def allowed_scopes(self) -> frozenset[str]:
        return ROLE_SCOPES[self.role] if self.active else frozenset()

    def rehash_password(self, password_hash: str) -> None:
        self.password_hash = password_hash

    def change_password(self, password_hash: str) -> None:
        """A new password, after the staff member proved the old one."""
        self.password_hash = password_hash
        self.record(_password_changed(self.id, "staff"))


def _password_changed(account_id: uuid.UUID, kind: str) -> PasswordChanged:
    return PasswordChanged(aggregate_id=str(account_id), subject_id=str(account_id), subject_kind=kind)
