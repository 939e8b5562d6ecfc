"""Keyset cursors: what the API issues comes back intact; anything else is refused."""

from __future__ import annotations

import base64

import orjson
import pytest

from orderly.platform.http.pagination import decode_cursor, encode_cursor
from orderly.shared_kernel.errors import InvalidInput
from orderly.shared_kernel.ids import new_id


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TestCursorRoundTrip:
    def test_an_issued_cursor_decodes_to_the_id_it_was_made_from(self) -> None:
        last_id = new_id()
        cursor = encode_cursor(last_id)
        assert decode_cursor(cursor) == last_id

    def test_a_cursor_is_url_safe(self) -> None:
        cursor = encode_cursor(new_id())
        assert cursor.replace("-", "").replace("_", "").isalnum()


class TestTamperedCursors:
    @pytest.mark.parametrize(
        "cursor",
        [
            pytest.param("%%%", id="not-base64"),
            pytest.param("é" * 8, id="not-ascii"),
            pytest.param(_b64(b"not json"), id="not-json"),
            pytest.param(_b64(b"[1, 2]"), id="json-list"),
            pytest.param(_b64(orjson.dumps({"v": 2, "after": str(new_id())})), id="unknown-version"),
            pytest.param(_b64(orjson.dumps({"v": 1})), id="no-position"),
            pytest.param(_b64(orjson.dumps({"v": 1, "after": "1 OR 1=1"})), id="position-not-a-uuid"),
            pytest.param(_b64(orjson.dumps({"v": 1, "after": 12})), id="position-a-number"),
            pytest.param(_b64(b"[" * 5000), id="deep-nesting"),
            pytest.param(encode_cursor(new_id())[:-6], id="truncated"),
        ],
    )
    def test_a_cursor_this_api_did_not_issue_is_refused_naming_the_query_parameter(self, cursor: str) -> None:
        with pytest.raises(InvalidInput) as refused:
            decode_cursor(cursor)
        assert refused.value.details == {"field": "cursor", "location": "query"}
