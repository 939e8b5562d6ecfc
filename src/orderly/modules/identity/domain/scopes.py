"""Scopes, roles, and who may hold which.

A scope names an operation family (``catalog:write``); a role is a bundle of
scopes given to staff. Customers hold only scopes over their own things (the
ownership check narrows them to their own objects); services hold what the
operator registered them with. A token's scopes are always the intersection
of what was requested, what the client may ask for and what the subject may
hold, so no party can widen them.
"""

from __future__ import annotations

import re
from enum import StrEnum

from orderly.shared_kernel.errors import InvalidInput

ME_READ = "me:read"
ME_WRITE = "me:write"
CARTS_WRITE = "carts:write"
ORDERS_READ = "orders:read"
ORDERS_WRITE = "orders:write"
CATALOG_READ = "catalog:read"
CATALOG_WRITE = "catalog:write"
INVENTORY_READ = "inventory:read"
INVENTORY_WRITE = "inventory:write"
PAYMENTS_READ = "payments:read"
PAYMENTS_WRITE = "payments:write"
CUSTOMERS_READ = "customers:read"
INTROSPECT = "oauth:introspect"

CUSTOMER_SCOPES = frozenset({ME_READ, ME_WRITE, CARTS_WRITE, ORDERS_READ, ORDERS_WRITE})


class Role(StrEnum):
    ADMIN = "admin"
    CATALOG_MANAGER = "catalog_manager"
    INVENTORY_MANAGER = "inventory_manager"
    SUPPORT = "support"


# Every staff member reads their own account and changes their own password
# (``me:write``; the rest of /v1/me's writes are for customers only).
_OWN_ACCOUNT = frozenset({ME_READ, ME_WRITE})
ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.CATALOG_MANAGER: _OWN_ACCOUNT | {CATALOG_READ, CATALOG_WRITE, INVENTORY_READ},
    Role.INVENTORY_MANAGER: _OWN_ACCOUNT | {INVENTORY_READ, INVENTORY_WRITE},
    Role.SUPPORT: _OWN_ACCOUNT | {ORDERS_READ, CUSTOMERS_READ, PAYMENTS_READ},
}
# Moving money (order changes, refunds) is for admins only.
ROLE_SCOPES[Role.ADMIN] = frozenset().union(*ROLE_SCOPES.values(), {ORDERS_WRITE, PAYMENTS_WRITE})

STAFF_SCOPES = ROLE_SCOPES[Role.ADMIN]
# A service has no account of its own to read or change.
SERVICE_SCOPES = (STAFF_SCOPES - _OWN_ACCOUNT) | {INTROSPECT}
KNOWN_SCOPES = CUSTOMER_SCOPES | STAFF_SCOPES | SERVICE_SCOPES

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,64}$")
MAX_SCOPES = 32


def parse_scope(value: str) -> frozenset[str]:
    """A space-separated scope string as a set; refuses malformed tokens (not unknown ones)."""
    tokens = value.split(" ")
    scopes = frozenset(t for t in tokens if t)
    if len(scopes) > MAX_SCOPES or any(not _SCOPE_TOKEN.match(t) for t in scopes):
        raise InvalidInput("the scope is not a list of space-separated scope tokens", field="scope")
    return scopes


def format_scope(scopes: frozenset[str] | set[str]) -> str:
    return " ".join(sorted(scopes))


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role '{value}'; roles are {known}", field="role") from None
