"""The catalog's tables, all in the ``catalog`` schema."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
)

from orderly.platform.db import module_metadata
from orderly.platform.inbox import inbox_table
from orderly.platform.outbox import outbox_table

metadata = module_metadata("catalog")

products = Table(
    "products",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

variants = Table(
    "variants",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column(
        "product_id",
        Uuid,
        ForeignKey("catalog.products.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("position", Integer, nullable=False),
    Column("price_amount", Numeric(20, 4), nullable=False),
    Column("price_currency", String(3), nullable=False),
    CheckConstraint("price_amount >= 0", name="price_not_negative"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
