"""The fulfilment schema: its copy of confirmed orders, shipments and their lines, outbox, inbox.

Revision ID: fulfilment_0001
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


revision: str = "fulfilment_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("fulfilment",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS fulfilment")
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("consumer", "message_id", name=op.f("pk_inbox")),
        schema="fulfilment",
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        schema="fulfilment",
    )
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
        schema="fulfilment",
    )
    op.create_index(
        "ix_outbox_published_at",
        "outbox",
        ["published_at"],
        unique=False,
        schema="fulfilment",
        postgresql_where=sa.text("published_at IS NOT NULL"),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["partition", "xid", "id"],
        unique=False,
        schema="fulfilment",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "shipments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("carrier", sa.String(length=100), nullable=True),
        sa.Column("tracking_number", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'cancelled') OR tracking_number IS NOT NULL",
            name=op.f("ck_shipments_tracked_once_shipped"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'shipped', 'delivered', 'cancelled')",
            name=op.f("ck_shipments_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["fulfilment.orders.id"], name=op.f("fk_shipments_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        schema="fulfilment",
    )
    op.create_index(
        op.f("ix_shipments_order_id"), "shipments", ["order_id"], unique=False, schema="fulfilment"
    )
    op.create_table(
        "shipment_lines",
        sa.Column("shipment_id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_shipment_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["fulfilment.shipments.id"], name=op.f("fk_shipment_lines_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("shipment_id", "sku", name=op.f("pk_shipment_lines")),
        schema="fulfilment",
    )


def downgrade() -> None:
    op.drop_table("shipment_lines", schema="fulfilment")
    op.drop_index(op.f("ix_shipments_order_id"), table_name="shipments", schema="fulfilment")
    op.drop_table("shipments", schema="fulfilment")
    op.drop_index(
        "ix_outbox_unpublished",
        table_name="outbox",
        schema="fulfilment",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_index(
        "ix_outbox_published_at",
        table_name="outbox",
        schema="fulfilment",
        postgresql_where=sa.text("published_at IS NOT NULL"),
    )
    op.drop_table("outbox", schema="fulfilment")
    op.drop_table("orders", schema="fulfilment")
    op.drop_table("inbox", schema="fulfilment")
    op.execute("DROP SCHEMA IF EXISTS fulfilment")
