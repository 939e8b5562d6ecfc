"""The catalog's tables, all in the ``catalog`` schema.

Indexes follow the read paths in docs/adr/0011-catalog-indexes.md; the
denormalised columns (``products.facets``, ``products.search``,
``product_prices``) exist so each listing filter and sort has one index to use.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR

from orderly.platform.db import module_metadata
from orderly.platform.inbox import inbox_table
from orderly.platform.outbox import outbox_table

metadata = module_metadata("catalog")

# Slugs are ASCII by construction; the C collation makes "slug LIKE 'mug-%'"
# a plain index range scan.
SLUG_TYPE = String(120, collation="C")
AMOUNT_TYPE = Numeric(20, 4)

# Weighted so a match in the name ranks above one in the description.
SEARCH_DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, (name)::text), 'A'::\"char\") || "
    "setweight(to_tsvector('english'::regconfig, description), 'B'::\"char\")"
)

products = Table(
    "products",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("slug", SLUG_TYPE, nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
    # "code=value" for every attribute value some variant offers.
    Column("facets", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("search", TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True), nullable=False),
    CheckConstraint("status IN ('draft', 'published', 'archived')", name="status_known"),
)
Index("ix_products_search", products.c.search, postgresql_using="gin")
Index(
    "ix_products_name_trgm",
    products.c.name,
    postgresql_using="gin",
    postgresql_ops={"name": "gin_trgm_ops"},
)
Index("ix_products_facets", products.c.facets, postgresql_using="gin")
Index(
    "ix_products_published_id",
    products.c.id,
    postgresql_where=products.c.status == "published",
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
    Column("attributes", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
)

variant_prices = Table(
    "variant_prices",
    metadata,
    Column("sku", String(64), ForeignKey("catalog.variants.sku", ondelete="CASCADE"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", AMOUNT_TYPE, nullable=False),
    # The first price (position 0) is the variant's base price.
    Column("position", SmallInteger, nullable=False),
    PrimaryKeyConstraint("sku", "currency"),
    CheckConstraint("amount >= 0", name="amount_not_negative"),
)

# The lowest variant price per product and currency, kept by the repository
# on every write: price filters and price sorts read it through one index.
product_prices = Table(
    "product_prices",
    metadata,
    Column("product_id", Uuid, ForeignKey("catalog.products.id", ondelete="CASCADE"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("from_amount", AMOUNT_TYPE, nullable=False),
    PrimaryKeyConstraint("product_id", "currency"),
)
Index(
    "ix_product_prices_currency_from_amount",
    product_prices.c.currency,
    product_prices.c.from_amount,
    product_prices.c.product_id,
)

categories = Table(
    "categories",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("parent_id", Uuid, ForeignKey("catalog.categories.id"), nullable=True, index=True),
    Column("slug", SLUG_TYPE, nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

product_categories = Table(
    "product_categories",
    metadata,
    Column("product_id", Uuid, ForeignKey("catalog.products.id", ondelete="CASCADE"), nullable=False),
    Column("category_id", Uuid, ForeignKey("catalog.categories.id"), nullable=False),
    PrimaryKeyConstraint("product_id", "category_id"),
)
Index(
    "ix_product_categories_category_id_product_id",
    product_categories.c.category_id,
    product_categories.c.product_id,
)

# Projection of inventory's StockLevelChanged: what the storefront shows as
# availability. Keyed by SKU with no foreign key, because inventory may report
# a SKU before or after the catalog writes it.
stock_levels = Table(
    "stock_levels",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
    Column("available", Integer, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
