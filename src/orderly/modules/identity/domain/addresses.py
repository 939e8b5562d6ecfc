"""A customer's postal addresses (shipping and billing), owned by that customer alone."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from orderly.shared_kernel.domain import AggregateRoot, utcnow
from orderly.shared_kernel.errors import InvalidInput
from orderly.shared_kernel.ids import new_id

MAX_ADDRESSES_PER_CUSTOMER = 20
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{4,32}$")

# field -> (required, max length)
_LIMITS: dict[str, tuple[bool, int]] = {
    "recipient": (True, 200),
    "line1": (True, 200),
    "line2": (False, 200),
    "city": (True, 100),
    "postal_code": (False, 20),
    "region": (False, 100),
}


class TooManyAddresses(InvalidInput):
    code = "too-many-addresses"

    def __init__(self) -> None:
        super().__init__(f"a customer keeps at most {MAX_ADDRESSES_PER_CUSTOMER} addresses")


@dataclass(frozen=True)
class AddressFields:
    recipient: str
    line1: str
    city: str
    country: str
    line2: str = ""
    postal_code: str = ""
    region: str = ""
    phone: str | None = None

    def checked(self) -> AddressFields:
        values: dict[str, str] = {}
        for name, (required, limit) in _LIMITS.items():
            value = " ".join(str(getattr(self, name)).split())
            if required and not value:
                raise InvalidInput(f"{name} is required", field=name)
            if len(value) > limit:
                raise InvalidInput(f"{name} has at most {limit} characters", field=name)
            values[name] = value
        country = self.country.strip().upper()
        if not _COUNTRY.match(country):
            raise InvalidInput("country is an ISO 3166-1 alpha-2 code such as 'FR'", field="country")
        phone = self.phone.strip() if self.phone else None
        if phone and not _PHONE.match(phone):
            raise InvalidInput("phone has digits, spaces and + ( ) . / - only", field="phone")
        return AddressFields(country=country, phone=phone or None, **values)


class Address(AggregateRoot):
    def __init__(
        self,
        *,
        id: uuid.UUID,
        customer_id: uuid.UUID,
        fields: AddressFields,
        created_at: datetime,
        updated_at: datetime,
        version: int,
    ) -> None:
        super().__init__()
        self.id = id
        self.customer_id = customer_id
        self.fields = fields
        self.created_at = created_at
        self.updated_at = updated_at
        self.version = version

    @classmethod
    def add(cls, *, customer_id: uuid.UUID, fields: AddressFields, existing_count: int) -> Address:
        if existing_count >= MAX_ADDRESSES_PER_CUSTOMER:
            raise TooManyAddresses()
        now = utcnow()
        return cls(
            id=new_id(),
            customer_id=customer_id,
            fields=fields.checked(),
            created_at=now,
            updated_at=now,
            version=1,
        )

    def change(self, changes: dict[str, str | None]) -> None:
        """Apply a partial update; only the address's own fields can change, never its owner."""
        current = {
            "recipient": self.fields.recipient,
            "line1": self.fields.line1,
            "line2": self.fields.line2,
            "city": self.fields.city,
            "postal_code": self.fields.postal_code,
            "region": self.fields.region,
            "country": self.fields.country,
            "phone": self.fields.phone,
        }
        unknown = set(changes) - set(current)
        if unknown:
            raise InvalidInput(f"unknown address field(s): {', '.join(sorted(unknown))}")
        merged: dict[str, str | None] = {**current, **changes}
        for name in ("recipient", "line1", "city", "country", "line2", "postal_code", "region"):
            if merged[name] is None:
                if name in {"recipient", "line1", "city", "country"}:
                    raise InvalidInput(f"{name} is required", field=name)
                merged[name] = ""
        self.fields = AddressFields(
            recipient=str(merged["recipient"]),
            line1=str(merged["line1"]),
            line2=str(merged["line2"]),
            city=str(merged["city"]),
            postal_code=str(merged["postal_code"]),
            region=str(merged["region"]),
            country=str(merged["country"]),
            phone=merged["phone"],
        ).checked()
        self.updated_at = utcnow()
        self.version += 1
