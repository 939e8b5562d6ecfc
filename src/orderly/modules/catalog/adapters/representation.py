"""Views to JSON documents (the shapes in ``schemas``), built as plain dicts and
serialised with orjson: the read path's hottest code, and the bytes the cache keeps."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from orderly.modules.catalog.application.queries import (
    CategoryNode,
    CategoryView,
    PriceView,
    ProductView,
    VariantView,
)
from orderly.shared_kernel.money import minor_units


@lru_cache(maxsize=256)
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def _money(price: PriceView) -> dict[str, str]:
    # Stored amounts were validated on the way in; here they only get exactly the
    # currency's decimals ("12.5000" EUR -> "12.50"), without building a Money.
    return {"amount": str(price.amount.quantize(_quantum(price.currency))), "currency": price.currency}


def _variant(view: VariantView, *, staff: bool) -> dict[str, Any]:
    prices = [_money(p) for p in view.prices]
    document: dict[str, Any] = {
        "sku": view.sku,
        "attributes": view.attributes,
        "price": prices[0],
        "prices": prices,
        "availability": view.availability.value,
    }
    if staff:
        document["available"] = view.available
    return document


def product_document(view: ProductView, *, staff: bool) -> dict[str, Any]:
    return {
        "id": str(view.id),
        "slug": view.slug,
        "name": view.name,
        "description": view.description,
        "status": view.status.value,
        "version": view.version,
        "created_at": view.created_at.isoformat(),
        "updated_at": view.updated_at.isoformat(),
        "published_at": view.published_at.isoformat() if view.published_at else None,
        "category_ids": [str(c) for c in view.category_ids],
        "availability": view.availability.value,
        "variants": [_variant(v, staff=staff) for v in view.variants],
    }


def product_json(view: ProductView, *, staff: bool) -> bytes:
    return orjson.dumps(product_document(view, staff=staff))


def page_json(items: list[ProductView], next_cursor: str | None, *, staff: bool) -> bytes:
    return orjson.dumps(
        {"items": [product_document(v, staff=staff) for v in items], "next_cursor": next_cursor}
    )


def category_document(view: CategoryView) -> dict[str, Any]:
    return {
        "id": str(view.id),
        "slug": view.slug,
        "name": view.name,
        "parent_id": str(view.parent_id) if view.parent_id else None,
        "version": view.version,
    }


def _node(node: CategoryNode) -> dict[str, Any]:
    c = node.category
    return {"id": str(c.id), "slug": c.slug, "name": c.name, "children": [_node(n) for n in node.children]}


def tree_json(roots: list[CategoryNode]) -> bytes:
    return orjson.dumps({"items": [_node(n) for n in roots]})
