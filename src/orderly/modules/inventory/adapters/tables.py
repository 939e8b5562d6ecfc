"""The inventory's tables, all in the ``inventory`` schema.

The CHECK constraints on ``stock_levels`` are the last line against oversell:
whatever the code does, PostgreSQL refuses a level with reserved stock it
does not have. ``stock_movements`` is append-only; a trigger created by the
migration (inventory_0002) refuses UPDATE and DELETE.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from orderly.platform.db import module_metadata
from orderly.platform.inbox import inbox_table
from orderly.platform.outbox import outbox_table

metadata = module_metadata("inventory")

# The registry of SKUs inventory knows (from the catalog's ProductCreated). Its
# row is also the SKU's lock: every change of the SKU's levels first takes it
# FOR UPDATE. product_id is a reference into the catalog, deliberately not a
# foreign key: modules own their data and never join across schemas.
stock_items = Table(
    "stock_items",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("product_id", Uuid, nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

warehouses = Table(
    "warehouses",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Grows with every change (the HTTP ETag). The default serves rows written
    # before inventory_0003 and any process still running the release before it.
    Column("version", Integer, nullable=False, server_default=text("1")),
    CheckConstraint("priority BETWEEN 0 AND 10000", name="priority_range"),
)

stock_levels = Table(
    "stock_levels",
    metadata,
    Column("sku", String(64), ForeignKey("inventory.stock_items.sku"), primary_key=True),
    Column(
        "warehouse_code", String(32), ForeignKey("inventory.warehouses.code"), primary_key=True, index=True
    ),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
    CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
)

MOVEMENT_KINDS = ("adjustment", "reservation", "release", "expiry", "deduction")

# No foreign keys: the history outlives anything it mentions and each insert
# stays a plain append.
stock_movements = Table(
    "stock_movements",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("warehouse_code", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reason", String(16), nullable=True),
    Column("on_hand_delta", Integer, nullable=False),
    Column("reserved_delta", Integer, nullable=False),
    Column("on_hand_after", Integer, nullable=False),
    Column("reserved_after", Integer, nullable=False),
    Column("reference", String(100), nullable=True),
    Column("note", String(500), nullable=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(f"kind IN ({', '.join(repr(k) for k in MOVEMENT_KINDS)})", name="kind_known"),
    CheckConstraint("(kind = 'adjustment') = (reason IS NOT NULL)", name="reason_iff_adjustment"),
    CheckConstraint("on_hand_delta <> 0 OR reserved_delta <> 0", name="changes_something"),
    CheckConstraint(
        "on_hand_after >= 0 AND reserved_after >= 0 AND reserved_after <= on_hand_after", name="after_valid"
    ),
)
Index("ix_stock_movements_sku_id", stock_movements.c.sku, stock_movements.c.id)

RESERVATION_STATUSES = ("active", "confirmed", "released", "expired", "rejected")

reservations = Table(
    "reservations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("reference", String(100), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    # The requested lines and the shortfalls never change once written.
    Column("lines", JSONB, nullable=False),
    Column("shortfalls", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("version", Integer, nullable=False),
    CheckConstraint(f"status IN ({', '.join(repr(s) for s in RESERVATION_STATUSES)})", name="status_known"),
    CheckConstraint("status = 'rejected' OR expires_at IS NOT NULL", name="expiry_unless_rejected"),
    CheckConstraint("(status = 'active') = (closed_at IS NULL)", name="closed_unless_active"),
)
# The sweep's queue: only active reservations, oldest expiry first.
Index(
    "ix_reservations_due",
    reservations.c.expires_at,
    postgresql_where=text("status = 'active'"),
)

reservation_allocations = Table(
    "reservation_allocations",
    metadata,
    Column("reservation_id", Uuid, ForeignKey("inventory.reservations.id"), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("warehouse_code", String(32), primary_key=True),
    Column("quantity", Integer, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
