"""Warehouses get a version, for changing them with optimistic concurrency (expand step).

Expand-only: a NOT NULL column with a server default, so existing rows start at
version 1 and a process still running the previous release, which inserts
warehouses without the column, keeps working during a rollout. ``active``
exists since inventory_0002.

Revision ID: inventory_0003
Revises: inventory_0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "inventory_0003"
down_revision: str | None = "inventory_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "warehouses",
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        schema="inventory",
    )


def downgrade() -> None:
    op.drop_column("warehouses", "version", schema="inventory")
