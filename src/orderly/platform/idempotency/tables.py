"""The key table, in the platform's own schema (see ``orderly.platform.schema``)."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from orderly.platform.db import module_metadata

SCHEMA = "platform"

metadata = module_metadata(SCHEMA)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # The caller (see scope.py); keys of different callers never meet.
    Column("scope", Text, primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    # Kept for operators reading the table; the fingerprint is what is compared.
    Column("request_method", String(16), nullable=False),
    Column("request_path", Text, nullable=False),
    Column("state", String(16), nullable=False),
    # Fencing token of the execution holding the key: only it may renew,
    # complete or release the key, so a late finisher whose lease was taken
    # over cannot overwrite the answer of the execution that replaced it.
    Column("lease_token", Uuid, nullable=True),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("1")),
    Column("response_status", SmallInteger, nullable=True),
    Column("response_headers", JSONB, nullable=True),
    Column("response_body", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("state IN ('in_flight', 'completed')", name="state_known"),
    CheckConstraint(
        "state <> 'in_flight' OR (lease_token IS NOT NULL AND locked_until IS NOT NULL)",
        name="in_flight_has_lease",
    ),
    CheckConstraint(
        "state <> 'completed' OR (response_status IS NOT NULL AND response_headers IS NOT NULL"
        " AND response_body IS NOT NULL)",
        name="completed_has_response",
    ),
)
# The pruner walks keys oldest first.
Index("ix_idempotency_keys_created_at", idempotency_keys.c.created_at)
