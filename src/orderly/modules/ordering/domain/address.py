"""The address an order ships to, copied into the order (later edits elsewhere never change it)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from orderly.shared_kernel.errors import InvalidInput

COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")
# Field -> (required, max length). The edge validates the same bounds; the
# domain checks again because the facade path (another module) has no edge.
FIELDS: dict[str, tuple[bool, int]] = {
    "recipient": (True, 200),
    "line1": (True, 200),
    "line2": (False, 200),
    "city": (True, 100),
    "postal_code": (True, 20),
    "region": (False, 100),
    "country": (True, 2),
    "phone": (False, 40),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ShippingAddress:
    recipient: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str = ""
    region: str = ""
    phone: str | None = None

    def __post_init__(self) -> None:
        for name, (required, max_length) in FIELDS.items():
            value = getattr(self, name)
            if value is None:
                if required:
                    raise InvalidInput(f"{name} is required", field=f"shipping_address.{name}")
                continue
            if required and not value.strip():
                raise InvalidInput(f"{name} is required", field=f"shipping_address.{name}")
            if len(value) > max_length or "\x00" in value:
                raise InvalidInput(
                    f"{name} is at most {max_length} characters", field=f"shipping_address.{name}"
                )
        if not COUNTRY_PATTERN.match(self.country):
            raise InvalidInput(
                "country is an ISO 3166-1 alpha-2 code in capitals, e.g. 'DE'",
                field="shipping_address.country",
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShippingAddress:
        phone = data.get("phone")
        return cls(
            recipient=str(data.get("recipient", "")),
            line1=str(data.get("line1", "")),
            line2=str(data.get("line2") or ""),
            city=str(data.get("city", "")),
            postal_code=str(data.get("postal_code", "")),
            region=str(data.get("region") or ""),
            country=str(data.get("country", "")),
            phone=str(phone) if phone is not None else None,
        )
