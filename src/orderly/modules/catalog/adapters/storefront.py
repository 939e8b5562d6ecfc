"""The storefront's reads: published products only, served from the cache when it can.

Documents are cached as the exact response bytes, so a hit costs one Redis
round trip and no serialisation. Staff reads never come here (they must see
their own writes at once).
"""

from __future__ import annotations

import hashlib
import uuid

import orjson

from orderly.modules.catalog.adapters.cache import (
    CATEGORY_TREE_KEY,
    ReadCache,
    listing_key,
    product_key,
    slug_key,
)
from orderly.modules.catalog.adapters.cursor import encode_cursor, fingerprint
from orderly.modules.catalog.adapters.representation import page_json, product_json, tree_json
from orderly.modules.catalog.application.queries import ListingQuery, ProductQueries, category_tree


class StorefrontReads:
    def __init__(self, queries: ProductQueries, cache: ReadCache) -> None:
        self._queries = queries
        self._cache = cache

    async def product(self, product_id: uuid.UUID) -> bytes | None:
        key = product_key(product_id)
        if (cached := await self._cache.get(key)) is not None:
            return cached
        view = await self._queries.get(product_id, published_only=True)
        if view is None:
            return None
        document = product_json(view, staff=False)
        await self._cache.set(key, document, ttl_s=self._cache.product_ttl_s)
        return document

    async def product_by_slug(self, slug: str) -> bytes | None:
        # The slug maps to an id, and the id to the document, so a product is
        # cached once however it is reached. A mapping left behind by a slug
        # change points at a document with another slug: treated as a miss.
        mapped = await self._cache.get(slug_key(slug))
        if mapped is not None:
            document = await self._cache.get(product_key(mapped.decode()))
            if document is not None and _slug_in(document) == slug:
                return document
        view = await self._queries.get_by_slug(slug, published_only=True)
        if view is None:
            await self._cache.delete(slug_key(slug))
            return None
        document = product_json(view, staff=False)
        await self._cache.set(product_key(view.id), document, ttl_s=self._cache.product_ttl_s)
        await self._cache.set(slug_key(slug), str(view.id).encode(), ttl_s=self._cache.product_ttl_s)
        return document

    async def listing(self, query: ListingQuery, *, cursor: str | None) -> bytes:
        query_fingerprint = fingerprint(query.filter, query.sort)
        generation = await self._cache.listing_generation()
        key = None
        if generation is not None:
            digest = hashlib.sha256(f"{query_fingerprint}|{query.limit}|{cursor or ''}".encode()).hexdigest()
            key = listing_key(generation, digest[:32])
            if (cached := await self._cache.get(key)) is not None:
                return cached
        page = await self._queries.page(query)
        next_cursor = (
            encode_cursor(page.next_key, sort=query.sort, query_fingerprint=query_fingerprint)
            if page.next_key
            else None
        )
        document = page_json(page.items, next_cursor, staff=False)
        if key is not None:
            await self._cache.set(key, document, ttl_s=self._cache.listing_ttl_s)
        return document

    async def category_tree(self) -> bytes:
        if (cached := await self._cache.get(CATEGORY_TREE_KEY)) is not None:
            return cached
        document = tree_json(category_tree(await self._queries.categories()))
        await self._cache.set(CATEGORY_TREE_KEY, document, ttl_s=self._cache.listing_ttl_s)
        return document


def _slug_in(document: bytes) -> object:
    return orjson.loads(document).get("slug")
