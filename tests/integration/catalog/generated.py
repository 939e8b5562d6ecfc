"""Seeded random catalogs for the listing oracle, and the oracle itself."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from orderly.modules.catalog.application.commands import (
    ArchiveProduct,
    CreateCategory,
    CreateProduct,
    NewPrice,
    NewVariant,
)
from orderly.modules.catalog.application.handlers import (
    archive_product,
    create_category,
    create_product,
)
from orderly.modules.catalog.application.queries import ProductFilter, SortOrder
from orderly.modules.catalog.module import CatalogModule

NOUNS = ["mug", "teapot", "bowl", "kettle", "spoon", "ladle", "whisk", "colander"]
MATERIALS = ["ceramic", "steel", "glass", "bamboo", "copper"]
SIZES = ["S", "M", "L", "XL"]
COLOURS = ["Red", "Blue", "Green", "Black"]
# Few distinct prices, so sorts meet many ties that only the id breaks.
EUR_PRICES = [Decimal(p) for p in ("4.99", "9.99", "9.99", "12.50", "19.00", "25.00", "49.95")]


@dataclass
class Expected:
    """What the oracle knows about one product."""

    id: uuid.UUID
    status: str
    words: set[str]
    categories: set[uuid.UUID]
    facets: set[str]
    from_price: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class GeneratedCatalog:
    products: list[Expected]
    # category -> itself and every descendant
    subtrees: dict[uuid.UUID, set[uuid.UUID]]
    category_slugs: dict[uuid.UUID, str]


async def _categories(
    catalog: CatalogModule, rng: random.Random
) -> tuple[dict[uuid.UUID, set[uuid.UUID]], dict[uuid.UUID, str]]:
    parents: dict[uuid.UUID, uuid.UUID | None] = {}
    slugs: dict[uuid.UUID, str] = {}
    for root in ("Kitchen", "Dining", "Garden"):
        root_id = await create_category(CreateCategory(name=root), uow=catalog.unit_of_work())
        parents[root_id], slugs[root_id] = None, root.lower()
        for child in range(2):
            name = f"{root} {child}"
            child_id = await create_category(
                CreateCategory(name=name, parent_id=root_id), uow=catalog.unit_of_work()
            )
            parents[child_id], slugs[child_id] = root_id, name.lower().replace(" ", "-")
            if rng.random() < 0.5:
                leaf = f"{name} leaf"
                leaf_id = await create_category(
                    CreateCategory(name=leaf, parent_id=child_id), uow=catalog.unit_of_work()
                )
                parents[leaf_id], slugs[leaf_id] = child_id, leaf.lower().replace(" ", "-")
    subtrees: dict[uuid.UUID, set[uuid.UUID]] = {c: {c} for c in parents}
    for category in parents:
        ancestor = parents[category]
        while ancestor is not None:
            subtrees[ancestor].add(category)
            ancestor = parents[ancestor]
    return subtrees, slugs


async def generate(catalog: CatalogModule, *, seed: int, products: int) -> GeneratedCatalog:
    rng = random.Random(seed)
    subtrees, slugs = await _categories(catalog, rng)
    category_ids = list(subtrees)
    expected: list[Expected] = []
    for n in range(products):
        noun, material, colour_word = rng.choice(NOUNS), rng.choice(MATERIALS), rng.choice(COLOURS).lower()
        name = f"{colour_word.title()} {material} {noun}"
        description = f"A {material} {noun}, number {n}."
        sizes = rng.sample(SIZES, rng.randint(1, 3))
        with_colour = rng.random() < 0.5
        colours = rng.sample(COLOURS, 2) if with_colour else [None]
        variants: list[NewVariant] = []
        facets: set[str] = set()
        from_price: dict[str, Decimal] = {}
        for i, (size, colour) in enumerate((s, c) for s in sizes for c in colours):
            attributes = {"size": size} | ({"colour": colour} if colour else {})
            facets |= {f"{k}={v.lower()}" for k, v in attributes.items()}
            prices = [NewPrice(amount=rng.choice(EUR_PRICES), currency="EUR")]
            if n % 2 == 0:
                prices.append(NewPrice(amount=Decimal(rng.randint(100, 9000)) / 100, currency="USD"))
            for price in prices:
                current = from_price.get(price.currency)
                from_price[price.currency] = price.amount if current is None else min(current, price.amount)
            variants.append(NewVariant(sku=f"G{seed}-{n}-{i}", prices=tuple(prices), attributes=attributes))
        chosen = tuple(rng.sample(category_ids, rng.randint(0, 2)))
        roll = rng.random()
        status = "published" if roll < 0.75 else ("draft" if roll < 0.9 else "archived")
        product_id = await create_product(
            CreateProduct(
                name=name,
                description=description,
                variants=tuple(variants),
                category_ids=chosen,
                publish=status != "draft",
            ),
            uow=catalog.unit_of_work(),
        )
        if status == "archived":
            await archive_product(ArchiveProduct(product_id=product_id), uow=catalog.unit_of_work())
        expected.append(
            Expected(
                id=product_id,
                status=status,
                words={w.strip(",.").lower() for w in f"{name} {description}".split()},
                categories=set(chosen),
                facets=facets,
                from_price=from_price,
            )
        )
    return GeneratedCatalog(products=expected, subtrees=subtrees, category_slugs=slugs)


def oracle(data: GeneratedCatalog, product_filter: ProductFilter, sort: SortOrder) -> list[uuid.UUID]:
    """The ids a listing must return, in order, computed by brute force in Python.

    Text filters match whole words here; relevance order is PostgreSQL's, so for
    a relevance sort only the set is predicted (the caller sorts both sides).
    """
    f = product_filter
    statuses = {s.value for s in f.statuses}
    subtree: set[uuid.UUID] | None = None
    if f.category is not None:
        root = next(c for c, slug in data.category_slugs.items() if slug == f.category)
        subtree = data.subtrees[root]
    rows = []
    for p in data.products:
        if p.status not in statuses:
            continue
        if subtree is not None and not p.categories & subtree:
            continue
        if any(not p.facets & set(group) for group in f.facet_groups()):
            continue
        if f.text is not None and f.text.lower() not in p.words:
            continue
        price = p.from_price.get(f.currency) if f.currency else None
        needs_price = f.has_price_range or sort in {SortOrder.PRICE_ASC, SortOrder.PRICE_DESC}
        if needs_price and price is None:
            continue
        if f.price_min is not None and price is not None and price < f.price_min:
            continue
        if f.price_max is not None and price is not None and price > f.price_max:
            continue
        rows.append((price, p.id))
    if sort is SortOrder.PRICE_ASC:
        rows.sort(key=lambda r: (r[0], r[1]))
    elif sort is SortOrder.PRICE_DESC:
        rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
    elif sort is SortOrder.NEWEST:
        rows.sort(key=lambda r: r[1], reverse=True)
    else:
        rows.sort(key=lambda r: r[1])
    return [product_id for _, product_id in rows]
