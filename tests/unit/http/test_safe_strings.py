"""Strings that reach PostgreSQL: NUL is refused at the edge, everything else kept."""

from __future__ import annotations

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from orderly.platform.http.types import SafeStr

safe = TypeAdapter(SafeStr)


class TestSafeStr:
    @pytest.mark.parametrize("value", ["\x00", "Mug\x00", "\x00Mug", "a\x00b"])
    def test_a_nul_character_anywhere_is_refused(self, value: str) -> None:
        with pytest.raises(ValidationError, match="NUL"):
            safe.validate_python(value)

    @pytest.mark.parametrize("value", ["Mug", "", "Tasse à café ☕", "tab\tand\nnewline", "\x01"])
    def test_other_text_is_kept_unchanged(self, value: str) -> None:
        assert safe.validate_python(value) == value


class TestTheDocumentSaysSo:
    # Found by tests/e2e/test_api_contract.py: a NUL was refused with a 422
    # the document did not announce, so a "valid" refund reason was refused.
    def test_the_json_schema_excludes_nul(self) -> None:
        pattern = safe.json_schema()["pattern"]
        assert re.search(pattern, "Tasse à café ☕")
        assert not re.search(pattern, "a\x00b")
