"""The inventory's tables, all in the ``inventory`` schema."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, String, Table, Uuid

from orderly.platform.db import module_metadata
from orderly.platform.inbox import inbox_table
from orderly.platform.outbox import outbox_table

metadata = module_metadata("inventory")

# product_id is a reference into the catalog, deliberately not a foreign key:
# modules own their data and never join across schemas.
stock_items = Table(
    "stock_items",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("product_id", Uuid, nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
