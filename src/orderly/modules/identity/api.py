"""The identity module's facade: what other modules may ask it, synchronously."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from orderly.shared_kernel.errors import Unavailable


class IdentityUnavailable(Unavailable):
    """Customer accounts cannot be read from this process right now (identity is not
    deployed alongside the caller, or cannot be reached); retry later (HTTP 503)."""

    code = "identity-unavailable"
    retry_after_s = 5


@dataclass(frozen=True)
class CustomerSummary:
    id: uuid.UUID
    email: str
    name: str | None


@dataclass(frozen=True)
class AddressSnapshot:
    """A customer's address as it is now (orders copy it; later edits do not change them)."""

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


class IdentityApi(Protocol):
    async def customer(self, customer_id: uuid.UUID) -> CustomerSummary | None:
        """The customer with this id, or None if there is none."""
        ...

    async def address(self, *, customer_id: uuid.UUID, address_id: uuid.UUID) -> AddressSnapshot | None:
        """One of this customer's addresses; None if it does not exist or belongs to someone else."""
        ...
