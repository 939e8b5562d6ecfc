"""The ordering module's tables, all in the ``ordering`` schema.

The saga's state lives on the order row (``saga_step``, ``saga_attempt``,
``saga_deadline``): the order and its saga change in one transaction, and
the sweep finds overdue sagas through one partial index. ``order_events``
is the order's history, appended in the same transaction as each change.
SKUs and product ids refer to other modules by value, never by foreign key.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from orderly.platform.db import module_metadata
from orderly.platform.inbox import inbox_table
from orderly.platform.outbox import outbox_table

metadata = module_metadata("ordering")

STATUSES = (
    "pending",
    "awaiting_payment",
    "confirmed",
    "partially_fulfilled",
    "fulfilled",
    "delivered",
    "cancelled",
    "payment_failed",
    "rejected",
    "expired",
    "partially_refunded",
    "refunded",
)
SAGA_STEPS = (
    "reserve_stock",
    "authorize_payment",
    "confirm_stock",
    "capture_payment",
    "compensate",
    "refund",
    "done",
)
HELD = ("clear", "absent", "pending")
FULFILMENT = ("none", "partially_fulfilled", "fulfilled", "delivered")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# Money: up to 15 integer digits and 4 decimals covers every ISO 4217 currency.
MONEY = Numeric(19, 4)

orders = Table(
    "orders",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("checkout_reference", String(64), nullable=False, unique=True),
    Column("customer_id", Uuid, nullable=True),
    Column("email", String(254), nullable=False),
    Column("cart_id", String(100), nullable=False),
    Column("cart_version", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("shipping_address", JSONB, nullable=False),
    Column("subtotal", MONEY, nullable=False),
    Column("shipping", MONEY, nullable=False),
    Column("tax_rate", Numeric(6, 5), nullable=False),
    Column("tax", MONEY, nullable=False),
    Column("total", MONEY, nullable=False),
    Column("captured", MONEY, nullable=False),
    Column("status", String(32), nullable=False),
    Column("status_reason", String(500), nullable=True),
    Column("saga_step", String(32), nullable=False),
    Column("saga_attempt", Integer, nullable=False),
    Column("saga_deadline", DateTime(timezone=True), nullable=True),
    Column("compensation_stock", String(16), nullable=False),
    Column("compensation_payment", String(16), nullable=False),
    Column("stock_confirmed", Boolean, nullable=False),
    Column("fulfilment", String(32), nullable=False),
    Column("fulfilment_started", Boolean, nullable=False),
    Column("guest_token_hash", String(64), nullable=True),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint(_one_of("status", STATUSES), name="status_known"),
    CheckConstraint(_one_of("saga_step", SAGA_STEPS), name="saga_step_known"),
    CheckConstraint("(saga_step = 'done') = (saga_deadline IS NULL)", name="deadline_unless_done"),
    CheckConstraint(_one_of("compensation_stock", HELD), name="compensation_stock_known"),
    CheckConstraint(_one_of("compensation_payment", HELD), name="compensation_payment_known"),
    CheckConstraint(_one_of("fulfilment", FULFILMENT), name="fulfilment_known"),
    CheckConstraint("total >= 0 AND subtotal >= 0 AND shipping >= 0 AND tax >= 0", name="amounts_positive"),
    CheckConstraint("captured >= 0 AND captured <= total", name="captured_within_total"),
    CheckConstraint("saga_attempt >= 1", name="attempt_positive"),
)
# A customer's orders, newest first (keyset on the UUIDv7 id).
Index("ix_orders_customer_id_id", orders.c.customer_id, orders.c.id)
# Staff filters by status, newest first.
Index("ix_orders_status_id", orders.c.status, orders.c.id)
Index("ix_orders_placed_at", orders.c.placed_at)
# The sweep's queue: sagas still running, earliest deadline first.
Index(
    "ix_orders_saga_due",
    orders.c.saga_deadline,
    postgresql_where=text("saga_step <> 'done'"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", Uuid, ForeignKey("ordering.orders.id"), primary_key=True),
    Column("position", SmallInteger, primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("product_id", Uuid, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", MONEY, nullable=False),
    Column("line_total", MONEY, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("unit_price >= 0 AND line_total = unit_price * quantity", name="line_total_exact"),
)

REFUND_STATES = ("requested", "succeeded", "failed")

order_refunds = Table(
    "order_refunds",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("order_id", Uuid, ForeignKey("ordering.orders.id"), nullable=False, index=True),
    Column("amount", MONEY, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("settled_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint(_one_of("status", REFUND_STATES), name="status_known"),
)

# Append-only history of each order; the id gives the order of entries.
order_events = Table(
    "order_events",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("order_id", Uuid, ForeignKey("ordering.orders.id"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("status", String(32), nullable=False),
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
)
Index("ix_order_events_order_id_id", order_events.c.order_id, order_events.c.id)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
