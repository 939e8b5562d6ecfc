"""The payments tables, all in the ``payments`` schema."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    text,
)

from orderly.platform.db import module_metadata
from orderly.platform.inbox import inbox_table
from orderly.platform.outbox import outbox_table

metadata = module_metadata("payments")

# order_id and customer_id point into other modules: references, never foreign keys.
payments = Table(
    "payments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("reference", String(255), nullable=False, unique=True),
    Column("order_id", Uuid, nullable=False, index=True),
    Column("customer_id", Uuid, nullable=True),
    Column("amount", Numeric(19, 4), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(24), nullable=False),
    Column("provider_intent_id", String(100), nullable=True, unique=True),
    Column("captured_amount", Numeric(19, 4), nullable=False),
    Column("failure_reason", String(16), nullable=True),
    Column("decline_code", String(64), nullable=True),
    Column("release_pending", Boolean, nullable=False, server_default=text("false")),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("captured_amount >= 0 AND captured_amount <= amount", name="captured_within_amount"),
    CheckConstraint(
        "status IN ('pending', 'authorized', 'failed', 'voided', 'captured', "
        "'partially_refunded', 'refunded')",
        name="status_known",
    ),
)

# What the sweep looks for: few rows, so partial indexes stay tiny.
Index(
    "ix_payments_pending_updated_at",
    payments.c.updated_at,
    postgresql_where=payments.c.status == "pending",
)
Index(
    "ix_payments_release_pending_updated_at",
    payments.c.updated_at,
    postgresql_where=payments.c.release_pending,
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("payment_id", Uuid, ForeignKey("payments.payments.id"), nullable=False),
    Column("reference", String(255), nullable=False),
    Column("amount", Numeric(19, 4), nullable=False),
    Column("status", String(16), nullable=False),
    Column("provider_refund_id", String(100), nullable=True, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("payment_id", "reference"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("status IN ('requested', 'succeeded', 'failed')", name="status_known"),
)

Index(
    "ix_refunds_requested_updated_at",
    refunds.c.updated_at,
    postgresql_where=refunds.c.status == "requested",
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
