"""The SQL of the catalog's reads, built once per query shape.

A listing's statement depends only on its *shape* (sort, which filters are
present, how many values each has, page size); the values travel as bound
parameters. Building a statement this size costs more Python than running it
costs PostgreSQL, so each shape is built once and kept (``lru_cache``); the
parameters are computed per request.

Every statement selects one page in a subquery (filters, keyset condition,
ORDER BY, LIMIT) and only then attaches the page's categories and variants
(prices, availability) as JSON, so the attachments cost grows with the page
size and never with the catalog. See docs/adr/0011-catalog-indexes.md.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Float,
    Select,
    String,
    Subquery,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    func,
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
from sqlalchemy.types import Uuid

from orderly.modules.catalog.adapters.tables import (
    AMOUNT_TYPE,
    categories,
    product_categories,
    product_prices,
    products,
    stock_levels,
    variant_prices,
    variants,
)
from orderly.modules.catalog.application.queries import ListingQuery, SortOrder
from orderly.modules.catalog.domain.product import ProductStatus

TEXT_SEARCH_CONFIG: ColumnElement[Any] = literal_column("'english'::regconfig")
ALL_STATUSES = frozenset(ProductStatus)
FLOAT8 = Float(precision=53)
PRICE_SORTS = frozenset({SortOrder.PRICE_ASC, SortOrder.PRICE_DESC})

_WORD = re.compile(r"\w+")
_SEARCH_SYNTAX = re.compile(r"\"|(^|\s)-|\bor\b", re.IGNORECASE)
MAX_FUZZY_WORDS = 8

PRODUCT_COLUMNS = (
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


def fuzzy_words(text: str) -> list[str]:
    """The words the trigram arm looks for; none when the query uses search syntax
    (phrases, exclusions, ``or``), whose meaning only full-text search keeps."""
    if _SEARCH_SYNTAX.search(text):
        return []
    # Two letters make too few trigrams to tell a typo from another word.
    return [w for w in _WORD.findall(text) if len(w) >= 3][:MAX_FUZZY_WORDS]


@dataclass(frozen=True)
class Shape:
    """Everything a listing statement's text depends on (never a value)."""

    sort: SortOrder
    limit: int
    statuses: bool = False
    category: bool = False
    facet_groups: tuple[int, ...] = ()
    text: bool = False
    fuzzy_words: int = 0
    price_min: bool = False
    price_max: bool = False
    after: bool = False


def listing(query: ListingQuery, category_ids: list[uuid.UUID] | None) -> tuple[Select[Any], dict[str, Any]]:
    """The statement for this query's shape and the parameters for its values."""
    f = query.filter
    params: dict[str, Any] = {}
    statuses = frozenset(f.statuses) != ALL_STATUSES
    if statuses:
        params["statuses"] = sorted(s.value for s in f.statuses)
    if category_ids is not None:
        params["category_ids"] = category_ids
    groups = f.facet_groups()
    for i, group in enumerate(groups):
        params[f"facets_{i}"] = group
    words = fuzzy_words(f.text) if f.text else []
    if f.text:
        params["q"] = f.text
        for i, word in enumerate(words):
            params[f"word_{i}"] = word
    priced = f.has_price_range or query.sort in PRICE_SORTS
    if priced:
        params["currency"] = f.currency
    if f.price_min is not None:
        params["price_min"] = f.price_min
    if f.price_max is not None:
        params["price_max"] = f.price_max
    if query.after is not None:
        params["after_id"] = query.after.product_id
        if query.sort not in {SortOrder.OLDEST, SortOrder.NEWEST}:
            params["after_value"] = query.after.value
    shape = Shape(
        sort=query.sort,
        limit=query.limit + 1,
        statuses=statuses,
        category=category_ids is not None,
        facet_groups=tuple(len(g) for g in groups),
        text=bool(f.text),
        fuzzy_words=len(words),
        price_min=f.price_min is not None,
        price_max=f.price_max is not None,
        after=query.after is not None,
    )
    return _listing_statement(shape), params


def _text_query() -> ColumnElement[Any]:
    return func.websearch_to_tsquery(TEXT_SEARCH_CONFIG, bindparam("q", type_=Text))


def _text_match(words: int) -> ColumnElement[bool]:
    # Full-text search finds words and their stems; the trigram arm finds names
    # with every word a typo away ("stonewear mugs" -> "Red stoneware mug").
    fts = products.c.search.op("@@")(_text_query())
    if not words:
        return fts
    # A union of two index scans: written as "fts OR fuzzy" the planner
    # underrates the trigram operator's cost and scans every product instead.
    matched = products.alias("matched")
    by_words = select(matched.c.id).where(matched.c.search.op("@@")(_text_query()))
    by_trigrams = select(matched.c.id).where(
        and_(*(matched.c.name.op("%>")(bindparam(f"word_{i}", type_=Text)) for i in range(words)))
    )
    return products.c.id.in_(union_all(by_words, by_trigrams))


def _relevance() -> ColumnElement[float]:
    rank = func.ts_rank_cd(products.c.search, _text_query()) + func.word_similarity(
        bindparam("q", type_=Text), products.c.name
    )
    # Keyset comparisons need the exact value handed out in the cursor: a
    # float8 round-trips through Python's float unchanged.
    return cast(rank, FLOAT8)


