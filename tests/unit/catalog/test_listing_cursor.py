"""Listing cursors: opaque, exact, tied to the query that issued them, refused when altered."""

from __future__ import annotations

import base64
import uuid
from decimal import Decimal

import pytest

from orderly.modules.catalog.adapters.cursor import decode_cursor, encode_cursor, fingerprint
from orderly.modules.catalog.application.queries import PageKey, ProductFilter, SortOrder
from orderly.shared_kernel.errors import InvalidInput

EUR = ProductFilter(currency="EUR")


def _round_trip(key: PageKey, sort: SortOrder, product_filter: ProductFilter = EUR) -> PageKey:
    digest = fingerprint(product_filter, sort)
    return decode_cursor(
        encode_cursor(key, sort=sort, query_fingerprint=digest), sort=sort, query_fingerprint=digest
    )


class TestRoundTrip:
    def test_a_price_position_comes_back_exactly(self) -> None:
        key = PageKey(product_id=uuid.uuid4(), value=Decimal("12.5000"))
        assert _round_trip(key, SortOrder.PRICE_ASC) == key

    def test_a_relevance_position_comes_back_to_the_last_bit(self) -> None:
        key = PageKey(product_id=uuid.uuid4(), value=0.1 + 0.2)
        assert _round_trip(key, SortOrder.RELEVANCE, ProductFilter(text="mug")) == key

    def test_an_id_position_has_no_sort_value(self) -> None:
        key = PageKey(product_id=uuid.uuid4())
        assert _round_trip(key, SortOrder.NEWEST) == key


def _issued(sort: SortOrder = SortOrder.PRICE_ASC, product_filter: ProductFilter = EUR) -> str:
    key = PageKey(product_id=uuid.uuid4(), value=Decimal("10"))
    return encode_cursor(key, sort=sort, query_fingerprint=fingerprint(product_filter, sort))


def _flip(cursor: str, index: int) -> str:
    body, mac = cursor.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode() + "." + mac


class TestTamperedCursors:
    @pytest.mark.parametrize("index", [0, 5, 20, 40, -3])
    def test_any_flipped_bit_is_refused(self, index: int) -> None:
        with pytest.raises(InvalidInput, match="not one this API issued") as refused:
            decode_cursor(
                _flip(_issued(), index),
                sort=SortOrder.PRICE_ASC,
                query_fingerprint=fingerprint(EUR, SortOrder.PRICE_ASC),
            )
        assert refused.value.details == {"field": "cursor", "location": "query"}

    @pytest.mark.parametrize(
        "cursor", ["", "garbage", "a.b.c", "é.é", _issued()[:-2], _issued() + "A", "." * 3]
    )
    def test_a_malformed_cursor_is_refused(self, cursor: str) -> None:
        with pytest.raises(InvalidInput, match="not one this API issued"):
            decode_cursor(
                cursor, sort=SortOrder.PRICE_ASC, query_fingerprint=fingerprint(EUR, SortOrder.PRICE_ASC)
            )


class TestCursorsBelongToTheirQuery:
    def test_a_cursor_from_another_sort_is_refused(self) -> None:
        with pytest.raises(InvalidInput, match="another sort"):
            decode_cursor(
                _issued(SortOrder.PRICE_ASC),
                sort=SortOrder.PRICE_DESC,
                query_fingerprint=fingerprint(EUR, SortOrder.PRICE_DESC),
            )

    def test_a_cursor_from_other_filters_is_refused(self) -> None:
        other = ProductFilter(currency="EUR", price_max=Decimal("50"))
        with pytest.raises(InvalidInput, match="other filters"):
            decode_cursor(
                _issued(), sort=SortOrder.PRICE_ASC, query_fingerprint=fingerprint(other, SortOrder.PRICE_ASC)
            )

    def test_equal_filters_written_differently_share_cursors(self) -> None:
        a = ProductFilter(currency="EUR", price_min=Decimal("10"), attributes=(("size", ("M", "L")),))
        b = ProductFilter(currency="EUR", price_min=Decimal("10.00"), attributes=(("size", ("l", "m")),))
        assert fingerprint(a, SortOrder.OLDEST) == fingerprint(b, SortOrder.OLDEST)
