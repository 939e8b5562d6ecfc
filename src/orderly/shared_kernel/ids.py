"""Identifiers.

UUIDv7 keeps new rows clustered at the right-hand edge of B-tree indexes and
sorts by creation time, which keyset pagination relies on.
"""

from __future__ import annotations

import uuid

import uuid_utils.compat as uuid_compat


def new_id() -> uuid.UUID:
    """A new time-ordered identifier (UUIDv7)."""
    return uuid_compat.uuid7()