def _filters(shape: Shape) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if shape.statuses:
        conditions.append(products.c.status == any_(bindparam("statuses", type_=ARRAY(String))))
    if shape.category:
        in_categories = select(product_categories.c.product_id).where(
            product_categories.c.category_id == any_(bindparam("category_ids", type_=ARRAY(Uuid)))
        )
        conditions.append(products.c.id.in_(in_categories))
    for i, size in enumerate(shape.facet_groups):
        facets = bindparam(f"facets_{i}", type_=ARRAY(Text))
        # One value must be there (@>); of several, any one (&&). Both use the GIN index.
        conditions.append(
            products.c.facets.contains(facets) if size == 1 else products.c.facets.overlap(facets)
        )
    if shape.text:
        conditions.append(_text_match(shape.fuzzy_words))
    if shape.price_min:
        conditions.append(product_prices.c.from_amount >= bindparam("price_min", type_=AMOUNT_TYPE))
    if shape.price_max:
        conditions.append(product_prices.c.from_amount <= bindparam("price_max", type_=AMOUNT_TYPE))
    return conditions


def _after(sort: SortOrder, sort_value: ColumnElement[Any]) -> ColumnElement[bool]:
    after_id = bindparam("after_id", type_=Uuid)
    if sort is SortOrder.OLDEST:
        return products.c.id > after_id
    if sort is SortOrder.NEWEST:
        return products.c.id < after_id
    if sort in PRICE_SORTS:
        # Compared on product_prices' own columns, so the position is an index
        # condition on (currency, from_amount, product_id), not a filter.
        priced = tuple_(product_prices.c.from_amount, product_prices.c.product_id)
        position = tuple_(bindparam("after_value", type_=AMOUNT_TYPE), after_id)
        return priced > position if sort is SortOrder.PRICE_ASC else priced < position
    value = bindparam("after_value", type_=FLOAT8)
    return or_(sort_value < value, and_(sort_value == value, products.c.id > after_id))


def _order(sort: SortOrder, sort_value: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    if sort is SortOrder.OLDEST:
        return [products.c.id.asc()]
    if sort is SortOrder.NEWEST:
        return [products.c.id.desc()]
    if sort is SortOrder.PRICE_ASC:
        return [sort_value.asc(), product_prices.c.product_id.asc()]
    if sort is SortOrder.PRICE_DESC:
        return [sort_value.desc(), product_prices.c.product_id.desc()]
    return [sort_value.desc(), products.c.id.asc()]


def _outer_order(sort: SortOrder, page: Subquery) -> list[ColumnElement[Any]]:
    if sort is SortOrder.OLDEST:
        return [page.c.id.asc()]
    if sort is SortOrder.NEWEST:
        return [page.c.id.desc()]
    if sort is SortOrder.PRICE_ASC:
        return [page.c.sort_value.asc(), page.c.id.asc()]
    if sort is SortOrder.PRICE_DESC:
        return [page.c.sort_value.desc(), page.c.id.desc()]
    return [page.c.sort_value.desc(), page.c.id.asc()]


@lru_cache(maxsize=512)
def _listing_statement(shape: Shape) -> Select[Any]:
    sort = shape.sort
    sort_value: ColumnElement[Any]
    if sort in PRICE_SORTS:
        sort_value = product_prices.c.from_amount
    elif sort is SortOrder.RELEVANCE and shape.text:
        sort_value = _relevance()
    else:
        sort_value = null()
    statement = select(*PRODUCT_COLUMNS, sort_value.label("sort_value"))
    if sort in PRICE_SORTS or shape.price_min or shape.price_max:
        statement = statement.join(
            product_prices,
            and_(
                product_prices.c.product_id == products.c.id,
                product_prices.c.currency == bindparam("currency", type_=String),
            ),
        )
    conditions = _filters(shape)
    if shape.after:
        conditions.append(_after(sort, sort_value))
    page = (
        statement.where(and_(true(), *conditions))
        .order_by(*_order(sort, sort_value))
        .limit(shape.limit)
        .subquery("page")
    )
    return _attach_details(page, _outer_order(sort, page))


@lru_cache(maxsize=8)
def one_product(*, by_slug: bool, published_only: bool) -> Select[Any]:
    """One product by ``:product_id`` or ``:slug``."""
    condition = (
        products.c.slug == bindparam("slug", type_=String)
        if by_slug
        else products.c.id == bindparam("product_id", type_=Uuid)
    )
    inner = select(*PRODUCT_COLUMNS, null().label("sort_value")).where(condition)
    if published_only:
        inner = inner.where(products.c.status == ProductStatus.PUBLISHED.value)
    return _attach_details(inner.limit(1).subquery("page"), [])


@lru_cache(maxsize=2)
def category_subtree(*, by_id: bool) -> Select[Any]:
    """The category named by ``:reference`` (id or slug) and all its descendants."""
    start = (
        categories.c.id == bindparam("reference", type_=Uuid)
        if by_id
        else categories.c.slug == bindparam("reference", type_=String)
    )
    tree = (
        select(categories.c.id, literal_column("1").label("level")).where(start).cte("tree", recursive=True)
    )
    child = categories.alias("child")
    tree = tree.union_all(
        select(child.c.id, (tree.c.level + 1).label("level"))
        .join(tree, child.c.parent_id == tree.c.id)
        # A bound, in case a corrupted tree ever holds a cycle.
        .where(tree.c.level < 64)
    )
    return select(tree.c.id)


def _attach_details(page: Subquery, order: list[ColumnElement[Any]]) -> Select[Any]:
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
