"""Warehouses, stock levels per SKU and warehouse, the movement history, reservations.

The CHECK constraints on stock_levels are the database's own guarantee against
oversell (docs/adr/0010). stock_movements is append-only: a statement trigger
refuses any UPDATE or DELETE on it (TRUNCATE stays an administrator's tool).

Revision ID: inventory_0002
Revises: inventory_0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "inventory_0002"
down_revision: str | None = "inventory_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "warehouses",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("priority BETWEEN 0 AND 10000", name=op.f("ck_warehouses_priority_range")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_warehouses")),
        schema="inventory",
    )
    op.create_table(
        "stock_levels",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("warehouse_code", sa.String(length=32), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("on_hand >= 0", name=op.f("ck_stock_levels_on_hand_not_negative")),
        sa.CheckConstraint("reserved >= 0", name=op.f("ck_stock_levels_reserved_not_negative")),
        sa.CheckConstraint("reserved <= on_hand", name=op.f("ck_stock_levels_reserved_within_on_hand")),
        sa.ForeignKeyConstraint(
            ["sku"], ["inventory.stock_items.sku"], name=op.f("fk_stock_levels_sku_stock_items")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_code"],
            ["inventory.warehouses.code"],
            name=op.f("fk_stock_levels_warehouse_code_warehouses"),
        ),
        sa.PrimaryKeyConstraint("sku", "warehouse_code", name=op.f("pk_stock_levels")),
        schema="inventory",
    )
    op.create_index(
        op.f("ix_stock_levels_warehouse_code"), "stock_levels", ["warehouse_code"], schema="inventory"
    )

    op.create_table(
        "stock_movements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("warehouse_code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=True),
        sa.Column("on_hand_delta", sa.Integer(), nullable=False),
        sa.Column("reserved_delta", sa.Integer(), nullable=False),
        sa.Column("on_hand_after", sa.Integer(), nullable=False),
        sa.Column("reserved_after", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('adjustment', 'reservation', 'release', 'expiry', 'deduction')",
            name=op.f("ck_stock_movements_kind_known"),
        ),
        sa.CheckConstraint(
            "(kind = 'adjustment') = (reason IS NOT NULL)",
            name=op.f("ck_stock_movements_reason_iff_adjustment"),
        ),
        sa.CheckConstraint(
            "on_hand_delta <> 0 OR reserved_delta <> 0", name=op.f("ck_stock_movements_changes_something")
        ),
        sa.CheckConstraint(
            "on_hand_after >= 0 AND reserved_after >= 0 AND reserved_after <= on_hand_after",
            name=op.f("ck_stock_movements_after_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
        schema="inventory",
    )
    op.create_index("ix_stock_movements_sku_id", "stock_movements", ["sku", "id"], schema="inventory")
    op.execute(
        """
        CREATE FUNCTION inventory.refuse_movement_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'inventory.stock_movements is append-only: % refused', TG_OP
                USING ERRCODE = 'restrict_violation';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER stock_movements_append_only BEFORE UPDATE OR DELETE ON inventory.stock_movements "
        "FOR EACH STATEMENT EXECUTE FUNCTION inventory.refuse_movement_change()"
    )

    op.create_table(
        "reservations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "shortfalls",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'confirmed', 'released', 'expired', 'rejected')",
            name=op.f("ck_reservations_status_known"),
        ),
        sa.CheckConstraint(
            "status = 'rejected' OR expires_at IS NOT NULL",
            name=op.f("ck_reservations_expiry_unless_rejected"),
        ),
        sa.CheckConstraint(
            "(status = 'active') = (closed_at IS NULL)", name=op.f("ck_reservations_closed_unless_active")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
        sa.UniqueConstraint("reference", name=op.f("uq_reservations_reference")),
        schema="inventory",
    )
    # The sweep's queue: only active reservations are in it.
    op.create_index(
        "ix_reservations_due",
        "reservations",
        ["expires_at"],
        schema="inventory",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "reservation_allocations",
        sa.Column("reservation_id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("warehouse_code", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_reservation_allocations_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["inventory.reservations.id"],
            name=op.f("fk_reservation_allocations_reservation_id_reservations"),
        ),
        sa.PrimaryKeyConstraint(
            "reservation_id", "sku", "warehouse_code", name=op.f("pk_reservation_allocations")
        ),
        schema="inventory",
    )


def downgrade() -> None:
    op.drop_table("reservation_allocations", schema="inventory")
    op.drop_index(
        "ix_reservations_due",
        table_name="reservations",
        schema="inventory",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.drop_table("reservations", schema="inventory")
    op.execute("DROP TRIGGER stock_movements_append_only ON inventory.stock_movements")
    op.execute("DROP FUNCTION inventory.refuse_movement_change()")
    op.drop_index("ix_stock_movements_sku_id", table_name="stock_movements", schema="inventory")
    op.drop_table("stock_movements", schema="inventory")
    op.drop_index(op.f("ix_stock_levels_warehouse_code"), table_name="stock_levels", schema="inventory")
    op.drop_table("stock_levels", schema="inventory")
    op.drop_table("warehouses", schema="inventory")
