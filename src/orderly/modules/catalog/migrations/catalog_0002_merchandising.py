"""Products become merchandise: slugs, statuses, variant attributes, prices in several
currencies, categories, search columns, and the availability projection (expand step).

The variants' single-price columns stay (nullable, no longer written) so a
process still running the previous release keeps working during a rollout;
catalog_0003 drops them. Existing products were visible to everyone, so they
become ``published``.

Revision ID: catalog_0002
Revises: catalog_0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "catalog_0002"
down_revision: str | None = "catalog_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the generated column's expression (the app's may evolve).
SEARCH_DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, (name)::text), 'A'::\"char\") || "
    "setweight(to_tsvector('english'::regconfig, description), 'B'::\"char\")"
)


def upgrade() -> None:
    # Trigram matching for typo-tolerant search. Both the embedded PostgreSQL wheel
    # and Debian's postgresql-contrib ship it; IF NOT EXISTS because it is
    # database-wide and another schema may have created it first.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    op.create_table(
        "categories",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("slug", sa.String(length=120, collation="C"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["catalog.categories.id"], name=op.f("fk_categories_parent_id_categories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("slug", name=op.f("uq_categories_slug")),
        schema="catalog",
    )
    op.create_index(
        op.f("ix_categories_parent_id"), "categories", ["parent_id"], unique=False, schema="catalog"
    )
    op.create_table(
        "product_categories",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["catalog.categories.id"],
            name=op.f("fk_product_categories_category_id_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["catalog.products.id"],
            name=op.f("fk_product_categories_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", "category_id", name=op.f("pk_product_categories")),
        schema="catalog",
    )
    op.create_index(
        "ix_product_categories_category_id_product_id",
        "product_categories",
        ["category_id", "product_id"],
        unique=False,
        schema="catalog",
    )
    op.create_table(
        "stock_levels",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_stock_levels")),
        schema="catalog",
    )
    op.create_table(
        "variant_prices",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_variant_prices_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["sku"], ["catalog.variants.sku"], name=op.f("fk_variant_prices_sku_variants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sku", "currency", name=op.f("pk_variant_prices")),
        schema="catalog",
    )
    op.create_table(
        "product_prices",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("from_amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["catalog.products.id"],
            name=op.f("fk_product_prices_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", "currency", name=op.f("pk_product_prices")),
        schema="catalog",
    )
    op.create_index(
        "ix_product_prices_currency_from_amount",
        "product_prices",
        ["currency", "from_amount", "product_id"],
        unique=False,
        schema="catalog",
    )

    op.add_column(
        "products", sa.Column("slug", sa.String(length=120, collation="C"), nullable=True), schema="catalog"
    )
    op.add_column("products", sa.Column("status", sa.String(length=16), nullable=True), schema="catalog")
    op.add_column(
        "products", sa.Column("published_at", sa.DateTime(timezone=True), nullable=True), schema="catalog"
    )
    op.add_column(
        "products",
        sa.Column(
            "facets", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False
        ),
        schema="catalog",
    )
    op.add_column(
        "products",
        sa.Column(
            "search", postgresql.TSVECTOR(), sa.Computed(SEARCH_DOCUMENT, persisted=True), nullable=False
        ),
        schema="catalog",
    )
    op.add_column(
        "variants",
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        schema="catalog",
    )

    # Backfill. Slugs come from names; a repeated name gets a suffix from its id,
    # which cannot collide with another derived slug.
    op.execute(
        """
        WITH derived AS (
            SELECT id,
                   coalesce(nullif(trim(BOTH '-' FROM left(
                       regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g'), 100)), ''), 'product') AS slug
            FROM catalog.products
        ), numbered AS (
            SELECT id, slug, row_number() OVER (PARTITION BY slug ORDER BY id) AS n FROM derived
        )
        UPDATE catalog.products AS p
        SET slug = CASE WHEN numbered.n = 1 THEN numbered.slug
                        ELSE numbered.slug || '-' || substr(md5(p.id::text), 1, 8) END,
            status = 'published',
            published_at = p.created_at
        FROM numbered
        WHERE numbered.id = p.id
        """
    )
    op.execute(
        """
        INSERT INTO catalog.variant_prices (sku, currency, amount, position)
        SELECT sku, price_currency, price_amount, 0 FROM catalog.variants
        """
    )
    op.execute(
        """
        INSERT INTO catalog.product_prices (product_id, currency, from_amount)
        SELECT product_id, price_currency, min(price_amount) FROM catalog.variants
        GROUP BY product_id, price_currency
        """
    )
    op.alter_column("products", "slug", nullable=False, schema="catalog")
    op.alter_column("products", "status", nullable=False, schema="catalog")
    op.create_unique_constraint(op.f("uq_products_slug"), "products", ["slug"], schema="catalog")
    op.create_check_constraint(
        op.f("ck_products_status_known"),
        "products",
        "status IN ('draft', 'published', 'archived')",
        schema="catalog",
    )
    # The new code writes prices to variant_prices only.
    op.alter_column("variants", "price_amount", nullable=True, schema="catalog")
    op.alter_column("variants", "price_currency", nullable=True, schema="catalog")

    op.create_index(
        "ix_products_facets", "products", ["facets"], unique=False, schema="catalog", postgresql_using="gin"
    )
    op.create_index(
        "ix_products_name_trgm",
        "products",
        ["name"],
        unique=False,
        schema="catalog",
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_products_published_id",
        "products",
        ["id"],
        unique=False,
        schema="catalog",
        postgresql_where=sa.text("status = 'published'"),
    )
    op.create_index(
        "ix_products_search", "products", ["search"], unique=False, schema="catalog", postgresql_using="gin"
    )


def downgrade() -> None:
    # Give every variant its base price back in the old columns (products created
    # since the upgrade only have it in variant_prices), then drop what 0002 added.
    op.execute(
        """
        UPDATE catalog.variants AS v
        SET price_amount = vp.amount, price_currency = vp.currency
        FROM catalog.variant_prices AS vp
        WHERE vp.sku = v.sku AND vp.position = 0 AND v.price_amount IS NULL
        """
    )
    op.alter_column("variants", "price_amount", nullable=False, schema="catalog")
    op.alter_column("variants", "price_currency", nullable=False, schema="catalog")
    op.drop_column("variants", "attributes", schema="catalog")
    op.drop_index("ix_products_search", table_name="products", schema="catalog")
    op.drop_index("ix_products_published_id", table_name="products", schema="catalog")
    op.drop_index("ix_products_name_trgm", table_name="products", schema="catalog")
    op.drop_index("ix_products_facets", table_name="products", schema="catalog")
    op.drop_constraint(op.f("ck_products_status_known"), "products", schema="catalog", type_="check")
    op.drop_constraint(op.f("uq_products_slug"), "products", schema="catalog", type_="unique")
    op.drop_column("products", "search", schema="catalog")
    op.drop_column("products", "facets", schema="catalog")
    op.drop_column("products", "published_at", schema="catalog")
    op.drop_column("products", "status", schema="catalog")
    op.drop_column("products", "slug", schema="catalog")
    op.drop_index("ix_product_prices_currency_from_amount", table_name="product_prices", schema="catalog")
    op.drop_table("product_prices", schema="catalog")
    op.drop_table("variant_prices", schema="catalog")
    op.drop_table("stock_levels", schema="catalog")
    op.drop_index(
        "ix_product_categories_category_id_product_id", table_name="product_categories", schema="catalog"
    )
    op.drop_table("product_categories", schema="catalog")
    op.drop_index(op.f("ix_categories_parent_id"), table_name="categories", schema="catalog")
    op.drop_table("categories", schema="catalog")
    # pg_trgm stays: it is database-wide and other schemas may rely on it.
