"""The fulfilment module's tables, in the ``fulfilment`` schema.

``orders`` is fulfilment's own projection of confirmed orders (from
ordering's events): the order id is ordering's, by value, never a foreign key
across schemas.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

from orderly.platform.db import module_metadata
from orderly.platform.inbox import inbox_table
from orderly.platform.outbox import outbox_table

metadata = module_metadata("fulfilment")

orders = Table(
    "orders",
    metadata,
    Column("id", Uuid, primary_key=True),
    # {sku: quantity} as ordered; never changes once written.
    Column("lines", JSONB, nullable=False),
    Column("cancelled", Boolean, nullable=False),
    Column("confirmed_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)

SHIPMENT_STATUSES = ("pending", "shipped", "delivered", "cancelled")

shipments = Table(
    "shipments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("order_id", Uuid, ForeignKey("fulfilment.orders.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("carrier", String(100), nullable=True),
    Column("tracking_number", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("shipped_at", DateTime(timezone=True), nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    CheckConstraint(f"status IN ({', '.join(repr(s) for s in SHIPMENT_STATUSES)})", name="status_known"),
    CheckConstraint(
        "status IN ('pending', 'cancelled') OR tracking_number IS NOT NULL", name="tracked_once_shipped"
    ),
)

shipment_lines = Table(
    "shipment_lines",
    metadata,
    Column("shipment_id", Uuid, ForeignKey("fulfilment.shipments.id"), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("quantity", Integer, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
