"""A demo catalog, bulk-loaded with COPY: for trying the API and for measuring it.

It writes the catalog's tables directly (no aggregates, no events): at 100,000
variants the domain path would spend minutes on what COPY does in seconds, and
the data is valid by construction. Consequently no ProductCreated is published
and other modules (inventory) do not learn the SKUs; the availability
projection is filled directly instead, as if inventory had reported.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orderly.modules.catalog.adapters.tables import metadata
from orderly.modules.catalog.domain.product import ProductStatus, facet
from orderly.modules.catalog.domain.slug import slugify
from orderly.shared_kernel.ids import new_id

ADJECTIVES = [
    "Classic",
    "Modern",
    "Rustic",
    "Compact",
    "Deluxe",
    "Everyday",
    "Vintage",
    "Nordic",
    "Urban",
    "Soft",
]
MATERIALS = ["ceramic", "stoneware", "steel", "glass", "bamboo", "copper", "linen", "cotton", "oak", "wool"]
NOUNS = [
    "mug", "teapot", "bowl", "kettle", "spoon", "ladle", "whisk", "colander", "plate", "jug",
    "towel", "apron", "blanket", "cushion", "lamp", "vase", "basket", "tray", "candle", "shelf",
]  # fmt: skip
SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
COLOURS = [
    "Red",
    "Blue",
    "Green",
    "Black",
    "White",
    "Grey",
    "Yellow",
    "Navy",
    "Olive",
    "Sand",
    "Plum",
    "Teal",
]
ROOTS = ["Kitchen", "Dining", "Bedroom", "Bathroom", "Garden", "Living room"]
CHILDREN = ["Essentials", "Premium", "Outlet"]
GRANDCHILDREN = ["New", "Bestsellers", "Gifts"]


@dataclass(frozen=True)
class SeedReport:
    products: int
    variants: int
    prices: int
    categories: int
    seconds: float


@dataclass
class _Rows:
    products: list[tuple[Any, ...]]
    variants: list[tuple[Any, ...]]
    variant_prices: list[tuple[Any, ...]]
    product_prices: list[tuple[Any, ...]]
    product_categories: list[tuple[Any, ...]]
    stock_levels: list[tuple[Any, ...]]


def _category_slug(name: str) -> str:
    # Prefixed, so the demo tree never takes a slug a shop's own category wants.
    return "demo-" + slugify(name, fallback="category")


def _category_rows(now: datetime) -> tuple[list[tuple[Any, ...]], list[uuid.UUID]]:
    rows: list[tuple[Any, ...]] = []
    leaves: list[uuid.UUID] = []
    for root in ROOTS:
        root_id = new_id()
        rows.append((root_id, None, _category_slug(root), root, 1, now))
        for child in CHILDREN:
            child_id = new_id()
            child_name = f"{root} {child}"
            rows.append((child_id, root_id, _category_slug(child_name), child_name, 1, now))
            for grandchild in GRANDCHILDREN:
                leaf_id = new_id()
                leaf_name = f"{child_name} {grandchild}"
                rows.append((leaf_id, child_id, _category_slug(leaf_name), leaf_name, 1, now))
                leaves.append(leaf_id)
    return rows, leaves


def _price(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(100, 50_000)) / 100


def _product_rows(
    rng: random.Random,
    rows: _Rows,
    *,
    n: int,
    tag: str,
    variants: int,
    leaves: Sequence[uuid.UUID],
    now: datetime,
) -> None:
    product_id = new_id()
    name = f"{rng.choice(ADJECTIVES)} {rng.choice(MATERIALS)} {rng.choice(NOUNS)}"
    description = (
        f"{name} from the demo catalog, item {n}. Made of {rng.choice(MATERIALS)}, "
        f"finished by hand, {rng.choice(['dishwasher safe', 'machine washable', 'wipe clean'])}."
    )
    roll = rng.random()
    status = (
        ProductStatus.PUBLISHED
        if roll < 0.9
        else ProductStatus.DRAFT
        if roll < 0.97
        else ProductStatus.ARCHIVED
    )
    created = now - timedelta(seconds=(10_000_000 - n))
    sizes = rng.sample(SIZES, 2)
    colours = rng.sample(COLOURS, max(1, (variants + 1) // 2))
    combos = [(s, c) for c in colours for s in sizes][:variants]
    currencies = ["EUR"] + [c for c, share in (("USD", 0.6), ("GBP", 0.3)) if rng.random() < share]
    lowest: dict[str, Decimal] = {}
    facets: set[str] = set()
    for position, (size, colour) in enumerate(combos):
        sku = f"{tag}-{n}-{position}"
        attributes = {"size": size, "colour": colour}
        facets |= {facet(k, v) for k, v in attributes.items()}
        rows.variants.append((sku, product_id, position, orjson.dumps(attributes).decode()))
        for price_position, currency in enumerate(currencies):
            amount = _price(rng)
            lowest[currency] = min(lowest.get(currency, amount), amount)
            rows.variant_prices.append((sku, currency, amount, price_position))
        if rng.random() < 0.85:
            available = rng.choice([0, 1, 2, 3, 8, 15, 40, 120])
            rows.stock_levels.append((sku, available + 1, 1, available, now, now))
    for currency, amount in lowest.items():
        rows.product_prices.append((product_id, currency, amount))
    for category in rng.sample(list(leaves), rng.randint(1, 2)):
        rows.product_categories.append((product_id, category))
    slug = f"{slugify(name, fallback='product')}-{tag.lower()}-{n}"
    published_at = created if status is not ProductStatus.DRAFT else None
    rows.products.append(
        (product_id, slug, name, description, status.value, 1, created, created, published_at, sorted(facets))
    )


async def _copy(
    conn: AsyncConnection, table: str, columns: Sequence[str], records: list[tuple[Any, ...]]
) -> None:
    if not records:
        return
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(table, schema_name="catalog", columns=list(columns), records=records)


async def _demo_leaves(
    conn: AsyncConnection, category_rows: list[tuple[Any, ...]], leaves: list[uuid.UUID]
) -> list[uuid.UUID]:
    """The demo tree's leaf ids: the ones of an earlier seeding, or a new tree."""
    slugs = [row[2] for row in category_rows]
    existing = {
        r.slug: r.id
        for r in await conn.execute(
            text("SELECT slug, id FROM catalog.categories WHERE slug = ANY(:slugs)"), {"slugs": slugs}
        )
    }
    if not existing:
        await _copy(
            conn, "categories", ["id", "parent_id", "slug", "name", "version", "created_at"], category_rows
        )
        return leaves
    if len(existing) != len(slugs):
        raise RuntimeError("part of the demo category tree is missing; seed again with --reset")
    leaf_ids = set(leaves)
    return [existing[row[2]] for row in category_rows if row[0] in leaf_ids]


