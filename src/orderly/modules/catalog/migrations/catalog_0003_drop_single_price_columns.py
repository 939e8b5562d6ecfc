"""Contract step of catalog_0002: drop the variants' single-price columns.

Safe once no process of the release before catalog_0002 runs (in a rolling
deployment, ship this one release later than 0002).

Revision ID: catalog_0003
Revises: catalog_0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "catalog_0003"
down_revision: str | None = "catalog_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_column("variants", "price_currency", schema="catalog")
    op.drop_column("variants", "price_amount", schema="catalog")


def downgrade() -> None:
    op.add_column(
        "variants",
        sa.Column("price_amount", sa.Numeric(precision=20, scale=4), nullable=True),
        schema="catalog",
    )
    op.add_column(
        "variants", sa.Column("price_currency", sa.String(length=3), nullable=True), schema="catalog"
    )
    op.create_check_constraint(
        op.f("ck_variants_price_not_negative"), "variants", "price_amount >= 0", schema="catalog"
    )
    op.execute(
        """
        UPDATE catalog.variants AS v
        SET price_amount = vp.amount, price_currency = vp.currency
        FROM catalog.variant_prices AS vp
        WHERE vp.sku = v.sku AND vp.position = 0
        """
    )
