"""The ordering schema: orders (with their saga's state), lines, refunds, history, outbox, inbox.

Revision ID: ordering_0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


class XID8(sa.types.UserDefinedType):  # type: ignore[type-arg]
    """Frozen copy of the column type, so this migration never changes with the app."""

    cache_ok = True

    def get_col_spec(self, **_: object) -> str:
        return "xid8"


revision: str = "ordering_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("ordering",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS ordering")
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("consumer", "message_id", name=op.f("pk_inbox")),
        schema="ordering",
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("checkout_reference", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("cart_id", sa.String(length=100), nullable=False),
        sa.Column("cart_version", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("shipping_address", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("subtotal", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("shipping", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("tax_rate", sa.Numeric(precision=6, scale=5), nullable=False),
        sa.Column("tax", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("total", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("captured", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("saga_step", sa.String(length=32), nullable=False),
        sa.Column("saga_attempt", sa.Integer(), nullable=False),
        sa.Column("saga_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("compensation_stock", sa.String(length=16), nullable=False),
        sa.Column("compensation_payment", sa.String(length=16), nullable=False),
        sa.Column("stock_confirmed", sa.Boolean(), nullable=False),
        sa.Column("fulfilment", sa.String(length=32), nullable=False),
        sa.Column("fulfilment_started", sa.Boolean(), nullable=False),
        sa.Column("guest_token_hash", sa.String(length=64), nullable=True),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(saga_step = 'done') = (saga_deadline IS NULL)", name=op.f("ck_orders_deadline_unless_done")
        ),
        sa.CheckConstraint(
            "compensation_payment IN ('clear', 'absent', 'pending')",
            name=op.f("ck_orders_compensation_payment_known"),
        ),
        sa.CheckConstraint(
            "compensation_stock IN ('clear', 'absent', 'pending')",
            name=op.f("ck_orders_compensation_stock_known"),
        ),
        sa.CheckConstraint(
            "fulfilment IN ('none', 'partially_fulfilled', 'fulfilled', 'delivered')",
            name=op.f("ck_orders_fulfilment_known"),
        ),
        sa.CheckConstraint(
            "saga_step IN ('reserve_stock', 'authorize_payment', 'confirm_stock', 'capture_payment', 'compensate', 'refund', 'done')",
            name=op.f("ck_orders_saga_step_known"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'awaiting_payment', 'confirmed', 'partially_fulfilled', 'fulfilled', 'delivered', 'cancelled', 'payment_failed', 'rejected', 'expired', 'partially_refunded', 'refunded')",
            name=op.f("ck_orders_status_known"),
        ),
        sa.CheckConstraint(
            "captured >= 0 AND captured <= total", name=op.f("ck_orders_captured_within_total")
        ),
        sa.CheckConstraint("saga_attempt >= 1", name=op.f("ck_orders_attempt_positive")),
        sa.CheckConstraint(
            "total >= 0 AND subtotal >= 0 AND shipping >= 0 AND tax >= 0",
            name=op.f("ck_orders_amounts_positive"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("checkout_reference", name=op.f("uq_orders_checkout_reference")),
        schema="ordering",
    )
    op.create_index(
        "ix_orders_customer_id_id", "orders", ["customer_id", "id"], unique=False, schema="ordering"
    )
    op.create_index("ix_orders_placed_at", "orders", ["placed_at"], unique=False, schema="ordering")
    op.create_index(
        "ix_orders_saga_due",
        "orders",
        ["saga_deadline"],
        unique=False,
        schema="ordering",
        postgresql_where=sa.text("saga_step <> 'done'"),
    )
    op.create_index("ix_orders_status_id", "orders", ["status", "id"], unique=False, schema="ordering")
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("aggregate_type", sa.String(length=100), nullable=False),
        sa.Column("aggregate_id", sa.String(length=100), nullable=False),
        sa.Column("partition", sa.SmallInteger(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "headers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("xid", XID8(), server_default=sa.text("pg_current_xact_id()"), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
        schema="ordering",
    )
    op.create_index(
        "ix_outbox_published_at",
        "outbox",
        ["published_at"],
        unique=False,
        schema="ordering",
        postgresql_where=sa.text("published_at IS NOT NULL"),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["partition", "xid", "id"],
        unique=False,
        schema="ordering",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["ordering.orders.id"], name=op.f("fk_order_events_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
        schema="ordering",
    )
    op.create_index(
        "ix_order_events_order_id_id", "order_events", ["order_id", "id"], unique=False, schema="ordering"
    )
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("line_total", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_lines_quantity_positive")),
        sa.CheckConstraint(
            "unit_price >= 0 AND line_total = unit_price * quantity",
            name=op.f("ck_order_lines_line_total_exact"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["ordering.orders.id"], name=op.f("fk_order_lines_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("order_id", "position", name=op.f("pk_order_lines")),
        schema="ordering",
    )
    op.create_table(
        "order_refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('requested', 'succeeded', 'failed')", name=op.f("ck_order_refunds_status_known")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_order_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["ordering.orders.id"], name=op.f("fk_order_refunds_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_refunds")),
        schema="ordering",
    )
    op.create_index(
        op.f("ix_order_refunds_order_id"), "order_refunds", ["order_id"], unique=False, schema="ordering"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_order_refunds_order_id"), table_name="order_refunds", schema="ordering")
    op.drop_table("order_refunds", schema="ordering")
    op.drop_table("order_lines", schema="ordering")
    op.drop_index("ix_order_events_order_id_id", table_name="order_events", schema="ordering")
    op.drop_table("order_events", schema="ordering")
    op.drop_index(
        "ix_outbox_unpublished",
        table_name="outbox",
        schema="ordering",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_index(
        "ix_outbox_published_at",
        table_name="outbox",
        schema="ordering",
        postgresql_where=sa.text("published_at IS NOT NULL"),
    )
    op.drop_table("outbox", schema="ordering")
    op.drop_index("ix_orders_status_id", table_name="orders", schema="ordering")
    op.drop_index(
        "ix_orders_saga_due",
        table_name="orders",
        schema="ordering",
        postgresql_where=sa.text("saga_step <> 'done'"),
    )
    op.drop_index("ix_orders_placed_at", table_name="orders", schema="ordering")
    op.drop_index("ix_orders_customer_id_id", table_name="orders", schema="ordering")
    op.drop_table("orders", schema="ordering")
    op.drop_table("inbox", schema="ordering")
    op.execute("DROP SCHEMA IF EXISTS ordering")
