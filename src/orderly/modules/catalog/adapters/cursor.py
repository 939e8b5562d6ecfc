"""Opaque listing cursors: where a page ended, bound to the query that produced it.

A cursor is ``base64url(json) "." base64url(mac)``. The JSON holds the sort,
a fingerprint of the filters, the last row's sort value and id. The MAC is a
keyed BLAKE2b over the JSON: it makes an edited or truncated cursor fail with a
clear 4xx instead of silently starting somewhere else. Its key is not a secret
and need not be: a cursor only says where to resume a listing anyone may read,
and every filter is applied again on each request, so a forged cursor can
reach nothing a client could not list anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import uuid
from decimal import Decimal, InvalidOperation

import orjson

from orderly.modules.catalog.application.queries import PageKey, ProductFilter, SortOrder
from orderly.shared_kernel.errors import InvalidInput

_VERSION = 2
_MAC_KEY = b"orderly.catalog.listing-cursor.v2"
_MAC_BYTES = 12
MAX_CURSOR_LENGTH = 512


def fingerprint(product_filter: ProductFilter, sort: SortOrder) -> str:
    """A short digest of everything that decides a listing's rows and order (not its page size)."""
    f = product_filter
    canonical = {
        "sort": sort.value,
        "statuses": sorted(s.value for s in f.statuses),
        "category": f.category,
        "facets": sorted(f.facet_groups()),
        "currency": f.currency,
        "min": _canonical_decimal(f.price_min),
        "max": _canonical_decimal(f.price_max),
        "q": f.text,
    }
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _canonical_decimal(value: Decimal | None) -> str | None:
    # 10, 10.0 and 10.00 are one filter.
    return None if value is None else format(value.normalize(), "f")


def encode_cursor(key: PageKey, *, sort: SortOrder, query_fingerprint: str) -> str:
    value: str | None
    if key.value is None:
        value = None
    elif isinstance(key.value, float):
        value = key.value.hex()  # exact, unlike a decimal rendering
    else:
        value = str(key.value)
    payload = orjson.dumps(
        {"v": _VERSION, "s": sort.value, "f": query_fingerprint, "k": value, "i": str(key.product_id)}
    )
    return f"{_b64(payload)}.{_b64(_mac(payload))}"


def decode_cursor(cursor: str, *, sort: SortOrder, query_fingerprint: str) -> PageKey:
    """The position a cursor encodes; InvalidInput if it was altered or belongs to another query."""
    payload = _verified_payload(cursor)
    try:
        data = orjson.loads(payload)
        if not isinstance(data, dict) or data.get("v") != _VERSION:
            raise ValueError("unknown cursor version")
        cursor_sort, cursor_filter = str(data["s"]), str(data["f"])
        product_id = uuid.UUID(str(data["i"]))
        raw_value = data["k"]
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise _invalid() from None
    if cursor_sort != sort.value or cursor_filter != query_fingerprint:
        raise InvalidInput(
            "this cursor belongs to a listing with other filters or another sort; "
            "start again without a cursor",
            field="cursor",
            location="query",
        )
    return PageKey(product_id=product_id, value=_sort_value(sort, raw_value))


def _sort_value(sort: SortOrder, raw: object) -> Decimal | float | None:
    try:
        if sort in {SortOrder.OLDEST, SortOrder.NEWEST}:
            if raw is not None:
                raise ValueError("no sort value expected")
            return None
        if not isinstance(raw, str):
            raise TypeError("sort value must be a string")
        if sort is SortOrder.RELEVANCE:
            number = float.fromhex(raw)
            if not math.isfinite(number):
                raise ValueError("not finite")
            return number
        amount = Decimal(raw)
        if not amount.is_finite():
            raise ValueError("not finite")
        return amount
    except (ValueError, TypeError, InvalidOperation, OverflowError):
        raise _invalid() from None


def _verified_payload(cursor: str) -> bytes:
    if len(cursor) > MAX_CURSOR_LENGTH or cursor.count(".") != 1:
        raise _invalid()
    body, mac = cursor.split(".")
    try:
        payload, given = _unb64(body), _unb64(mac)
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise _invalid() from None
    if not hmac.compare_digest(given, _mac(payload)):
        raise _invalid()
    return payload


def _mac(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, key=_MAC_KEY, digest_size=_MAC_BYTES).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))


def _invalid() -> InvalidInput:
    return InvalidInput("the cursor is not one this API issued", field="cursor", location="query")
