"""Who is calling: the verified content of an access token, and ownership checks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from orderly.shared_kernel.errors import NotFound

PrincipalKind = Literal["customer", "staff", "service"]

# Staff and services reach customers' objects through this scope; customers
# reach their own objects whatever their scopes say.
CUSTOMER_DATA_SCOPE = "customers:read"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller an access token speaks for.

    ``kind`` is derived from the token, never sent by the caller: a token whose
    ``sub`` is its own ``client_id`` is a service acting for itself (RFC 9068
    §2.2), a token with ``roles`` is staff, anything else is a customer.
    """

    subject: str
    kind: PrincipalKind
    scopes: frozenset[str]
    client_id: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None
    expires_at: int | None = None

    def has_scopes(self, *scopes: str) -> bool:
        return set(scopes) <= self.scopes

    @property
    def customer_id(self) -> uuid.UUID | None:
        """The customer this token belongs to, or None for staff, services and foreign subjects."""
        if self.kind != "customer":
            return None
        try:
            return uuid.UUID(self.subject)
        except ValueError:
            return None

    def can_access_customer(
        self, customer_id: uuid.UUID | str, *, staff_scope: str = CUSTOMER_DATA_SCOPE
    ) -> bool:
        """Object-level authorization for anything a customer owns.

        A customer reaches only their own objects; staff and services reach any
        customer's objects if the token carries ``staff_scope``.
        """
        if self.kind == "customer":
            return self.customer_id is not None and str(self.customer_id) == str(customer_id)
        return staff_scope in self.scopes

    def ensure_can_access_customer(
        self, customer_id: uuid.UUID | str, *, staff_scope: str = CUSTOMER_DATA_SCOPE, what: str = "object"
    ) -> None:
        """Raise NotFound (not Forbidden) for someone else's object, so its existence is not leaked."""
        if not self.can_access_customer(customer_id, staff_scope=staff_scope):
            raise NotFound(f"no {what} with this id")
