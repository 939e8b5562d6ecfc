"""Read side: product views and listing pages, each in one query (plus one to resolve a
category filter), whatever the page size.

A page is selected first (filters, sort, keyset condition, LIMIT) in a
subquery; only its rows then get their variants, prices, availability and
categories attached, as JSON built by PostgreSQL, so the cost of the
attachments grows with the page size and never with the catalog.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Float,
    Row,
    Select,
    Subquery,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.types import Uuid

from orderly.modules.catalog.adapters.tables import (
    categories,
    product_categories,
    product_prices,
    products,
    stock_levels,
    variant_prices,
    variants,
)
from orderly.modules.catalog.application.queries import (
    CategoryView,
    ListingQuery,
    PageKey,
    PriceView,
    ProductFilter,
    ProductPage,
    ProductView,
    SortOrder,
    VariantView,
)
from orderly.modules.catalog.domain.errors import UnknownCategory
from orderly.modules.catalog.domain.product import ProductStatus

TEXT_SEARCH_CONFIG: ColumnElement[Any] = literal_column("'english'::regconfig")
ALL_STATUSES = frozenset(ProductStatus)

_PRODUCT_COLUMNS = (
    products.c.id,
    products.c.slug,
    products.c.name,
    products.c.description,
    products.c.status,
    products.c.version,
    products.c.created_at,
    products.c.updated_at,
    products.c.published_at,
)


class SqlProductQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, product_id: uuid.UUID, *, published_only: bool) -> ProductView | None:
        return await self._one(products.c.id == product_id, published_only=published_only)

    async def get_by_slug(self, slug: str, *, published_only: bool) -> ProductView | None:
        return await self._one(products.c.slug == slug, published_only=published_only)

    async def page(self, query: ListingQuery) -> ProductPage:
        async with self._engine.connect() as conn:
            category_ids = None
            if query.filter.category is not None:
                category_ids = await _category_subtree(conn, query.filter.category)
            inner = _page_select(query, category_ids).subquery("page")
            rows = (await conn.execute(_attach_details(inner, _outer_order(query.sort, inner)))).all()
        has_more = len(rows) > query.limit
        rows = rows[: query.limit]
        next_key = PageKey(product_id=rows[-1].id, value=rows[-1].sort_value) if has_more else None
        return ProductPage(items=[_view(r) for r in rows], next_key=next_key)

    async def categories(self) -> list[CategoryView]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(categories).order_by(categories.c.name, categories.c.id))
            return [_category(r) for r in rows]

    async def category(self, category_id: uuid.UUID) -> CategoryView | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(categories).where(categories.c.id == category_id))).one_or_none()
        return None if row is None else _category(row)

    async def _one(self, condition: ColumnElement[bool], *, published_only: bool) -> ProductView | None:
        inner = select(*_PRODUCT_COLUMNS, null().label("sort_value")).where(condition)
        if published_only:
            inner = inner.where(products.c.status == ProductStatus.PUBLISHED.value)
        page = inner.limit(1).subquery("page")
        async with self._engine.connect() as conn:
            row = (await conn.execute(_attach_details(page, []))).one_or_none()
        return None if row is None else _view(row)


async def _category_subtree(conn: AsyncConnection, reference: str) -> list[uuid.UUID]:
    """The category named by slug or id and all its descendants."""
    try:
        start = categories.c.id == uuid.UUID(reference)
    except ValueError:
        start = categories.c.slug == reference
    tree = (
        select(categories.c.id, literal_column("1").label("level")).where(start).cte("tree", recursive=True)
    )
    child = categories.alias("child")
    tree = tree.union_all(
        select(child.c.id, (tree.c.level + 1).label("level"))
        .join(tree, child.c.parent_id == tree.c.id)
        .where(tree.c.level < 64)
    )
    ids = list(await conn.scalars(select(tree.c.id)))
    if not ids:
        raise UnknownCategory(reference, field="category", location="query")
    return ids


def _text_query(text: str) -> ColumnElement[Any]:
    return func.websearch_to_tsquery(TEXT_SEARCH_CONFIG, bindparam("q", text, type_=Text))


_WORD = re.compile(r"\w+")
_SEARCH_SYNTAX = re.compile(r"\"|(^|\s)-|\bor\b", re.IGNORECASE)
MAX_FUZZY_WORDS = 8


def _fuzzy_words(text: str) -> list[str]:
    """The words the trigram arm looks for; none when the query uses search syntax
    (phrases, exclusions, ``or``), whose meaning only full-text search keeps."""
    if _SEARCH_SYNTAX.search(text):
        return []
    # Two letters make too few trigrams to tell a typo from another word.
    return [w for w in _WORD.findall(text) if len(w) >= 3][:MAX_FUZZY_WORDS]


def _text_match(text: str) -> ColumnElement[bool]:
    # Full-text search finds words and their stems; the trigram arm finds names
    # with every word a typo away ("stonewear mugs" -> "Red stoneware mug").
    fts = products.c.search.op("@@")(_text_query(text))
    words = _fuzzy_words(text)
    if not words:
        return fts
    # Written as a union of two index scans: as "fts OR fuzzy" the planner
    # underrates the trigram operator's cost and scans every product instead.
    matched = products.alias("matched")
    by_words = select(matched.c.id).where(matched.c.search.op("@@")(_text_query(text)))
    by_trigrams = select(matched.c.id).where(
        and_(*(matched.c.name.op("%>")(literal(word, Text)) for word in words))
    )
    return products.c.id.in_(union_all(by_words, by_trigrams))


def _relevance(text: str) -> ColumnElement[float]:
    rank = func.ts_rank_cd(products.c.search, _text_query(text)) + func.word_similarity(
        literal(text, Text), products.c.name
    )
    # Keyset comparisons need the exact value handed out in the cursor: a
    # float8 round-trips through Python's float unchanged.
    return cast(rank, Float(precision=53))


def _filters(f: ProductFilter, category_ids: Sequence[uuid.UUID] | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if frozenset(f.statuses) != ALL_STATUSES:
        conditions.append(products.c.status.in_([s.value for s in f.statuses]))
    if category_ids is not None:
        in_categories = select(product_categories.c.product_id).where(
            product_categories.c.category_id
            == any_(bindparam("category_ids", list(category_ids), type_=ARRAY(Uuid)))
        )
        conditions.append(products.c.id.in_(in_categories))
    for group in f.facet_groups():
        facets = bindparam(None, group, type_=ARRAY(Text))
        conditions.append(
            products.c.facets.contains(facets) if len(group) == 1 else products.c.facets.overlap(facets)
        )
    if f.text:
        conditions.append(_text_match(f.text))
    if f.price_min is not None:
        conditions.append(product_prices.c.from_amount >= f.price_min)
    if f.price_max is not None:
        conditions.append(product_prices.c.from_amount <= f.price_max)
    return conditions


def _page_select(query: ListingQuery, category_ids: Sequence[uuid.UUID] | None) -> Select[Any]:
    f, sort, after = query.filter, query.sort, query.after
    priced = f.has_price_range or sort in {SortOrder.PRICE_ASC, SortOrder.PRICE_DESC}
    sort_value: ColumnElement[Any]
    if sort in {SortOrder.PRICE_ASC, SortOrder.PRICE_DESC}:
        sort_value = product_prices.c.from_amount
    elif sort is SortOrder.RELEVANCE and f.text:
        sort_value = _relevance(f.text)
    else:
        sort_value = null()
    statement = select(*_PRODUCT_COLUMNS, sort_value.label("sort_value"))
    if priced:
        statement = statement.join(
            product_prices,
            and_(product_prices.c.product_id == products.c.id, product_prices.c.currency == f.currency),
        )
    conditions = _filters(f, category_ids)
    if after is not None:
        conditions.append(_after(sort, sort_value, after))
    return (
        statement.where(and_(true(), *conditions)).order_by(*_order(sort, sort_value)).limit(query.limit + 1)
    )


def _after(sort: SortOrder, sort_value: ColumnElement[Any], key: PageKey) -> ColumnElement[bool]:
    pid = products.c.id
    if sort is SortOrder.OLDEST:
        return pid > key.product_id
    if sort is SortOrder.NEWEST:
        return pid < key.product_id
    # Price keys compare on product_prices' own columns, so the position is an
    # index condition on (currency, from_amount, product_id), not a filter.
    priced = tuple_(product_prices.c.from_amount, product_prices.c.product_id)
    position = tuple_(literal(key.value, product_prices.c.from_amount.type), literal(key.product_id))
    if sort is SortOrder.PRICE_ASC:
        return priced > position
    if sort is SortOrder.PRICE_DESC:
        return priced < position
    value = literal(key.value, Float(precision=53))
    return or_(sort_value < value, and_(sort_value == value, pid > key.product_id))


def _order(sort: SortOrder, sort_value: ColumnElement[Any]) -> Sequence[ColumnElement[Any]]:
    pid = products.c.id
    return {
        SortOrder.OLDEST: [pid.asc()],
        SortOrder.NEWEST: [pid.desc()],
        SortOrder.PRICE_ASC: [sort_value.asc(), product_prices.c.product_id.asc()],
        SortOrder.PRICE_DESC: [sort_value.desc(), product_prices.c.product_id.desc()],
        SortOrder.RELEVANCE: [sort_value.desc(), pid.asc()],
    }[sort]


def _outer_order(sort: SortOrder, page: Subquery) -> Sequence[ColumnElement[Any]]:
    return {
        SortOrder.OLDEST: [page.c.id.asc()],
        SortOrder.NEWEST: [page.c.id.desc()],
        SortOrder.PRICE_ASC: [page.c.sort_value.asc(), page.c.id.asc()],
        SortOrder.PRICE_DESC: [page.c.sort_value.desc(), page.c.id.desc()],
        SortOrder.RELEVANCE: [page.c.sort_value.desc(), page.c.id.asc()],
    }[sort]


def _attach_details(page: Subquery, order: Sequence[ColumnElement[Any]]) -> Select[Any]:
    """The page's rows with their categories and variants (prices, stock) as JSON."""
    category_ids = func.array(
        select(product_categories.c.category_id)
        .where(product_categories.c.product_id == page.c.id)
        .order_by(product_categories.c.category_id)
        .scalar_subquery()
    )
    prices = (
        select(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_array(variant_prices.c.currency, cast(variant_prices.c.amount, Text)),
                    variant_prices.c.position,
                )
            )
        )
        .where(variant_prices.c.sku == variants.c.sku)
        .scalar_subquery()
    )
    variant_json = (
        select(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_object(
                        "sku",
                        variants.c.sku,
                        "attributes",
                        variants.c.attributes,
                        "available",
                        stock_levels.c.available,
                        "prices",
                        prices,
                    ),
                    variants.c.position,
                )
            )
        )
        .select_from(variants.outerjoin(stock_levels, stock_levels.c.sku == variants.c.sku))
        .where(variants.c.product_id == page.c.id)
        .scalar_subquery()
    )
    return select(
        page,
        type_coerce(category_ids, ARRAY(Uuid)).label("category_ids"),
        type_coerce(variant_json, JSON).label("variants_json"),
    ).order_by(*order)


def _view(row: Row[Any]) -> ProductView:
    return ProductView(
        id=row.id,
        slug=row.slug,
        name=row.name,
        description=row.description,
        status=ProductStatus(row.status),
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        published_at=row.published_at,
        category_ids=list(row.category_ids or []),
        variants=[
            VariantView(
                sku=v["sku"],
                attributes=v["attributes"] or {},
                prices=[
                    PriceView(amount=Decimal(amount), currency=currency) for currency, amount in v["prices"]
                ],
                available=v["available"],
            )
            for v in row.variants_json or []
        ],
    )


def _category(row: Row[Any]) -> CategoryView:
    return CategoryView(id=row.id, slug=row.slug, name=row.name, parent_id=row.parent_id, version=row.version)