async def seed_demo_catalog(
    engine: AsyncEngine, *, products: int, variants_per_product: int = 4, seed: int = 42, reset: bool = False
) -> SeedReport:
    """Load ``products`` products of ``variants_per_product`` variants each, in one transaction."""
    started = time.perf_counter()
    rng = random.Random(seed)
    now = datetime.now(UTC)
    tag = f"D{uuid.uuid4().hex[:6].upper()}"
    category_rows, leaves = _category_rows(now)
    # Category slugs are fixed names: a second seeding reuses the first one's tree.
    rows = _Rows([], [], [], [], [], [])
    async with engine.begin() as conn:
        if reset:
            tables = ", ".join(f'catalog."{t.name}"' for t in metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables}"))
        leaves = await _demo_leaves(conn, category_rows, leaves)
        for n in range(products):
            _product_rows(rng, rows, n=n, tag=tag, variants=variants_per_product, leaves=leaves, now=now)
        await _copy(
            conn,
            "products",
            [
                "id",
                "slug",
                "name",
                "description",
                "status",
                "version",
                "created_at",
                "updated_at",
                "published_at",
                "facets",
            ],
            rows.products,
        )
        await _copy(conn, "variants", ["sku", "product_id", "position", "attributes"], rows.variants)
        await _copy(conn, "variant_prices", ["sku", "currency", "amount", "position"], rows.variant_prices)
        await _copy(conn, "product_prices", ["product_id", "currency", "from_amount"], rows.product_prices)
        await _copy(conn, "product_categories", ["product_id", "category_id"], rows.product_categories)
        await _copy(
            conn,
            "stock_levels",
            ["sku", "on_hand", "reserved", "available", "as_of", "updated_at"],
            rows.stock_levels,
        )
    # Fresh statistics, or the planner keeps plans made for empty tables.
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in metadata.sorted_tables:
            await conn.execute(text(f'ANALYZE catalog."{table.name}"'))
    return SeedReport(
        products=len(rows.products),
        variants=len(rows.variants),
        prices=len(rows.variant_prices),
        categories=len(category_rows),
        seconds=round(time.perf_counter() - started, 2),
    )
